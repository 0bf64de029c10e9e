// AVX-512 matmul kernels for the streaming (decode) strategy. Every function that
// uses the intrinsics carries the target attribute; called only after
// active_kernel_isa() said Avx512.
//
// Float weights (F32, F16, BF16) and the other block types run the AVX2 kernels:
// they already read BF16/F16 at the machine's read bandwidth, and 16-lane versions
// of them measured slower (bench/kernels_bench: BF16 decode 13.2 ms vs 9.3 ms per
// 7B layer, mostly in the 11008-column matrix).
//
// Int8 block weights (Q8_0, Q4_K, Q6_K): why int8 activations. Widening every
// weight to f32 costs 3-4 instructions per 8 weights, which kept these types at
// 20-40% of the read bandwidth on AVX2. Here the activations are quantized once per
// call (Int8Activations) and each 64 weights meet them in one VNNI instruction
// (vpdpbusd: 64 u8 x s8 products summed into 16 int32 lanes, 4 per lane):
//  * Q4_K's nibbles and Q6_K's 6-bit quants are unsigned, as vpdpbusd's first
//    operand wants; their offsets (Q4_K's per-sub-block min, Q6_K's -32) multiply
//    the activation sums (sum16/sum32), once per block.
//  * Q8_0's quants are signed: flipping their top bit gives q + 128 (unsigned), and
//    the extra 128 * sum(q_x) is cancelled by starting the lane sums at q8_bias.
// The 16 int32 lanes are converted to f32 and scaled per lane (weight scale x
// activation scale) into f32 accumulators, so scales are never approximated.
#include "helix/kernels/matmul_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "helix/core/error.h"
#include "helix/kernels/cpu_features.h"
#include "helix/kernels/scratch.h"

#if defined(__x86_64__) || defined(__i386__)
// GCC 12's AVX-512 intrinsics (reduce_add, cvtph_ps, extract) start from
// _mm256_undefined_*(), a self-initialised variable that -Wuninitialized reports
// inside the header; the value is never read. Off for this file only.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "helix/kernels/bf16_round_avx512.h"
#include "helix/kernels/k_quant_unpack_avx512.h"

namespace helix::kernels_detail {
namespace {

using k_quants::f16;
using k_quants::load_u32;

// ---- Int8 block weights ------------------------------------------------------------

// Activation rows whose products one decoded weight row feeds (the weights are
// decoded once per group; two accumulators per row).
constexpr int kMaxGroupM = 4;

// One activation row's quantized data at column k.
struct ActRow {
  const std::int8_t* q;
  const float* lane_scale;
  const std::int32_t* q8_bias;
  const float* sum16;
  const float* sum32;
};

inline ActRow act_row(const Int8Activations& a, std::int64_t i) {
  return {a.q + i * a.cols, a.lane_scale + i * (a.cols / 4), a.q8_bias + i * (a.cols / 4), a.sum16 + i * (a.cols / 16),
          a.sum32 + i * (a.cols / 32)};
}

// A 256-value K-quant block against M activation rows at column k: w[t] holds
// values 64t..64t+63 as unsigned bytes, scale[t] their per-lane weight scales;
// acc[i] += lane sums x weight scale x activation scale.
template <int M>
HELIX_AVX512 inline void dot256(__m512 (&acc)[M], const __m512i (&w)[4], const __m512 (&scale)[4], const ActRow* a,
                                std::int64_t k) {
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
      const __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[t], _mm512_loadu_si512(a[i].q + k + 64 * t));
      const __m512 act_scale = _mm512_loadu_ps(a[i].lane_scale + (k + 64 * t) / 4);
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(scale[t], act_scale), acc[i]);
    }
  }
}

// One kernel call: a weight row's blocks [b_begin, b_end) against M activation
// rows; results to y[i * ldy], added to what is there when `accumulate` (a later
// column chunk), else stored.
struct RowJob {
  const std::byte* row;
  std::size_t row_bytes;  // to the next row, for kernels that take two rows at once (Q8_0)
  // The row the next call reads (or `row`): the kernels fetch it ahead while this one
  // is dotted, so that memory serves two rows at once (Q8_0: one stream per core
  // reached 23 GB/s at batch 1, below AVX2's 8-row tiles; 31-47 GB/s with it. Q4_K_M
  // decode on an AMX Xeon: 20.7 -> see docs/performance.md).
  const std::byte* next_row;
  std::int64_t b_begin, b_end;
  const ActRow* a;
  float* y;
  std::int64_t ldy;
  bool accumulate;
};

