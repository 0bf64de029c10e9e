// AMX matmul kernel for the TiledGemm (prefill) strategy: y = x Wᵀ on the tile
// unit, in bf16 with f32 sums. Every function that uses the intrinsics carries the
// target attribute; called only after active_kernel_isa() said Amx.
//
// Why AMX: one tdpbf16ps multiplies a 16x32 bf16 tile by a 32x16 one into 16x16 f32
// sums, 8192 multiply-adds, where vdpbf16ps does 32; prefill is compute-bound
// (4096 x 4096 at 512 rows on an AMX Xeon: 422-577 GMAC/s here vs 76-106 for the
// AVX-512 kernels, bench/matmul_bench).
//
// Its results depend on the batch (tiles from 16 rows on, streaming below), which
// is why the amx level is opt-in (cpu_features.h).
//
// Tiles (8 registers of 16 rows x 64 bytes):
//   tmm4, tmm5  A: 16 tokens x 32 values of x (bf16, row-major, read in place from
//               the rounded copy of x);
//   tmm6, tmm7  B: 32 values x 16 weight rows, in the "VNNI" layout the unit wants
//               (row p holds, for each of 16 weight rows, values 2p and 2p+1);
//   tmm0..tmm3  C: 16 tokens x 16 weight rows of f32 sums, so results go to y
//               (m x rows) directly, 16 rows of 64 bytes each.
// Each step of 32 values loads 2 A and 2 B tiles for 4 products (32 tokens x 32
// weight rows).
//
// Blocking: the columns are taken in chunks whose slice of x (all m tokens) stays in
// L2 (about 1 MiB) while every block of 32 weight rows of the thread's share meets
// it; each block is decoded once per chunk into bf16 tiles (once per 512 tokens'
// products at m = 512), and the partial sums of earlier chunks are loaded from y.
// So the weights are read from memory once and x from L2.
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

#include "helix/kernels/bf16_round_avx512.h"
#include "helix/kernels/k_quant_unpack_avx512.h"

#define HELIX_AMX                                                                                             \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))

namespace helix::kernels_detail {
namespace {

constexpr std::int64_t kTileTokens = 16;     // rows of an A or C tile
constexpr std::int64_t kTileValues = 32;     // bf16 values in a 64-byte tile row
constexpr std::int64_t kBlockRows = 32;      // weight rows per block: two B tiles
constexpr std::int64_t kBlockTokens = 32;    // tokens per step: two A tiles
constexpr std::int64_t kTileElements = 512;  // bf16 values in one B tile (16 x 64 bytes)
// Bytes of x's column slice kept in L2 across the weight blocks (L2 is 2 MiB per core
// on the CPUs with AMX; the decoded block and the C tiles use part of the rest).
constexpr std::int64_t kSliceBytes = std::int64_t{1} << 20;
// Chunks are multiples of the largest block (256 values), so they start on block boundaries.
constexpr std::int64_t kChunkQuantum = 256;

std::int64_t round_up(std::int64_t n, std::int64_t to) { return (n + to - 1) / to * to; }

// The palette-1 tile configuration: every tile 16 rows of 64 bytes.
struct alignas(64) TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "the tile configuration is one 64-byte record");

HELIX_AMX void configure_tiles() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.colsb[t] = 64;
    config.rows[t] = kTileTokens;
  }
  _tile_loadconfig(&config);
}

// Q8_0 blocks to f32 (values = d * q).
HELIX_AMX void q8_0_to_f32(const std::byte* src, std::int64_t blocks, float* out) {
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::byte* block = src + b * static_cast<std::int64_t>(sizeof(BlockQ8_0));
    std::uint16_t d;
    std::memcpy(&d, block, sizeof d);
    const __m512 scale = _mm512_set1_ps(_cvtsh_ss(d));
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
    _mm512_storeu_ps(out + 32 * b, _mm512_mul_ps(lo, scale));
    _mm512_storeu_ps(out + 32 * b + 16, _mm512_mul_ps(hi, scale));
  }
}

// 16 unsigned quants (bytes) to f32: q * scale - offset.
HELIX_AMX inline void sixteen_to_f32(__m128i q, float scale, float offset, float* out) {
  const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q));
  _mm512_storeu_ps(out, _mm512_fmsub_ps(v, _mm512_set1_ps(scale), _mm512_set1_ps(offset)));
}

