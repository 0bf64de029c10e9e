// The amx level's matmul kernels for BF16 at every batch size and the block-scaled
// types (Q8_0, Q4_0, Q5_0, Q4_1, Q5_1) from 16 tokens: y = x Wᵀ on the tile unit. Their smaller
// batches go to matmul_vnni_gemv.cpp, which gives the same bits; the K-quants have
// their own tile kernel (matmul_amx_k_quant.cpp). Every function that uses the intrinsics carries
// the target attribute; called only after active_kernel_isa() said Amx.
//
// Why one arithmetic at every batch: a row's result then never depends on the batch
// it came in, so a request recomputed after preemption keeps its tokens, and the
// level can be the default on CPUs that have it. Prefill is compute-bound, and one
// tile product does 16 x 16 x 32 multiply-adds where an AVX-512 instruction does
// 16 x 4.
//
// Orientation: the weights are the A operand (16 weight rows x 32 values, row-major:
// a weight row's values are already contiguous, so BF16 rows load straight from the
// matrix, the block-scaled types' int8 values from a decoded panel of 16 rows x 1024 values), the
// activations the B operand (the unit's "VNNI" layout: row p holds, for each token,
// values 4p..4p+3 (int8) or 2p, 2p+1 (bf16)), and C is 16 weight rows x up to 16
// tokens. BF16 batches of m < 16 tokens use tiles m tokens wide.
//
// The arithmetic, per output element (weight row n, token t):
//  * BF16: x rounded to bf16; tdpbf16ps sums the pairs of each 32 values in order
//    into the f32 C element, from k = 0 to the end.
//  * Q8_0, Q4_0, Q5_0, Q4_1, Q5_1: int8_block_arithmetic.h (exact integer block sums
//    from the tiles, then one fma per block in block order, two with an offset).
#include "helix/kernels/matmul_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "helix/core/error.h"
#include "helix/kernels/scratch.h"

#if defined(__x86_64__)
// See matmul_avx512.cpp: GCC 12's AVX-512 headers trip -Wuninitialized on their
// own undefined-vector helpers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "helix/kernels/int8_block_arithmetic.h"
#include "helix/kernels/int8_block_weights.h"
#include "helix/kernels/amx_tiles.h"
#include "helix/kernels/bf16_round_avx512.h"

namespace helix::kernels_detail {
namespace {

constexpr std::int64_t kBlockValues = 32;     // values per 32-value block of x
constexpr std::int64_t kChunkValues = 1024;   // int8 panel: values of 16 rows decoded at once (L1)
constexpr int kTileBytes = 1024;              // one 16 x 64-byte tile


// Writes C (16 weight rows x `tokens`, row-major in `c`) to y[t * ldy + n] for the
// valid rows and tokens: a token's 16 rows gathered from C's column, stored as one
// vector.
HELIX_AMX void store_transposed(const float* c, int tokens, int rows_here, int tokens_here, float* y,
                                std::int64_t ldy) {
  const __mmask16 rows = static_cast<__mmask16>((1u << rows_here) - 1);
  const __m512i column = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(tokens));
  for (int t = 0; t < tokens_here; ++t)
    _mm512_mask_storeu_ps(y + t * ldy, rows, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), rows, column, c + t, 4));
}

// ---- The block-scaled types (Q8_0, Q4_0, Q5_0, Q4_1, Q5_1) ------------------------------

// The chunk decoded after this one (rows r0.., values [k0, k_end)), whose bytes each
// row's decode fetches ahead: the decode reads 16 rows' short runs (1024 values)
// one after another, so the next runs' lines are on their way meanwhile. (Its effect
// on prefill was not measured apart.)
struct Ahead {
  std::int64_t r0 = 0;
  std::size_t begin = 0, end = 0;  // bytes of each row
  Ahead(const WeightMatrix& w, std::int64_t rows_from, std::int64_t k0, std::int64_t k_end)
      : r0(rows_from), begin(dtype_row_bytes(w.dtype, k0)), end(dtype_row_bytes(w.dtype, k_end)) {}
};

HELIX_AMX inline void fetch_ahead(const WeightMatrix& w, const Ahead& ahead, int n) {
  if (ahead.r0 + n >= w.rows) return;
  const std::byte* row = w.row(ahead.r0 + n);
  for (std::size_t at = ahead.begin; at < ahead.end; at += 64)
    _mm_prefetch(reinterpret_cast<const char*>(row + at), _MM_HINT_T0);
}