inline void put(const RowJob& j, int i, float value) {
  float& out = j.y[i * j.ldy];
  out = j.accumulate ? out + value : value;
}

// Q8_0: R rows from j.row (results to y[i * ldy + r]), two blocks (68 bytes) per
// step; an odd last block runs in the lower half. Two rows share each activation
// load (the float work per block and row pair is the limit in batches).
template <int R, int M>
HELIX_AVX512 void q8_0_rows(const RowJob& j) {
  __m512 acc[R][M];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) acc[r][i] = _mm512_setzero_ps();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (std::int64_t b = j.b_begin; b < j.b_end; b += 2) {
    const bool pair = b + 1 < j.b_end;
    const __mmask16 lanes = pair ? 0xFFFF : 0x00FF;
    const std::int64_t k = b * kQ8BlockElements;
    __m512i w[R];
    __m512 scale[R];
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r) {
      const std::byte* p0 = j.row + r * j.row_bytes + static_cast<std::size_t>(b) * sizeof(BlockQ8_0);
      const std::byte* ahead = j.next_row + r * j.row_bytes + static_cast<std::size_t>(b) * sizeof(BlockQ8_0);
      _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(ahead + 64), _MM_HINT_T0);
      const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0 + 2));
      // The missing second block of an odd tail: quants 0x80 ^ 0x80 = 0 (unsigned) and scale 0.
      const __m256i q1 = pair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0 + sizeof(BlockQ8_0) + 2))
                              : _mm256_set1_epi8(static_cast<char>(0x80));
      w[r] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), flip);
      scale[r] = _mm512_mask_mov_ps(_mm512_set1_ps(f16(p0)), 0xFF00,
                                    _mm512_set1_ps(pair ? f16(p0 + sizeof(BlockQ8_0)) : 0.0f));
    }
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) {
      const __m512i bias = _mm512_maskz_loadu_epi32(lanes, j.a[i].q8_bias + k / 4);
      const __m512i q = _mm512_maskz_loadu_epi8(pair ? ~0ULL : 0xFFFFFFFFULL, j.a[i].q + k);
      const __m512 act_scale = _mm512_maskz_loadu_ps(lanes, j.a[i].lane_scale + k / 4);
#pragma GCC unroll 2
      for (int r = 0; r < R; ++r) {
        const __m512i sums = _mm512_dpbusd_epi32(bias, w[r], q);
        acc[r][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(scale[r], act_scale), acc[r][i]);
      }
    }
  }
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) {
      float& out = j.y[i * j.ldy + r];
      const float value = _mm512_reduce_add_ps(acc[r][i]);
      out = j.accumulate ? out + value : value;
    }
}

// Fetches the cache lines of [p, p + bytes) into L1.
HELIX_AVX512 inline void prefetch_bytes(const std::byte* p, std::size_t bytes) {
  for (std::size_t offset = 0; offset < bytes; offset += 64) _mm_prefetch(reinterpret_cast<const char*>(p + offset), _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char*>(p + bytes - 1), _MM_HINT_T0);
}