// 64 unsigned quants (one register of bytes) to f32, each 16 with its own scale and
// offset (scale[0..3], offset[0..3]).
HELIX_AMX inline void quants_to_f32(__m512i q, const float* scale, const float* offset, float* out) {
  sixteen_to_f32(_mm512_castsi512_si128(q), scale[0], offset[0], out);
  sixteen_to_f32(_mm512_extracti32x4_epi32(q, 1), scale[1], offset[1], out + 16);
  sixteen_to_f32(_mm512_extracti32x4_epi32(q, 2), scale[2], offset[2], out + 32);
  sixteen_to_f32(_mm512_extracti32x4_epi32(q, 3), scale[3], offset[3], out + 48);
}

// Q4_K blocks to f32: d * scale * q - dmin * min per 32-value sub-block.
HELIX_AMX void q4_k_to_f32(const std::byte* src, std::int64_t blocks, float* out) {
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::byte* block = src + b * static_cast<std::int64_t>(k_quants::kQ4KBlockBytes);
    alignas(64) float scales_mins[16];
    _mm512_store_ps(scales_mins, k_quants::q4k_scales_mins(block));
    for (int c = 0; c < 4; ++c) {
      // Sub-block 2c covers quants 0-31 of this register, 2c + 1 quants 32-63.
      const float scale[4] = {scales_mins[2 * c], scales_mins[2 * c], scales_mins[2 * c + 1], scales_mins[2 * c + 1]};
      const float offset[4] = {scales_mins[8 + 2 * c], scales_mins[8 + 2 * c], scales_mins[9 + 2 * c],
                               scales_mins[9 + 2 * c]};
      quants_to_f32(k_quants::q4k_quants(block, c), scale, offset, out + 256 * b + 64 * c);
    }
  }
}

// Q6_K blocks to f32: d * scale * (q - 32) per 16-value group.
HELIX_AMX void q6_k_to_f32(const std::byte* src, std::int64_t blocks, float* out) {
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::byte* block = src + b * static_cast<std::int64_t>(k_quants::kQ6KBlockBytes);
    alignas(64) float scale[16], offset[16];
    const __m512 groups = k_quants::q6k_group_scales(block);
    _mm512_store_ps(scale, groups);
    _mm512_store_ps(offset, _mm512_mul_ps(groups, _mm512_set1_ps(32.0f)));
    __m512i w[4];
    k_quants::q6k_quants(block, w);
    for (int t = 0; t < 4; ++t) quants_to_f32(w[t], scale + 4 * t, offset + 4 * t, out + 256 * b + 64 * t);
  }
}

// Weight row r's values [k0, k0 + count) as bf16 into out (count is whole blocks of
// the dtype); `scratch` holds count floats.
HELIX_AMX void row_to_bf16(const WeightMatrix& w, std::int64_t r, std::int64_t k0, std::int64_t count, float* scratch,
                           std::uint16_t* out) {
  const std::byte* src = w.row(r) + dtype_row_bytes(w.dtype, k0);
  switch (w.dtype) {
    case DType::BF16: std::memcpy(out, src, static_cast<std::size_t>(count) * 2); return;
    case DType::F32: std::memcpy(scratch, src, static_cast<std::size_t>(count) * 4); break;
    case DType::Q8_0: q8_0_to_f32(src, count / kQ8BlockElements, scratch); break;
    case DType::Q4_K: q4_k_to_f32(src, count / 256, scratch); break;
    case DType::Q6_K: q6_k_to_f32(src, count / 256, scratch); break;
    default: convert_to_f32(w.dtype, src, count, scratch); break;
  }
  round_to_bf16(scratch, count, out);
}