// Rows r0.. (zero past rows_here), blocks [k0 / 32, + blocks), into the panel: the
// int8 values as the VNNI kernels' reader decodes them (int8_block_weights.h: Q8_0's
// as they are), then the scales, after the values were read, so that their lines are
// in L1.
template <DType Type>
HELIX_AMX HELIX_OWN_CODE void decode_blocks(const WeightMatrix& w, std::int64_t r0, int rows_here, std::int64_t k0,
                                            std::int64_t blocks, const Ahead& ahead, const Panel& p) {
  const auto quants = reader<BlockScaledQuants<Type>>(make_row_group(w, r0, 1, rows_here, &p, k0 / 32));
  const std::int64_t k_end = k0 + blocks * 32;
  for (int n = 0; n < kTileRows; ++n) {
    fetch_ahead(w, ahead, n);
    std::uint8_t* q = p.q + n * kChunkValues;
    if (n >= rows_here) {
      std::memset(q, 0, static_cast<std::size_t>(blocks * 32));
      continue;
    }
    for (std::int64_t k = k0; k < k_end; k += 64) {
      const bool half = k + 64 > k_end;
      const __m512i values = quants.load(n, k, half);
      if (half) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + (k - k0)), _mm512_castsi512_si256(values));
      } else {
        _mm512_storeu_si512(q + (k - k0), values);
      }
    }
  }
  for (std::int64_t k = k0; k < k_end; k += 64) quants.load_scales(k, k + 64 > k_end);
}

// One token block's view of the activations for the block-scaled kernel.
struct Int8Tokens {
  const BlockActivations& a;
  std::int64_t tb;  // token block
  const std::byte* b_tile(std::int64_t block) const { return a.b_tiles + (tb * a.blocks + block) * a.block_bytes; }
  const float* x_scale(std::int64_t block) const { return a.scale + (tb * a.blocks + block) * a.tokens; }
  const float* x_sum(std::int64_t block) const { return a.sum + (tb * a.blocks + block) * a.tokens; }  // Q4_1, Q5_1
};

// One block's tile product into C tile `c` (integer sums, 16 rows x tokens). The
// intrinsics paste the tile numbers into the assembly text, hence a macro.
#define HELIX_BLOCK_PRODUCT(TC, TA, TB, B)                               \
  do {                                                                   \
    _tile_zero(TC);                                                      \
    _tile_loadd(TA, p.q + (B) * 32, kChunkValues);                       \
    _tile_loadd(TB, x.b_tile(first_block + (B)), 4 * x.a.tokens);        \
    _tile_dpbssd(TC, TA, TB);                                            \
  } while (false)

// The tile products of blocks b0 .. b0 + Count - 1 (Count 1 or 4) into c[j] (16 x
// tokens int32 each): all issued before the first is stored, so they overlap.
template <int Count>
HELIX_AMX void block_products(const Panel& p, const Int8Tokens& x, std::int64_t b0, std::int64_t first_block,
                              std::int32_t* c) {
  const std::int64_t b_stride = 4 * x.a.tokens, c_bytes = kTileRows * b_stride;
  HELIX_BLOCK_PRODUCT(0, 4, 6, b0);
  if constexpr (Count == 4) {
    HELIX_BLOCK_PRODUCT(1, 5, 7, b0 + 1);
    HELIX_BLOCK_PRODUCT(2, 4, 6, b0 + 2);
    HELIX_BLOCK_PRODUCT(3, 5, 7, b0 + 3);
  }
  _tile_stored(0, c, b_stride);
  if constexpr (Count == 4) {
    _tile_stored(1, reinterpret_cast<char*>(c) + c_bytes, b_stride);
    _tile_stored(2, reinterpret_cast<char*>(c) + 2 * c_bytes, b_stride);
    _tile_stored(3, reinterpret_cast<char*>(c) + 3 * c_bytes, b_stride);
  }
}

