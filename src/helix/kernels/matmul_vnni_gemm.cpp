// The avx512 level's kernel for batches of 16 tokens and more of the int8 block
// types (block-scaled: Q8_0, Q4_0, Q5_0, Q4_1, Q5_1; K-quants: Q4_K, Q5_K, Q6_K): the amx
// level's tile products done with AVX-512 VNNI, for
// CPUs without the tile unit. It computes the tiles' exact integer sums and scales
// them with the operations of int8_block_arithmetic.h, so it gives the same bits as
// the amx level, and as the VNNI kernel for smaller batches (matmul_vnni_gemv.cpp): a
// row's result does not depend on its batch size, nor on the level.
//
// Orientation: a vector holds 16 weight rows (row n in lane n), 4 values each, so
// that one vpdpbusd multiplies them with 4 values of one token, broadcast from x as
// it was quantized. Per 16 rows and 1024 values the quants are transposed once into
// that layout (a panel of 256 vectors, in L1) and then meet every token, 12 tokens
// at a time: per 4 values one panel load and 12 vpdpbusd, whose broadcasts are
// memory operands. The streaming kernels' form (a row's values across the lanes)
// needs a reduction of the lanes per row and token; this one needs none, and it
// scales a block's 16 rows in one vector operation.
//
// vpdpbusd multiplies unsigned bytes (the panel) by signed ones (x): the block-scaled
// types' int8 values are flipped to v + 128 and each block's sum starts at x's block
// bias (-128 * sum(x)).
//
// The K-quants' group scales enter the integer M by vpdpwssd (int16 x int16), one per
// part of a group whose sum fits 16 bits once the quants are centred: each part's
// sum starts at x's part bias (-centre * sum(x), SuperblockActivations::part_bias),
// so that it ends as sum (q - centre) * x, |.| <= 32512 with |x| <= 127. Q6_K: q as
// stored is the quant + 32, centre 32, parts of 8 values, and sum (q - 32) * x is
// its own arithmetic's; Q4_K: centre 8, parts of 32 (a whole group), and Q5_K:
// centre 16, parts of 16 (half a group), where centre * sum_g sc_g * sum32_g(x) goes
// back onto M once per superblock. That is one vpdpwssd per 8 vpdpbusd (Q4_K), per 4
// (Q5_K) or per 2 (Q6_K), where uncentred 16-value sums took one per 4 (Q4_K) or a
// vpmulld, two uops, and an add per 4 (Q6_K).
#include "helix/kernels/matmul_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

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