// Q4_K: per 64 values (two 32-value sub-blocks) 32 bytes of nibbles, low nibbles first.
template <int M>
HELIX_AVX512 void q4_k_row(const RowJob& j) {
  __m512 acc[M];
  __m256 mins_acc[M];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps(), mins_acc[i] = _mm256_setzero_ps();
  for (std::int64_t b = j.b_begin; b < j.b_end; ++b) {
    const std::byte* block = j.row + static_cast<std::size_t>(b) * k_quants::kQ4KBlockBytes;
    prefetch_bytes(j.next_row + static_cast<std::size_t>(b) * k_quants::kQ4KBlockBytes, k_quants::kQ4KBlockBytes);
    const __m512 scales_mins = k_quants::q4k_scales_mins(block);
    const __m256 mins = _mm512_extractf32x8_ps(scales_mins, 1);
    __m512i w[4];
    __m512 scale[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      w[c] = k_quants::q4k_quants(block, c);
      const __m512i which = _mm512_mask_mov_epi32(_mm512_set1_epi32(2 * c), 0xFF00, _mm512_set1_epi32(2 * c + 1));
      scale[c] = _mm512_permutexvar_ps(which, scales_mins);
    }
    const std::int64_t k = b * 256;
    dot256<M>(acc, w, scale, j.a, k);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) mins_acc[i] = _mm256_fmadd_ps(mins, _mm256_loadu_ps(j.a[i].sum32 + k / 32), mins_acc[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    const __m256 m = mins_acc[i];
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    put(j, i, _mm512_reduce_add_ps(acc[i]) - _mm_cvtss_f32(s));
  }
}

// Q6_K: per 128 values, 64 bytes of low nibbles and 32 bytes of 2-bit tops; 16
// int8 scales per block, one per 16 values.
template <int M>
HELIX_AVX512 void q6_k_row(const RowJob& j) {
  __m512 acc[M], offset_acc[M];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps(), offset_acc[i] = _mm512_setzero_ps();
  for (std::int64_t b = j.b_begin; b < j.b_end; ++b) {
    const std::byte* block = j.row + static_cast<std::size_t>(b) * k_quants::kQ6KBlockBytes;
    prefetch_bytes(j.next_row + static_cast<std::size_t>(b) * k_quants::kQ6KBlockBytes, k_quants::kQ6KBlockBytes);
    const __m512 groups = k_quants::q6k_group_scales(block);
    __m512i w[4];
    k_quants::q6k_quants(block, w);
    __m512 scale[4];
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
      const __m512i which = _mm512_add_epi32(_mm512_set1_epi32(4 * t),
                                             _mm512_srli_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
                                                                                4, 3, 2, 1, 0),
                                                               2));
      scale[t] = _mm512_permutexvar_ps(which, groups);
    }
    const std::int64_t k = b * 256;
    dot256<M>(acc, w, scale, j.a, k);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      offset_acc[i] = _mm512_fmadd_ps(groups, _mm512_loadu_ps(j.a[i].sum16 + k / 16), offset_acc[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) put(j, i, _mm512_reduce_add_ps(acc[i]) - 32.0f * _mm512_reduce_add_ps(offset_acc[i]));
}

// Rows j.row .. (two for Q8_0 when `pair`, else one) against M activation rows.
template <int M>
HELIX_AVX512 void int8_rows(DType dtype, const RowJob& j, bool pair) {
  switch (dtype) {
    case DType::Q8_0:
      if (pair) {
        q8_0_rows<2, M>(j);
      } else {
        q8_0_rows<1, M>(j);
      }
      return;
    case DType::Q4_K: q4_k_row<M>(j); return;
    default: q6_k_row<M>(j); return;
  }
}

// Weight rows per block: every activation group and column chunk runs over one
// block of rows before the next, so the block is read from memory once.
constexpr std::int64_t kRowBlock = 24;
// The columns are split into chunks of this many values, so that the activation
// data of a group stays in L1 while it meets every row of the block (streaming all
// of it from L2 for every weight row was the limit at batch 16: 4x slower). Every
// batch size chunks alike, batch 1 included, so that a row's result never depends
// on the batch it came in: the chunk sums are added in the same order at every m,
// and a preempted request recomputed in a prefill gives the tokens it gave when
// decoded (whole rows had measured 5-10% faster for bf16 from batch 17 on).
constexpr std::int64_t kColumnChunk = 1024;

// Walks rows [row_begin, row_end) in blocks of kRowBlock, the columns in chunks of
// `chunk` and the activation rows in groups of up to kMaxGroupM, every chunk and
// group over one block before the next (so the block is read from memory once):
// body(block, block_end, k, k_end, i, group) for each.
template <typename Body>
void for_each_tile(const WeightMatrix& w, std::int64_t m, std::int64_t chunk, std::int64_t row_begin,
                   std::int64_t row_end, const Body& body) {
  for (std::int64_t block = row_begin; block < row_end; block += kRowBlock) {
    const std::int64_t block_end = std::min(row_end, block + kRowBlock);
    for (std::int64_t k = 0; k < w.cols; k += chunk) {
      const std::int64_t k_end = std::min(w.cols, k + chunk);
      for (std::int64_t i = 0; i < m; i += kMaxGroupM) {
        body(block, block_end, k, k_end, i, static_cast<int>(std::min<std::int64_t>(kMaxGroupM, m - i)));
      }
    }
  }
}