// The panel's blocks against one token block, into its accumulators (block_acc:
// [row][token], loaded before and stored after).
template <bool Offset>
HELIX_AMX HELIX_OWN_CODE void multiply_token_block(const Panel& p, std::int64_t blocks, std::int64_t first_block,
                                                   const Int8Tokens& x, std::int32_t* c, float* block_acc) {
  __m512 acc[kTileRows];
  for (int n = 0; n < kTileRows; ++n) acc[n] = _mm512_load_ps(block_acc + n * kMaxTokens);
  const std::int64_t tile_ints = kTileRows * x.a.tokens;
  std::int64_t b = 0;
  for (; b + 4 <= blocks; b += 4) {
    block_products<4>(p, x, b, first_block, c);
    for (int j = 0; j < 4; ++j) {
      scale_tokens(acc, c + j * tile_ints, p, b + j, x.x_scale(first_block + b + j));
      if constexpr (Offset) offset_tokens(acc, p, b + j, x.x_sum(first_block + b + j));
    }
  }
  for (; b < blocks; ++b) {
    block_products<1>(p, x, b, first_block, c);
    scale_tokens(acc, c, p, b, x.x_scale(first_block + b));
    if constexpr (Offset) offset_tokens(acc, p, b, x.x_sum(first_block + b));
  }
  for (int n = 0; n < kTileRows; ++n) _mm512_store_ps(block_acc + n * kMaxTokens, acc[n]);
}

template <DType Type>
HELIX_AMX void gemm_rows_block_scaled(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                                      std::int64_t row_end) {
  const std::int64_t chunk = std::min(kChunkValues, w.cols), max_blocks = kChunkValues / 32;
  // Scratch: the panel (quants, scales, offsets), then the accumulators of every row group
  // held and token block, and the four product tiles.
  float* panel_memory = thread_scratch(ScratchSlot::WeightTile,
                                       static_cast<std::size_t>(kChunkValues * kTileRows / 4 + 2 * max_blocks * kTileRows));
  float* scales = panel_memory + kChunkValues * kTileRows / 4;
  const Panel p{reinterpret_cast<std::uint8_t*>(panel_memory), scales, scales + max_blocks * kTileRows};
  float* acc = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(held_floats(a) + 4 * kTileRows * kMaxTokens));
  auto* c = reinterpret_cast<std::int32_t*>(acc + held_floats(a));
  configure_tiles(32, 8, kMaxTokens);
  for_each_row_group(a, acc, row_begin, row_end, y, w.rows, [&](std::int64_t r0, int rows_here, float* group_acc) {
    for (std::int64_t k0 = 0; k0 < w.cols; k0 += chunk) {
      const std::int64_t blocks = std::min(chunk, w.cols - k0) / 32;
      const Ahead ahead = k0 + chunk < w.cols ? Ahead(w, r0, k0 + chunk, std::min(w.cols, k0 + 2 * chunk))
                                              : Ahead(w, r0 + kTileRows, 0, chunk);
      decode_blocks<Type>(w, r0, rows_here, k0, blocks, ahead, p);
      for (std::int64_t tb = 0; tb < a.token_blocks; ++tb)
        multiply_token_block<has_block_offset(Type)>(p, blocks, k0 / 32, Int8Tokens{a, tb}, c,
                                                     group_acc + tb * kTileRows * kMaxTokens);
    }
  });
  _tile_release();
}

// ---- BF16 ----------------------------------------------------------------------------

// Where a group of 16 weight rows' A tiles come from: blocks below `direct` straight
// from the matrix (row stride), the rest from zero-padded copies (a partial group,
// or the last block of rows whose length is not a multiple of 32).
struct Bf16Rows {
  const std::byte* base = nullptr;
  std::int64_t stride = 0;
  std::int64_t direct = 0;
  const std::byte* copies = nullptr;  // [block - direct][16][64 bytes]
  const std::byte* tile(std::int64_t kb) const { return kb < direct ? base + kb * 64 : copies + (kb - direct) * kTileBytes; }
  std::int64_t tile_stride(std::int64_t kb) const { return kb < direct ? stride : 64; }
};