// Weight rows [r0, r0 + rows_here) and columns [k0, k0 + width) (width a multiple of
// 32; values past w.cols and rows past rows_here are zero) into B tiles: tile
// (kb * 2 + half) holds values 32kb.. of weight rows 16 half.., pair p of row n at
// dword 16p + n. Staged row-major in `rows_bf16` (32 x width), then transposed
// 16 x 16 dwords per tile with gathers.
HELIX_AMX void decode_block(const WeightMatrix& w, std::int64_t r0, std::int64_t rows_here, std::int64_t k0,
                            std::int64_t width, float* scratch, std::uint16_t* rows_bf16, std::uint16_t* tiles) {
  const std::int64_t valid = std::min(width, w.cols - k0);
  for (std::int64_t n = 0; n < kBlockRows; ++n) {
    std::uint16_t* row = rows_bf16 + n * width;
    if (n < rows_here) {
      row_to_bf16(w, r0 + n, k0, valid, scratch, row);
      std::memset(row + valid, 0, static_cast<std::size_t>(width - valid) * 2);
    } else {
      std::memset(row, 0, static_cast<std::size_t>(width) * 2);
    }
  }
  // Dword n of a gathered vector is row n's pair: index n * (width / 2) dwords.
  const __m512i row_starts = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                _mm512_set1_epi32(static_cast<int>(width / 2)));
  for (std::int64_t kb = 0; kb < width / kTileValues; ++kb) {
    for (int half = 0; half < 2; ++half) {
      const auto* base = reinterpret_cast<const int*>(rows_bf16 + half * kTileTokens * width + kb * kTileValues);
      auto* tile = reinterpret_cast<int*>(tiles + (kb * 2 + half) * kTileElements);
      for (int p = 0; p < 16; ++p) _mm512_storeu_si512(tile + 16 * p, _mm512_i32gather_epi32(row_starts, base + p, 4));
    }
  }
}

// Where a 32 x 32 block of C lives: in y when whole, else in a staging copy of its
// valid part (tokens past m, weight rows past the share's end).
struct CBlock {
  float* at;
  std::int64_t stride;  // bytes between token rows
};

// C tiles 0 and 1 hold tokens 0-15 (weight rows 0-15, 16-31), tiles 2 and 3 tokens
// 16-31; Halves = 1 uses only the first two (a block of at most 16 tokens).
template <int Halves>
HELIX_AMX void load_c(const CBlock& c, bool zero) {
  if (zero) {
    _tile_zero(0);
    _tile_zero(1);
    if constexpr (Halves == 2) {
      _tile_zero(2);
      _tile_zero(3);
    }
    return;
  }
  _tile_loadd(0, c.at, c.stride);
  _tile_loadd(1, c.at + 16, c.stride);
  if constexpr (Halves == 2) {
    _tile_loadd(2, reinterpret_cast<char*>(c.at) + 16 * c.stride, c.stride);
    _tile_loadd(3, reinterpret_cast<char*>(c.at) + 16 * c.stride + 64, c.stride);
  }
}

template <int Halves>
HELIX_AMX void store_c(const CBlock& c) {
  _tile_stored(0, c.at, c.stride);
  _tile_stored(1, c.at + 16, c.stride);
  if constexpr (Halves == 2) {
    _tile_stored(2, reinterpret_cast<char*>(c.at) + 16 * c.stride, c.stride);
    _tile_stored(3, reinterpret_cast<char*>(c.at) + 16 * c.stride + 64, c.stride);
  }
}