HELIX_AVX512 void gemv_rows_int8(const WeightMatrix& w, const Int8Activations& qx, std::int64_t m, float* y,
                                 std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t block_values = w.dtype == DType::Q8_0 ? kQ8BlockElements : 256;
  const std::int64_t step = w.dtype == DType::Q8_0 ? 2 : 1;  // Q8_0 takes rows in pairs
  // Rows r.. (a pair for Q8_0 when `pair`) over columns [k, k_end) against activation rows i..i+group.
  auto run = [&](std::int64_t r, bool pair, std::int64_t next, std::int64_t k, std::int64_t k_end,
                 const ActRow* a, std::int64_t i, int group) {
    const RowJob j{w.row(r), w.row_bytes, w.row(next), k / block_values, k_end / block_values, a,
                   y + i * w.rows + r, w.rows, k > 0};
    switch (group) {
      case 1: int8_rows<1>(w.dtype, j, pair); break;
      case 2: int8_rows<2>(w.dtype, j, pair); break;
      case 3: int8_rows<3>(w.dtype, j, pair); break;
      default: int8_rows<4>(w.dtype, j, pair); break;
    }
  };
  if (m <= 2) {
    // Decode: rows in memory order, each row's column chunks in turn: the same
    // sums as the tiles below (so batch-invariant), read as one stream per row
    // (chunk-major reads cost batch-1 decode 18-23% on an AMX Xeon).
    ActRow a[2];
    for (int g = 0; g < m; ++g) a[g] = act_row(qx, g);
    for (std::int64_t r = row_begin; r < row_end; r += step) {
      const bool pair = step == 2 && r + 1 < row_end;
      const std::int64_t next = std::min(r + step, row_end - 1);
      for (std::int64_t k = 0; k < w.cols; k += kColumnChunk) {
        run(r, pair, next, k, std::min(w.cols, k + kColumnChunk), a, 0, static_cast<int>(m));
      }
    }
    return;
  }
  auto tile = [&](std::int64_t block, std::int64_t block_end, std::int64_t k, std::int64_t k_end, std::int64_t i,
                  int group) {
    ActRow a[kMaxGroupM];
    for (int g = 0; g < group; ++g) a[g] = act_row(qx, i + g);
    for (std::int64_t r = block; r < block_end; r += step) {
      run(r, step == 2 && r + 1 < block_end, std::min(r + step, block_end - 1), k, k_end, a, i, group);
    }
  };
  for_each_tile(w, m, kColumnChunk, row_begin, row_end, tile);
}

// One 32-value block of x into its quants and per-block sums.
HELIX_AVX512 void quantize_block(const float* x, std::int8_t* q, float* lane_scale, std::int32_t* q8_bias,
                                 float* sum16, float* sum32) {
  const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
  const float scale = amax / 127.0f;
  const __m512 inverse = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
  // Round to nearest (even), the default MXCSR mode; saturation only guards rounding at +-127.
  const __m512i q_lo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inverse));
  const __m512i q_hi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inverse));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(q_lo));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtsepi32_epi8(q_hi));
  const int s_lo = _mm512_reduce_add_epi32(q_lo), s_hi = _mm512_reduce_add_epi32(q_hi);
  _mm256_storeu_ps(lane_scale, _mm256_set1_ps(scale));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q8_bias), _mm256_setr_epi32(-128 * (s_lo + s_hi), 0, 0, 0, 0, 0, 0, 0));
  sum16[0] = scale * static_cast<float>(s_lo);
  sum16[1] = scale * static_cast<float>(s_hi);
  *sum32 = scale * static_cast<float>(s_lo + s_hi);
}

// ---- BF16 weights with bf16 activations (AVX512_BF16) ------------------------------

template <bool Masked>
HELIX_AVX512_BF16 inline __m512i load_bf16x32(const std::uint16_t* p, __mmask32 mask) {
  if constexpr (Masked) {
    return _mm512_maskz_loadu_epi16(mask, p);
  } else {
    return _mm512_loadu_si512(p);
  }
}