// Copies rows [r0, r0 + rows_here) of w, 32-value blocks from `first_block` on, into
// zero-padded tiles.
void copy_bf16_tiles(const WeightMatrix& w, std::int64_t r0, int rows_here, std::int64_t first_block,
                     std::int64_t blocks, std::byte* out) {
  std::memset(out, 0, static_cast<std::size_t>((blocks - first_block) * kTileBytes));
  for (int n = 0; n < rows_here; ++n) {
    for (std::int64_t kb = first_block; kb < blocks; ++kb) {
      const std::int64_t values = std::min(kBlockValues, w.cols - kb * kBlockValues);
      std::memcpy(out + (kb - first_block) * kTileBytes + n * 64, w.row(r0 + n) + kb * 64,
                  static_cast<std::size_t>(values) * 2);
    }
  }
}

// Up to four groups of 16 weight rows (C tiles 0..Groups-1) against one token block.
template <int Groups>
HELIX_AMX void bf16_groups(const Bf16Rows* rows, const BlockActivations& a, std::int64_t tb, float* c) {
  const std::int64_t b_stride = 4 * a.tokens;
  _tile_zero(0);
  if constexpr (Groups > 1) _tile_zero(1);
  if constexpr (Groups > 2) _tile_zero(2);
  if constexpr (Groups > 3) _tile_zero(3);
  const std::byte* b = a.b_tiles + tb * a.blocks * a.block_bytes;
  for (std::int64_t kb = 0; kb < a.blocks; ++kb) {
    _tile_loadd(6, b + kb * a.block_bytes, b_stride);
    _tile_loadd(4, rows[0].tile(kb), rows[0].tile_stride(kb));
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (Groups > 1) {
      _tile_loadd(5, rows[1].tile(kb), rows[1].tile_stride(kb));
      _tile_dpbf16ps(1, 5, 6);
    }
    if constexpr (Groups > 2) {
      _tile_loadd(4, rows[2].tile(kb), rows[2].tile_stride(kb));
      _tile_dpbf16ps(2, 4, 6);
    }
    if constexpr (Groups > 3) {
      _tile_loadd(5, rows[3].tile(kb), rows[3].tile_stride(kb));
      _tile_dpbf16ps(3, 5, 6);
    }
  }
  const std::int64_t c_bytes = kTileRows * b_stride;
  _tile_stored(0, c, b_stride);
  if constexpr (Groups > 1) _tile_stored(1, reinterpret_cast<char*>(c) + c_bytes, b_stride);
  if constexpr (Groups > 2) _tile_stored(2, reinterpret_cast<char*>(c) + 2 * c_bytes, b_stride);
  if constexpr (Groups > 3) _tile_stored(3, reinterpret_cast<char*>(c) + 3 * c_bytes, b_stride);
}

HELIX_AMX void gemm_rows_bf16(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                              std::int64_t row_end) {
  const std::int64_t full_blocks = w.cols / kBlockValues;
  // Scratch: copies for at most one partial group (all blocks) and four tails; C.
  auto* copies = reinterpret_cast<std::byte*>(
      thread_scratch(ScratchSlot::WeightTile, static_cast<std::size_t>((a.blocks + 4) * kTileBytes / 4)));
  float* c = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(4 * kTileRows * kMaxTokens));
  configure_tiles(64, 16, static_cast<int>(a.tokens));
  // Groups of 16 rows multiplied side by side: four share each B tile load from 16
  // tokens on. Below that the rows' reads are the limit, and 64 rows read side by
  // side were more streams than the L2 streamer follows (batch 1 from memory,
  // matmul_bench --from-memory: 24.5 GB/s with four groups, 27.3 with one, level
  // with the avx512 level's streaming kernels).
  const int max_groups = a.tokens < kMaxTokens ? 1 : 4;
  for (std::int64_t q0 = row_begin; q0 < row_end; q0 += max_groups * kTileRows) {
    const int groups = static_cast<int>(std::min<std::int64_t>(max_groups, (row_end - q0 + kTileRows - 1) / kTileRows));
    Bf16Rows rows[4];
    std::byte* next_copy = copies;
    for (int g = 0; g < groups; ++g) {
      const std::int64_t r0 = q0 + g * kTileRows;
      const int rows_here = static_cast<int>(std::min<std::int64_t>(kTileRows, row_end - r0));
      rows[g].base = w.row(r0);
      rows[g].stride = static_cast<std::int64_t>(w.row_bytes);
      rows[g].direct = rows_here == kTileRows ? full_blocks : 0;
      if (rows[g].direct < a.blocks) {
        copy_bf16_tiles(w, r0, rows_here, rows[g].direct, a.blocks, next_copy);
        rows[g].copies = next_copy;
        next_copy += (a.blocks - rows[g].direct) * kTileBytes;
      }
    }
    for (std::int64_t tb = 0; tb < a.token_blocks; ++tb) {
      switch (groups) {
        case 1: bf16_groups<1>(rows, a, tb, c); break;
        case 2: bf16_groups<2>(rows, a, tb, c); break;
        case 3: bf16_groups<3>(rows, a, tb, c); break;
        default: bf16_groups<4>(rows, a, tb, c); break;
      }
      const int tokens_here = static_cast<int>(std::min(a.tokens, a.m - tb * a.tokens));
      for (int g = 0; g < groups; ++g) {
        const std::int64_t r0 = q0 + g * kTileRows;
        const int rows_here = static_cast<int>(std::min<std::int64_t>(kTileRows, row_end - r0));
        store_transposed(c + g * kTileRows * a.tokens, static_cast<int>(a.tokens), rows_here, tokens_here,
                         y + tb * a.tokens * w.rows + r0, w.rows);
      }
    }
  }
  _tile_release();
}