// C (16 x Halves tokens x 32 weight rows) += x[t0.., kchunk] · Wblock[.., kchunk]ᵀ
// over `steps` steps of 32 values. x_at: x's bf16 at token t0, column k0.
template <int Halves>
HELIX_AMX void multiply_block(const std::uint16_t* x_at, std::int64_t x_stride_bytes, const std::uint16_t* tiles,
                              std::int64_t steps) {
  const char* x0 = reinterpret_cast<const char*>(x_at);
  const char* x1 = x0 + 16 * x_stride_bytes;
  for (std::int64_t kb = 0; kb < steps; ++kb) {
    _tile_loadd(4, x0 + kb * 64, x_stride_bytes);
    _tile_loadd(6, tiles + (kb * 2) * kTileElements, 64);
    _tile_loadd(7, tiles + (kb * 2 + 1) * kTileElements, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if constexpr (Halves == 2) {
      _tile_loadd(5, x1 + kb * 64, x_stride_bytes);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
}

// One block of up to 32 tokens against the decoded weight block; 16 or fewer tokens
// take half the tile work (batches of 16-31 prefill or decode on the unit too).
HELIX_AMX void token_block(const CBlock& c, bool first_chunk, std::int64_t tokens_here, const std::uint16_t* x_at,
                           std::int64_t x_stride_bytes, const std::uint16_t* tiles, std::int64_t steps) {
  if (tokens_here <= kTileTokens) {
    load_c<1>(c, first_chunk);
    multiply_block<1>(x_at, x_stride_bytes, tiles, steps);
    store_c<1>(c);
  } else {
    load_c<2>(c, first_chunk);
    multiply_block<2>(x_at, x_stride_bytes, tiles, steps);
    store_c<2>(c);
  }
}

// The column chunk: x's slice of m_pad tokens fits kSliceBytes, at least one quantum.
std::int64_t chunk_width(std::int64_t m_pad, std::int64_t k_pad) {
  const std::int64_t fit = kSliceBytes / (m_pad * 2) / kChunkQuantum * kChunkQuantum;
  return std::min(k_pad, std::max(kChunkQuantum, fit));
}

}  // namespace

AmxActivations prepare_activations_amx(const float* x, std::int64_t m, std::int64_t cols) {
  AmxActivations a;
  a.m = m;
  a.rows = round_up(m, kBlockTokens);
  a.stride = round_up(cols, kTileValues);
  auto* out = reinterpret_cast<std::uint16_t*>(
      thread_scratch(ScratchSlot::Activations, static_cast<std::size_t>(a.rows * a.stride / 2)));
  for (std::int64_t i = 0; i < a.rows; ++i) {
    std::uint16_t* row = out + i * a.stride;
    const std::int64_t valid = i < m ? cols : 0;
    if (valid > 0) round_to_bf16(x + i * cols, cols, row);
    std::memset(row + valid, 0, static_cast<std::size_t>(a.stride - valid) * 2);
  }
  a.x = out;
  return a;
}

HELIX_AMX void gemm_rows_amx(const WeightMatrix& w, const AmxActivations& a, float* y, std::int64_t row_begin,
                             std::int64_t row_end) {
  const std::int64_t chunk = chunk_width(a.rows, a.stride);
  // Scratch: the block staged row-major, then as tiles (32 x chunk bf16 each); one
  // row of f32; a 32 x 32 staging copy of C for edge blocks.
  float* block_scratch = thread_scratch(ScratchSlot::WeightTile, static_cast<std::size_t>(kBlockRows * chunk));
  auto* rows_bf16 = reinterpret_cast<std::uint16_t*>(block_scratch);
  std::uint16_t* tiles = rows_bf16 + kBlockRows * chunk;
  float* row_f32 = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(chunk + kBlockRows * kBlockTokens));
  float* staging = row_f32 + chunk;
  const std::int64_t x_stride = a.stride * 2, y_stride = w.rows * 4;
  configure_tiles();
  for (std::int64_t k0 = 0; k0 < a.stride; k0 += chunk) {
    const std::int64_t width = std::min(chunk, a.stride - k0);
    for (std::int64_t r0 = row_begin; r0 < row_end; r0 += kBlockRows) {
      const std::int64_t rows_here = std::min(kBlockRows, row_end - r0);
      decode_block(w, r0, rows_here, k0, width, row_f32, rows_bf16, tiles);
      for (std::int64_t t0 = 0; t0 < a.rows; t0 += kBlockTokens) {
        const std::int64_t tokens_here = std::min(kBlockTokens, a.m - t0);
        // A block of 16 tokens or fewer runs on half the tiles (token_block).
        const std::int64_t block_tokens = tokens_here <= kTileTokens ? kTileTokens : kBlockTokens;
        const bool whole = rows_here == kBlockRows && tokens_here == block_tokens;
        float* y_at = y + t0 * w.rows + r0;
        CBlock c{whole ? y_at : staging, whole ? y_stride : kBlockRows * 4};
        if (!whole && k0 > 0) {
          std::fill(staging, staging + kBlockRows * kBlockTokens, 0.0f);
          for (std::int64_t t = 0; t < tokens_here; ++t)
            std::memcpy(staging + t * kBlockRows, y_at + t * w.rows, static_cast<std::size_t>(rows_here) * 4);
        }
        token_block(c, k0 == 0, tokens_here, a.x + t0 * a.stride + k0, x_stride, tiles, width / kTileValues);
        if (!whole) {
          for (std::int64_t t = 0; t < tokens_here; ++t)
            std::memcpy(y_at + t * w.rows, staging + t * kBlockRows, static_cast<std::size_t>(rows_here) * 4);
        }
      }
    }
  }
  _tile_release();
}

}  // namespace helix::kernels_detail

#else  // not x86-64: active_kernel_isa() never picks Amx here

namespace helix::kernels_detail {

AmxActivations prepare_activations_amx(const float*, std::int64_t, std::int64_t) {
  fail("matmul: the AMX kernels are not built for this CPU architecture");
}
void gemm_rows_amx(const WeightMatrix&, const AmxActivations&, float*, std::int64_t, std::int64_t) {
  fail("matmul: the AMX kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