// One 32-value step of bf16_tile.
template <int R, int M, bool Masked>
HELIX_AVX512_BF16 inline void bf16_step(__m512 (&acc)[R][M], const std::byte* w, std::size_t row_bytes,
                                        const std::uint16_t* const* x, std::int64_t k, __mmask32 mask) {
  __m512i xv[M];
#pragma GCC unroll 4
  for (int i = 0; i < M; ++i) xv[i] = load_bf16x32<Masked>(x[i] + k, mask);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512i wv = load_bf16x32<Masked>(reinterpret_cast<const std::uint16_t*>(w + r * row_bytes) + k, mask);
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) {
      acc[r][i] =
          _mm512_dpbf16_ps(acc[r][i], reinterpret_cast<const __m512bh&>(wv), reinterpret_cast<const __m512bh&>(xv[i]));
    }
  }
}

// R weight rows (bf16, row_bytes apart from w) against M bf16 activation rows over
// [k_begin, k_end): per 32 values one vdpbf16ps per row pair (16 lanes of pair
// sums, f32); R*M independent accumulators hide its latency.
template <int R, int M>
HELIX_AVX512_BF16 void bf16_tile(const std::byte* w, std::size_t row_bytes, std::int64_t k_begin, std::int64_t k_end,
                                 const std::uint16_t* const* x, float* y, std::int64_t ldy, bool accumulate) {
  __m512 acc[R][M];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) acc[r][i] = _mm512_setzero_ps();
  // Whole 32-value steps with plain loads, then the tail (if any) through a mask.
  std::int64_t k = k_begin;
  for (; k + 32 <= k_end; k += 32) bf16_step<R, M, false>(acc, w, row_bytes, x, k, 0);
  if (k < k_end) bf16_step<R, M, true>(acc, w, row_bytes, x, k, static_cast<__mmask32>((1u << (k_end - k)) - 1));
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) {
      float& out = y[i * ldy + r];
      const float sum = _mm512_reduce_add_ps(acc[r][i]);
      out = accumulate ? out + sum : sum;
    }
}

// Rows [row_begin, row_end) in tiles of R (8 for one activation row, 4 for more).
template <int M>
HELIX_AVX512_BF16 void bf16_rows(const WeightMatrix& w, std::int64_t row_begin, std::int64_t row_end,
                                 std::int64_t k_begin, std::int64_t k_end, const std::uint16_t* const* x, float* y,
                                 bool accumulate) {
  constexpr int R = M == 1 ? 8 : 4;
  std::int64_t r = row_begin;
  for (; r + R <= row_end; r += R) bf16_tile<R, M>(w.row(r), w.row_bytes, k_begin, k_end, x, y + r, w.rows, accumulate);
  for (; r < row_end; ++r) bf16_tile<1, M>(w.row(r), w.row_bytes, k_begin, k_end, x, y + r, w.rows, accumulate);
}

HELIX_AVX512_BF16 void gemv_rows_bf16(const WeightMatrix& w, const std::uint16_t* x, std::int64_t m, float* y,
                                      std::int64_t row_begin, std::int64_t row_end) {
  auto tile = [&](std::int64_t block, std::int64_t block_end, std::int64_t k, std::int64_t k_end, std::int64_t i,
                  int group) {
    const std::uint16_t* rows[kMaxGroupM];
    for (int g = 0; g < group; ++g) rows[g] = x + (i + g) * w.cols;
    float* yi = y + i * w.rows;
    switch (group) {
      case 1: bf16_rows<1>(w, block, block_end, k, k_end, rows, yi, k > 0); break;
      case 2: bf16_rows<2>(w, block, block_end, k, k_end, rows, yi, k > 0); break;
      case 3: bf16_rows<3>(w, block, block_end, k, k_end, rows, yi, k > 0); break;
      default: bf16_rows<4>(w, block, block_end, k, k_end, rows, yi, k > 0); break;
    }
  };
  if (m == 1) {
    // Decode: 8 rows (one tile of bf16_rows<1>) at a time, their column chunks in
    // turn: the tiles' sums, in memory order (as gemv_rows_int8).
    for (std::int64_t r = row_begin; r < row_end; r += 8) {
      const std::int64_t r_end = std::min(row_end, r + 8);
      for (std::int64_t k = 0; k < w.cols; k += kColumnChunk) tile(r, r_end, k, std::min(w.cols, k + kColumnChunk), 0, 1);
    }
    return;
  }
  for_each_tile(w, m, kColumnChunk, row_begin, row_end, tile);
}