// ---- Activations ---------------------------------------------------------------------

// x's rows (m rows of `stride_words` 4-byte words) into B tiles: [token block][32-value
// block][tile row p][token], word kb * tile_rows + p of each token; tokens past m zero.
// Token blocks [tb0, tb1).
void to_b_tiles(const std::uint32_t* x, std::int64_t stride_words, const BlockActivations& a, int tile_rows,
                std::int64_t tb0, std::int64_t tb1, std::uint32_t* out) {
  for (std::int64_t tb = tb0; tb < tb1; ++tb) {
    for (std::int64_t kb = 0; kb < a.blocks; ++kb) {
      std::uint32_t* tile = out + (tb * a.blocks + kb) * tile_rows * a.tokens;
      for (int p = 0; p < tile_rows; ++p) {
        for (std::int64_t t = 0; t < a.tokens; ++t) {
          const std::int64_t token = tb * a.tokens + t;
          tile[p * a.tokens + t] = token < a.m ? x[token * stride_words + kb * tile_rows + p] : 0;
        }
      }
    }
  }
}

// Per token block and group, the tokens' entries of a per-token array (`groups`
// entries per token), as one vector; padding zero. Token blocks [tb0, tb1).
void per_block_vectors(const float* per_token, std::int64_t groups, const BlockActivations& a, std::int64_t tb0,
                       std::int64_t tb1, float* out) {
  for (std::int64_t tb = tb0; tb < tb1; ++tb)
    for (std::int64_t g = 0; g < groups; ++g)
      for (std::int64_t t = 0; t < a.tokens; ++t) {
        const std::int64_t token = tb * a.tokens + t;
        out[(tb * groups + g) * a.tokens + t] = token < a.m ? per_token[token * groups + g] : 0.0f;
      }
}

}  // namespace

bool amx_multiplies(DType dtype) { return dtype == DType::BF16 || is_int8_block_type(dtype); }