namespace helix::kernels_detail {
namespace {


// 16 rows' 64 values (v[n]: row n, its 4-byte word d holding values 4d..4d+3) turned
// so that v[d] holds word d of every row, row n in lane n.
HELIX_AVX512 inline void transpose_words(__m512i (&v)[16]) {
  __m512i t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {  // per 128 bits: a0 b0 a1 b1 | a2 b2 a3 b3
    t[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 16; i += 4) {  // u[i + j], 128-bit lane L: word 4L + j of rows i..i+3
    v[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    v[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    v[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    v[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {  // the 4 x 4 128-bit lanes of v[j], v[4 + j], v[8 + j], v[12 + j] transposed
    const __m512i x0 = _mm512_shuffle_i32x4(v[j], v[4 + j], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i x1 = _mm512_shuffle_i32x4(v[j], v[4 + j], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512i x2 = _mm512_shuffle_i32x4(v[8 + j], v[12 + j], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i x3 = _mm512_shuffle_i32x4(v[8 + j], v[12 + j], _MM_SHUFFLE(3, 2, 3, 2));
    t[j] = _mm512_shuffle_i32x4(x0, x2, _MM_SHUFFLE(2, 0, 2, 0));
    t[4 + j] = _mm512_shuffle_i32x4(x0, x2, _MM_SHUFFLE(3, 1, 3, 1));
    t[8 + j] = _mm512_shuffle_i32x4(x1, x3, _MM_SHUFFLE(2, 0, 2, 0));
    t[12 + j] = _mm512_shuffle_i32x4(x1, x3, _MM_SHUFFLE(3, 1, 3, 1));
  }
#pragma GCC unroll 16
  for (int d = 0; d < 16; ++d) v[d] = t[d];
}

// A K-quant superblock's scales for 16 rows (s.scale: the high 16 bits of each lane
// cleared, as vpdpwssd reads a lane as two int16), and Q4_K's and Q5_K's per-token
// terms' multipliers as pairs of int16 for vpdpwssd (two groups per lane): the mins
// (N = sum_g min_g * sum32_g(x)) and the centre times the scales (the centre's share
// of M; at most 16 * 63).
struct ChunkScales {
  SuperblockScales s;
  __m512i min_pairs[4];     // Q4_K, Q5_K: mins of groups 2j, 2j+1
  __m512i centre_pairs[4];  // Q4_K, Q5_K: the centre times the scales of groups 2j, 2j+1
};

// Two int16 values in one 32-bit lane (lo in the low half), as vpdpwssd reads them.
HELIX_AVX512 inline __m512i int16_pairs(__m512i lo, __m512i hi) {
  return _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(hi, 16));
}

// One chunk of 16 rows, transposed: panel[s] holds values 4s..4s+3 of the chunk for
// each row; Q8_0's block scales in p.scale, the K-quants' superblock scales in
// `scales`.
struct Chunk {
  const __m512i* panel;
  const Panel* p;
  const ChunkScales* scales;
  std::int64_t k0;      // the chunk's first value
  std::int64_t values;  // in the chunk
};

// Reads values [k0, k0 + values) of the group's 16 rows into the panel, 64 at a time
// (Q8_0's last run may be 32), and their scales once the rows' lines are in L1.
template <typename Quants>
HELIX_AVX512 HELIX_OWN_CODE void transpose_chunk(const Quants& quants, std::int64_t k0, std::int64_t values,
                                                 __m512i* panel, ChunkScales* scales) {
  for (std::int64_t k = k0; k < k0 + values; k += 64) {
    __m512i v[16];
    if constexpr (Quants::kBlockScaled) {
      const bool half = k + 64 > k0 + values;
#pragma GCC unroll 16
      for (int n = 0; n < 16; ++n)
        v[n] = _mm512_xor_si512(quants.load(n, k, half), _mm512_set1_epi8(static_cast<char>(0x80)));
      quants.load_scales(k, half);
    } else {
#pragma GCC unroll 16
      for (int n = 0; n < 16; ++n) v[n] = quants.load(n, k);
      if (k % kSuperblockValues == 0) {
        ChunkScales& c = scales[(k - k0) / kSuperblockValues];
        quants.load_superblock(k, c.s);
        if constexpr (k_quant_has_mins(Quants::kType)) {
          for (int j = 0; j < 4; ++j) {
            c.min_pairs[j] = int16_pairs(c.s.min[2 * j], c.s.min[2 * j + 1]);
            const __m512i centre = _mm512_set1_epi32(k_quant_centre(Quants::kType));
            c.centre_pairs[j] = int16_pairs(_mm512_mullo_epi32(c.s.scale[2 * j], centre), _mm512_mullo_epi32(c.s.scale[2 * j + 1], centre));
          }
        } else {
          for (int g = 0; g < 16; ++g) c.s.scale[g] = _mm512_and_si512(c.s.scale[g], _mm512_set1_epi32(0xFFFF));
        }
      }
    }
    transpose_words(v);
    __m512i* out = panel + (k - k0) / 4;
#pragma GCC unroll 16
    for (int d = 0; d < 16; ++d) _mm512_store_si512(out + d, v[d]);
  }
}

// Token i's 4-byte word e of a run of T tokens (laid out by interleave_token_runs:
// word e of every token of the run side by side), in every lane.
template <int T>
HELIX_AVX512 inline __m512i broadcast_word(const std::int32_t* run, std::int64_t e, int i) {
  return _mm512_set1_epi32(run[e * T + i]);
}

// The block-scaled types: the chunk's blocks against the run of T tokens from t0;
// acc[t][row] holds the results so far.
template <bool Offset, int T>
HELIX_AVX512 HELIX_OWN_CODE void q8_0_tokens(const Chunk& c, const Int8Activations& x, std::int64_t t0, float* acc) {
  const std::int64_t blocks = x.cols / 32;
  const auto* words = reinterpret_cast<const std::int32_t*>(x.q) + t0 * (x.cols / 4);
  const std::int32_t* bias = x.bias + t0 * blocks;
  const float* scale = x.scale + t0 * blocks;
  const float* sum = Offset ? x.sum + t0 * blocks : nullptr;
  __m512 f[T];
#pragma GCC unroll 12
  for (int i = 0; i < T; ++i) f[i] = _mm512_load_ps(acc + (t0 + i) * kTileRows);
  for (std::int64_t b = c.k0 / 32; b < (c.k0 + c.values) / 32; ++b) {
    __m512i s[T];
#pragma GCC unroll 12
    for (int i = 0; i < T; ++i) s[i] = broadcast_word<T>(bias, b, i);
#pragma GCC unroll 8
    for (int step = 0; step < 8; ++step) {
      const std::int64_t e = 8 * b + step;  // the word of values 4e..4e+3
      const __m512i w = _mm512_load_si512(c.panel + (e - c.k0 / 4));
#pragma GCC unroll 12
      for (int i = 0; i < T; ++i) s[i] = _mm512_dpbusd_epi32(s[i], w, broadcast_word<T>(words, e, i));
    }
#pragma GCC unroll 12
    for (int i = 0; i < T; ++i) f[i] = scale_rows(f[i], s[i], *c.p, b - c.k0 / 32, scale[b * T + i]);
    if constexpr (Offset) {
#pragma GCC unroll 12
      for (int i = 0; i < T; ++i) f[i] = offset_rows(f[i], *c.p, b - c.k0 / 32, sum[b * T + i]);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < T; ++i) _mm512_store_ps(acc + (t0 + i) * kTileRows, f[i]);
}

// The K-quants: the chunk's superblocks against the run of T tokens from t0: per
// part (Q4_K a group of 32 values, Q5_K half a group, 16, Q6_K half a group, 8) the
// centred sums, times the group's integer scale into M by vpdpwssd; per superblock
// one float scaling into acc[t][row].
template <DType Type, int T>
HELIX_AVX512 HELIX_OWN_CODE void k_quant_tokens(const Chunk& c, const SuperblockActivations& x, std::int64_t t0,
                                                float* acc) {
  constexpr bool Q4K = k_quant_has_mins(Type);  // Q4_K and Q5_K: mins, and the centre's share in M
  constexpr int kPartValues = k_quant_part_values(Type), kGroupValues = k_quant_group_values(Type);
  constexpr int kParts = kSuperblockValues / kPartValues;
  const std::int64_t superblocks = x.cols / kSuperblockValues;
  const auto* words = reinterpret_cast<const std::int32_t*>(x.q) + t0 * (x.cols / 4);
  const std::int32_t* pair_sums = Q4K ? x.pair_sums + t0 * superblocks * 4 : nullptr;
  const std::int32_t* part_bias = x.part_bias + t0 * superblocks * kParts;
  const float* x_scale = x.scale + t0 * superblocks;
  for (std::int64_t sb = c.k0 / kSuperblockValues; sb < (c.k0 + c.values) / kSuperblockValues; ++sb) {
    const ChunkScales& scales = c.scales[sb - c.k0 / kSuperblockValues];
    __m512i m_sum[T];
#pragma GCC unroll 12
    for (int i = 0; i < T; ++i) {
      m_sum[i] = _mm512_setzero_si512();
      if constexpr (Q4K) {  // the centre's share, centre * sum_g sc_g * sum32_g(x)
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j)
          m_sum[i] = _mm512_dpwssd_epi32(m_sum[i], scales.centre_pairs[j], broadcast_word<T>(pair_sums, sb * 4 + j, i));
      }
    }
    for (int part = 0; part < kParts; ++part) {
      const std::int64_t e0 = (sb * kSuperblockValues + part * kPartValues) / 4;  // the part's first word
      __m512i s[T];
#pragma GCC unroll 12
      for (int i = 0; i < T; ++i) s[i] = broadcast_word<T>(part_bias, sb * kParts + part, i);
#pragma GCC unroll 8
      for (int step = 0; step < kPartValues / 4; ++step) {
        const __m512i w = _mm512_load_si512(c.panel + (e0 + step - c.k0 / 4));
#pragma GCC unroll 12
        for (int i = 0; i < T; ++i) s[i] = _mm512_dpbusd_epi32(s[i], w, broadcast_word<T>(words, e0 + step, i));
      }
      // (vpdpwssd written out: through the intrinsic, GCC 12 moved every token's M to
      // another register each part, a copy per instruction of the fold.)
      const __m512i group_scale = scales.s.scale[part * kPartValues / kGroupValues];
#pragma GCC unroll 12
      for (int i = 0; i < T; ++i) __asm__("vpdpwssd %2, %1, %0" : "+v"(m_sum[i]) : "v"(s[i]), "v"(group_scale));
    }
#pragma GCC unroll 12
    for (int i = 0; i < T; ++i) {
      __m512i n_sum = _mm512_setzero_si512();
      if constexpr (Q4K) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j)  // groups 2j, 2j + 1: 32 values each
          n_sum = _mm512_dpwssd_epi32(n_sum, scales.min_pairs[j], broadcast_word<T>(pair_sums, sb * 4 + j, i));
      }
      float* a = acc + (t0 + i) * kTileRows;
      _mm512_store_ps(a, superblock_rows(_mm512_load_ps(a), m_sum[i], n_sum, scales.s.d, scales.s.dmin, x_scale[sb * T + i], Q4K));
    }
  }
}

// Every token against the chunk, in the runs interleave_token_runs laid out.
template <typename Multiply>
void for_token_runs(std::int64_t m, const Multiply& multiply) {
  for (std::int64_t t0 = 0; t0 < m;) {
    switch (vnni_token_run(m, t0)) {
      case 12: multiply(std::integral_constant<int, 12>{}, t0); t0 += 12; break;
      case 4: multiply(std::integral_constant<int, 4>{}, t0); t0 += 4; break;
      default: multiply(std::integral_constant<int, 1>{}, t0); t0 += 1; break;
    }
  }
}

template <DType Type>
HELIX_AVX512 void multiply_chunk_as(const Chunk& c, const BlockActivations& a, float* acc) {
  if constexpr (is_block_scaled(Type)) {
    for_token_runs(a.m, [&](auto tokens, std::int64_t t0) {
      q8_0_tokens<has_block_offset(Type), decltype(tokens)::value>(c, a.int8, t0, acc);
    });
  } else {
    for_token_runs(a.m, [&](auto tokens, std::int64_t t0) { k_quant_tokens<Type, decltype(tokens)::value>(c, a.superblocks, t0, acc); });
  }
}

// Values of a row group transposed at once: 32 KiB of panel, so that it and a run's
// quants of the chunk (24 KiB) stay near L1. (1024, 2048 and whole rows of 4096
// measured within the benchmark's noise.)
constexpr std::int64_t kChunkValues = 2048;

// Where one group of 16 rows goes while every token meets it: the panel of all its
// values, the block-scaled types' block scales (and Q4_1's and Q5_1's offsets), the
// K-quants' superblock scales.
struct GroupMemory {
  __m512i* panel;
  float* block_scales;
  float* block_offsets;
  ChunkScales* superblock_scales;
};

// One chunk of the group's rows: transposed into the panel, then met by every token.
template <typename Quants>
HELIX_AVX512 void multiply_chunk(const RowGroup& group, const Chunk& chunk, const GroupMemory& memory,
                                 const BlockActivations& a, float* acc) {
  transpose_chunk(reader<Quants>(group), chunk.k0, chunk.values, memory.panel, memory.superblock_scales);
  multiply_chunk_as<Quants::kType>(chunk, a, acc);
}

// Rows r0 .. r0 + rows_here - 1 (one group of 16; the lanes past rows_here repeat
// the last row), a chunk at a time: transposed, then met by every token, a run at a
// time; acc[t][n] receives row r0 + n's result for token t.
HELIX_AVX512 void multiply_row_group(const WeightMatrix& w, const BlockActivations& a, std::int64_t r0, int rows_here,
                                     const GroupMemory& memory, float* acc) {
  std::fill(acc, acc + a.m * kTileRows, 0.0f);
  const Panel p{nullptr, memory.block_scales, memory.block_offsets};
  for (std::int64_t k0 = 0; k0 < w.cols; k0 += kChunkValues) {
    const std::int64_t values = std::min(kChunkValues, w.cols - k0);
    const RowGroup group = make_row_group(w, r0, 1, rows_here, &p, k0 / 32);
    const Chunk chunk{memory.panel, &p, memory.superblock_scales, k0, values};
    switch (w.dtype) {
      case DType::Q8_0: multiply_chunk<Q8_0Quants>(group, chunk, memory, a, acc); break;
      case DType::Q4_0: multiply_chunk<BlockScaledQuants<DType::Q4_0>>(group, chunk, memory, a, acc); break;
      case DType::Q5_0: multiply_chunk<BlockScaledQuants<DType::Q5_0>>(group, chunk, memory, a, acc); break;
      case DType::Q4_1: multiply_chunk<BlockScaledQuants<DType::Q4_1>>(group, chunk, memory, a, acc); break;
      case DType::Q5_1: multiply_chunk<BlockScaledQuants<DType::Q5_1>>(group, chunk, memory, a, acc); break;
      case DType::Q4_K: multiply_chunk<Q4_KQuants>(group, chunk, memory, a, acc); break;
      case DType::Q5_K: multiply_chunk<Q5_KQuants>(group, chunk, memory, a, acc); break;
      default: multiply_chunk<Q6_KQuants>(group, chunk, memory, a, acc); break;
    }
  }
}

// Row groups whose results are stored together: a token's results in y are
// kStoreGroups * 64 bytes side by side, and its rows lie `rows` floats apart (a page
// or more for most matrices), so storing one group at a time cost a TLB miss per
// token and 16 rows.
constexpr int kStoreGroups = 4;

// Rows r0 .. r0 + rows_here - 1, up to kStoreGroups groups of 16, into y.
HELIX_AVX512 void multiply_row_block(const WeightMatrix& w, const BlockActivations& a, std::int64_t r0, std::int64_t rows_here,
                                     const GroupMemory& memory, float* acc, float* y) {
  const std::int64_t groups = (rows_here + kTileRows - 1) / kTileRows, group_floats = a.m * kTileRows;
  for (std::int64_t g = 0; g < groups; ++g)
    multiply_row_group(w, a, r0 + g * kTileRows, static_cast<int>(std::min<std::int64_t>(kTileRows, rows_here - g * kTileRows)),
                       memory, acc + g * group_floats);
  __mmask16 valid[kStoreGroups];
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t rows_left = rows_here - g * kTileRows;
    valid[g] = static_cast<__mmask16>(rows_left >= kTileRows ? 0xFFFF : (1u << rows_left) - 1);
  }
  for (std::int64_t t = 0; t < a.m; ++t) {
    for (std::int64_t g = 0; g < groups; ++g)
      _mm512_mask_storeu_ps(y + t * w.rows + r0 + g * kTileRows, valid[g], _mm512_load_ps(acc + g * group_floats + t * kTileRows));
  }
}

}  // namespace

HELIX_AVX512 void gemm_rows_vnni(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                                 std::int64_t row_end) {
  // Scratch: a chunk's panel (a vector per 4 values, and 16 more: a last run of 32
  // values is transposed as 64), block scales and offsets (16 rows per 32 values each)
  // and superblock scales; then the results of kStoreGroups row groups for every token.
  const std::int64_t chunk = std::min(kChunkValues, w.cols);
  const std::int64_t panel_floats = (chunk / 4 + 16) * 16, block_scale_floats = chunk / 32 * kTileRows;
  const std::int64_t superblock_floats = chunk / kSuperblockValues * static_cast<std::int64_t>(sizeof(ChunkScales) / 4);
  float* memory = thread_scratch(ScratchSlot::WeightTile,
                                 static_cast<std::size_t>(panel_floats + 2 * block_scale_floats + superblock_floats));
  const GroupMemory group{reinterpret_cast<__m512i*>(memory), memory + panel_floats,
                          memory + panel_floats + block_scale_floats,
                          reinterpret_cast<ChunkScales*>(memory + panel_floats + 2 * block_scale_floats)};
  float* acc = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(kStoreGroups * a.m * kTileRows));
  for (std::int64_t r0 = row_begin; r0 < row_end; r0 += kStoreGroups * kTileRows)
    multiply_row_block(w, a, r0, std::min<std::int64_t>(kStoreGroups * kTileRows, row_end - r0), group, acc, y);
}

}  // namespace helix::kernels_detail

#else  // not x86-64: active_kernel_isa() never picks Avx512 here

namespace helix::kernels_detail {

void gemm_rows_vnni(const WeightMatrix&, const BlockActivations&, float*, std::int64_t, std::int64_t) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