// n floats rounded up to whole cache lines (each array of the int8 form starts on one).
std::size_t cache_line_floats(std::int64_t n) { return (static_cast<std::size_t>(n) + 15) / 16 * 16; }

// Floats of scratch for the int8 form of m x cols: q (cols bytes), lane_scale and
// q8_bias (cols/4 each), sum16, sum32.
std::size_t int8_activation_floats(std::int64_t m, std::int64_t cols) {
  return cache_line_floats(m * cols / 4) * 3 + cache_line_floats(m * cols / 16) + cache_line_floats(m * cols / 32);
}

HELIX_AVX512 Int8Activations quantize_activations(const float* x, std::int64_t m, std::int64_t cols, float* storage) {
  const auto floats = cache_line_floats;
  Int8Activations a;
  a.cols = cols;
  auto* q = reinterpret_cast<std::int8_t*>(storage);
  float* lane_scale = storage + floats(m * cols / 4);
  auto* q8_bias = reinterpret_cast<std::int32_t*>(lane_scale + floats(m * cols / 4));
  float* sum16 = reinterpret_cast<float*>(q8_bias) + floats(m * cols / 4);
  float* sum32 = sum16 + floats(m * cols / 16);
  a.q = q;
  a.lane_scale = lane_scale;
  a.q8_bias = q8_bias;
  a.sum16 = sum16;
  a.sum32 = sum32;
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t k = 0; k < cols; k += 32) {
      const std::int64_t at = i * cols + k;
      quantize_block(x + at, q + at, lane_scale + at / 4, q8_bias + at / 4, sum16 + at / 16, sum32 + at / 32);
    }
  }
  return a;
}

}  // namespace

ActivationRounding avx512_activation_rounding(DType dtype) {
  if (dtype == DType::Q8_0 || dtype == DType::Q4_K || dtype == DType::Q6_K) return ActivationRounding::Int8Blocks;
  if (dtype == DType::BF16 && cpu_features().avx512bf16) return ActivationRounding::Bf16;
  return ActivationRounding::None;
}

Avx512Activations prepare_activations_avx512(const WeightMatrix& w, const float* x, std::int64_t m) {
  Avx512Activations a;
  switch (avx512_activation_rounding(w.dtype)) {
    case ActivationRounding::Int8Blocks:
      a.int8 = quantize_activations(x, m, w.cols,
                                    thread_scratch(ScratchSlot::Activations, int8_activation_floats(m, w.cols)));
      break;
    case ActivationRounding::Bf16: {
      auto* out = reinterpret_cast<std::uint16_t*>(
          thread_scratch(ScratchSlot::Activations, static_cast<std::size_t>(m * w.cols + 1) / 2));
      round_to_bf16(x, m * w.cols, out);
      a.bf16 = out;
      break;
    }
    case ActivationRounding::None:
    case ActivationRounding::Int8Superblocks: break;  // the amx level's alone
  }
  return a;
}

HELIX_AVX512 void gemv_rows_avx512(const WeightMatrix& w, const float* x, const Avx512Activations& a, std::int64_t m,
                                   float* y, std::int64_t row_begin, std::int64_t row_end) {
  switch (avx512_activation_rounding(w.dtype)) {
    case ActivationRounding::Int8Blocks: gemv_rows_int8(w, a.int8, m, y, row_begin, row_end); return;
    case ActivationRounding::Bf16: gemv_rows_bf16(w, a.bf16, m, y, row_begin, row_end); return;
    case ActivationRounding::None: gemv_rows_avx2(w, x, m, y, row_begin, row_end); return;
    case ActivationRounding::Int8Superblocks: break;  // the amx level's alone
  }
  fail("matmul: the AVX-512 streaming kernels do not take activations quantized per 256 values");
}

}  // namespace helix::kernels_detail

#else  // not x86: active_kernel_isa() never picks Avx512 here

namespace helix::kernels_detail {

ActivationRounding avx512_activation_rounding(DType) { return ActivationRounding::None; }
Avx512Activations prepare_activations_avx512(const WeightMatrix&, const float*, std::int64_t) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}
void gemv_rows_avx512(const WeightMatrix&, const float*, const Avx512Activations&, std::int64_t, float*, std::int64_t,
                      std::int64_t) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