HELIX_AMX BlockActivations prepare_activations_amx(const WeightMatrix& w, const float* x, std::int64_t m, ThreadPool& pool) {
  BlockActivations a;
  a.m = m;
  a.tokens = std::min<std::int64_t>(m, kMaxTokens);
  a.token_blocks = (m + a.tokens - 1) / a.tokens;
  a.blocks = (w.cols + kBlockValues - 1) / kBlockValues;
  const std::int64_t tokens_padded = a.token_blocks * a.tokens;
  if (w.dtype == DType::BF16) {
    const int tile_rows = 16;  // pairs per 32 values
    a.block_bytes = tile_rows * 4 * a.tokens;
    const std::int64_t stride = a.blocks * kBlockValues;  // bf16 values per padded row
    auto* rounded = reinterpret_cast<std::uint16_t*>(
        thread_scratch(ScratchSlot::Activations, static_cast<std::size_t>(m * stride / 2)));
    auto* tiles = thread_scratch(ScratchSlot::ActivationTiles, static_cast<std::size_t>(tokens_padded * stride / 2));
    // Per token block: its tokens rounded, then laid out as tiles.
    prepare_in_parallel(pool, a.token_blocks, m * w.cols, [&](std::int64_t tb0, std::int64_t tb1) {
      for (std::int64_t i = tb0 * a.tokens; i < std::min(m, tb1 * a.tokens); ++i) {
        round_to_bf16(x + i * w.cols, w.cols, rounded + i * stride);
        std::memset(rounded + i * stride + w.cols, 0, static_cast<std::size_t>(stride - w.cols) * 2);
      }
      to_b_tiles(reinterpret_cast<const std::uint32_t*>(rounded), stride / 2, a, tile_rows, tb0, tb1,
                 reinterpret_cast<std::uint32_t*>(tiles));
    });
    a.b_tiles = reinterpret_cast<const std::byte*>(tiles);
    return a;
  }
  // Int8: quantized (the block-scaled types per 32 values, the K-quants per 256), then (16 tokens and
  // more) laid out as tiles with the scales per token block.
  a = prepare_activations_vnni(w, x, m, pool);
  const bool k_quant = is_k_quant(w.dtype);
  const std::int8_t* q = k_quant ? a.superblocks.q : a.int8.q;
  if (a.tokens < kMaxTokens) {
    fail("matmul: the int8 tile kernels take 16 tokens or more; {} go to the VNNI kernel", m);
  }
  const int tile_rows = 8;  // 4-byte words per 32 values
  a.block_bytes = tile_rows * 4 * a.tokens;
  const std::int64_t scales = k_quant ? w.cols / kSuperblockValues : a.blocks;
  const std::int64_t tile_floats = tokens_padded * w.cols / 4;
  const bool sums = !k_quant && a.int8.sum != nullptr;  // Q4_1, Q5_1
  float* storage = thread_scratch(ScratchSlot::ActivationTiles,
                                  static_cast<std::size_t>(tile_floats + (sums ? 2 : 1) * tokens_padded * scales));
  float* scale = storage + tile_floats;
  float* sum = sums ? scale + tokens_padded * scales : nullptr;
  prepare_in_parallel(pool, a.token_blocks, m * w.cols, [&](std::int64_t tb0, std::int64_t tb1) {
    to_b_tiles(reinterpret_cast<const std::uint32_t*>(q), w.cols / 4, a, tile_rows, tb0, tb1,
               reinterpret_cast<std::uint32_t*>(storage));
    per_block_vectors(k_quant ? a.superblocks.scale : a.int8.scale, scales, a, tb0, tb1, scale);
    if (sums) per_block_vectors(a.int8.sum, scales, a, tb0, tb1, sum);
  });
  a.b_tiles = reinterpret_cast<const std::byte*>(storage);
  a.scale = scale;
  a.sum = sum;
  return a;
}

void gemm_rows_amx(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                   std::int64_t row_end) {
  if (w.dtype == DType::BF16) {
    gemm_rows_bf16(w, a, y, row_begin, row_end);
  } else if (is_k_quant(w.dtype)) {
    gemm_rows_amx_k_quant(w, a, y, row_begin, row_end);
  } else if (w.dtype == DType::Q4_0) {
    gemm_rows_block_scaled<DType::Q4_0>(w, a, y, row_begin, row_end);
  } else if (w.dtype == DType::Q5_0) {
    gemm_rows_block_scaled<DType::Q5_0>(w, a, y, row_begin, row_end);
  } else if (w.dtype == DType::Q4_1) {
    gemm_rows_block_scaled<DType::Q4_1>(w, a, y, row_begin, row_end);
  } else if (w.dtype == DType::Q5_1) {
    gemm_rows_block_scaled<DType::Q5_1>(w, a, y, row_begin, row_end);
  } else {
    gemm_rows_block_scaled<DType::Q8_0>(w, a, y, row_begin, row_end);
  }
}

}  // namespace helix::kernels_detail

#else  // not x86-64: active_kernel_isa() never picks Amx here

namespace helix::kernels_detail {

bool amx_multiplies(DType) { return false; }
BlockActivations prepare_activations_amx(const WeightMatrix&, const float*, std::int64_t, ThreadPool&) {
  fail("matmul: the AMX kernels are not built for this CPU architecture");
}

void gemm_rows_amx(const WeightMatrix&, const BlockActivations&, float*, std::int64_t, std::int64_t) {
  fail("matmul: the AMX kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
