// The kernel for batches below 16 tokens of the int8 block types (block-scaled:
// Q8_0, Q4_0, Q5_0, Q4_1, Q5_1; K-quants: Q4_K, Q5_K, Q6_K)
// on the avx512 and amx levels, with AVX-512 VNNI (a tile product costs as much for
// 1 token as for 16: Q8_0 decode on 1-token tiles ran at half the speed of streaming
// kernels). It computes the tiles' exact integer sums with vpdpbusd, 16 weight rows
// side by side, 64 values at a time, and scales them with the operations of
// int8_block_arithmetic.h: the same bits as the tile kernels (matmul_amx.cpp,
// matmul_amx_k_quant.cpp) and the VNNI GEMM (matmul_vnni_gemm.cpp), so a row's
// result depends neither on its batch size nor on the level.
//
// The weights are read in place (no decoded copy): Q8_0's quants as they are, the
// others unpacked per 64 values (int8_block_weights.h); the scales of the 16 rows
// are decoded a row per lane once the rows' lines are in cache.
#include "helix/kernels/matmul_kernels.h"

#include <algorithm>
#include <cstddef>
#include <limits>

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

// Lane sums of 4 vectors (v[0..3], 16 int32 lanes each: vpdpbusd results of 4 steps
// of 64 values): per 128-bit block L, each vector's sum of lanes 4L..4L+3 (integer
// sums: exact in any order).
HELIX_AVX512 inline __m512i quad_sums(__m512i v0, __m512i v1, __m512i v2, __m512i v3) {
  // Vectors (a, b): per 128 bits [a0+a2, b0+b2, a1+a3, b1+b3].
  const __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(v0, v1), _mm512_unpackhi_epi32(v0, v1));
  const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(v2, v3), _mm512_unpackhi_epi32(v2, v3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
}

// The quad sums of steps 0-3, 4-7, 8-11, 12-15 transposed: out[L] holds the sums of
// lanes 4L..4L+3 for steps 0..15, step s in lane s.
HELIX_AVX512 inline void transpose_quads(const __m512i* r, __m512i (&out)[4]) {
  const __m512i u0 = _mm512_shuffle_i32x4(r[0], r[1], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i u1 = _mm512_shuffle_i32x4(r[0], r[1], _MM_SHUFFLE(3, 2, 3, 2));
  const __m512i u2 = _mm512_shuffle_i32x4(r[2], r[3], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i u3 = _mm512_shuffle_i32x4(r[2], r[3], _MM_SHUFFLE(3, 2, 3, 2));
  out[0] = _mm512_shuffle_i32x4(u0, u2, _MM_SHUFFLE(2, 0, 2, 0));
  out[1] = _mm512_shuffle_i32x4(u0, u2, _MM_SHUFFLE(3, 1, 3, 1));
  out[2] = _mm512_shuffle_i32x4(u1, u3, _MM_SHUFFLE(2, 0, 2, 0));
  out[3] = _mm512_shuffle_i32x4(u1, u3, _MM_SHUFFLE(3, 1, 3, 1));
}

// The exact integer sums of 16 weight rows' products with each token's x over
// values k.. k + 63 (half: the 32 of Q8_0's last block), per 16 values:
// sums[t][L] holds, row n in lane n, the sum over values k + 16L .. k + 16L + 15.
// vpdpbusd multiplies unsigned weights: the block-scaled types' int8 values are
// flipped to v + 128 and x's block bias (-128 * sum(x), in the block's first lane)
// takes it off again; Q6_K's are q + 32 as stored, and 32 * sum(x) per lane comes
// off; Q4_K's and Q5_K's are unsigned already.
template <DType Type, typename Quants>
HELIX_AVX512 void step_sums(const Quants& quants, std::int64_t k, bool half, const std::int8_t* xq, std::int64_t cols,
                         const std::int32_t* bias, std::int64_t m, __m512i (*sums)[4]) {
  const __mmask64 bytes = half ? 0xFFFFFFFFull : ~0ull;
  alignas(64) __m512i q8_start[kMaxTokens - 1];
  if constexpr (is_block_scaled(Type)) {
    for (std::int64_t t = 0; t < m; ++t) {
      const std::int32_t* b = bias + (t * cols + k) / 32;
      q8_start[t] = _mm512_mask_set1_epi32(_mm512_maskz_set1_epi32(0x0001, b[0]), 0x0100, half ? 0 : b[1]);
    }
  }
  // Four rows at a time: their quants unpacked once for all tokens, each token's
  // products summed per 4 lanes (quads[t][q]).
  alignas(64) __m512i quads[kMaxTokens - 1][4];
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    __m512i wq[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      if constexpr (is_block_scaled(Type)) {
        wq[j] = _mm512_xor_si512(quants.load(4 * q + j, k, half), _mm512_set1_epi8(static_cast<char>(0x80)));
      } else {
        wq[j] = quants.load(4 * q + j, k);
      }
    }
    for (std::int64_t t = 0; t < m; ++t) {
      const std::int64_t at = t * cols + k;  // token t's value k
      const __m512i x = _mm512_maskz_loadu_epi8(bytes, xq + at);
      __m512i start = _mm512_setzero_si512();
      if constexpr (is_block_scaled(Type)) start = q8_start[t];
      if constexpr (Type == DType::Q6_K) {
        const __m512i lane_sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), x);
        start = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(lane_sums, 5));
      }
      quads[t][q] = quad_sums(_mm512_dpbusd_epi32(start, wq[0], x), _mm512_dpbusd_epi32(start, wq[1], x),
                              _mm512_dpbusd_epi32(start, wq[2], x), _mm512_dpbusd_epi32(start, wq[3], x));
    }
  }
  for (std::int64_t t = 0; t < m; ++t) transpose_quads(quads[t], sums[t]);
}

// The block-scaled types below 16 tokens: the tiles' block sums, scaled block by
// block vectorised over the rows with the operations scale_tokens applies per
// element. acc[t][row].
template <DType Type>
HELIX_AVX512 void multiply_block_scaled(const BlockScaledQuants<Type>& quants, std::int64_t cols, const Int8Activations& x,
                                        std::int64_t m, float* acc) {
  std::fill(acc, acc + m * kTileRows, 0.0f);
  alignas(64) __m512i sums[kMaxTokens - 1][4];
  for (std::int64_t k = 0; k < cols; k += 64) {
    const bool half = k + 64 > cols;  // a last run of 32 values: loaded through a mask, its other half zero
    step_sums<Type>(quants, k, half, x.q, x.cols, x.bias, m, sums);
    quants.load_scales(k, half);  // the rows' lines are in L1 now
    for (std::int64_t t = 0; t < m; ++t) {
      __m512 a = _mm512_load_ps(acc + t * kTileRows);
      for (int j = 0; j < (half ? 1 : 2); ++j) {
        const std::int64_t block = k / 32 + j;
        const __m512i isum = _mm512_add_epi32(sums[t][2 * j], sums[t][2 * j + 1]);
        a = scale_rows(a, isum, *quants.p, block, x.scale[t * x.cols / 32 + block]);
        if constexpr (has_block_offset(Type)) a = offset_rows(a, *quants.p, block, x.sum[t * x.cols / 32 + block]);
      }
      _mm512_store_ps(acc + t * kTileRows, a);
    }
  }
}

// The K-quants below 16 tokens: per superblock the integer M (and Q4_K's and Q5_K's
// N) of the tiles, from the group sums times the groups' integer scales (and mins
// times x's sums per 32 values), then scaled once with the operations
// superblock_tokens applies per element. acc[t][row].
template <DType Type, typename Quants>
HELIX_AVX512 void multiply_k_quant(const Quants& quants, std::int64_t cols, const SuperblockActivations& x,
                                std::int64_t m, float* acc) {
  constexpr bool q4k = k_quant_has_mins(Type);  // Q4_K or Q5_K: groups of 32 with mins
  std::fill(acc, acc + m * kTileRows, 0.0f);
  alignas(64) __m512i sums[kMaxTokens - 1][4];
  alignas(64) __m512i m_sum[kMaxTokens - 1], n_sum[kMaxTokens - 1];
  SuperblockScales scales;
  const std::int64_t superblocks = cols / kSuperblockValues;
  for (std::int64_t k = 0; k < cols; k += 64) {
    const int step = static_cast<int>(k % kSuperblockValues / 64);
    step_sums<Type>(quants, k, false, x.q, x.cols, nullptr, m, sums);
    if (step == 0) {
      quants.load_superblock(k, scales);  // the rows' lines are in L1 now
      std::fill(m_sum, m_sum + m, _mm512_setzero_si512());
      std::fill(n_sum, n_sum + m, _mm512_setzero_si512());
    }
    for (std::int64_t t = 0; t < m; ++t) {
      __m512i ms = m_sum[t];
      if constexpr (q4k) {
        __m512i ns = n_sum[t];
        for (int j = 0; j < 2; ++j) {  // groups 2 step + j, 32 values each
          const int g = 2 * step + j;
          const __m512i isum = _mm512_add_epi32(sums[t][2 * j], sums[t][2 * j + 1]);
          ms = _mm512_add_epi32(ms, _mm512_mullo_epi32(isum, scales.scale[g]));
          const std::int32_t* sum16 = x.sum16 + (t * x.cols + k) / 16 + 2 * j;
          const std::int32_t x_sum = sum16[0] + sum16[1];
          ns = _mm512_add_epi32(ns, _mm512_mullo_epi32(scales.min[g], _mm512_set1_epi32(x_sum)));
        }
        n_sum[t] = ns;
      } else {
        for (int j = 0; j < 4; ++j)  // groups 4 step + j, 16 values each
          ms = _mm512_add_epi32(ms, _mm512_mullo_epi32(sums[t][j], scales.scale[4 * step + j]));
      }
      m_sum[t] = ms;
    }
    if (step == 3) {
      const std::int64_t sb = k / kSuperblockValues;
      for (std::int64_t t = 0; t < m; ++t) {
        float* a = acc + t * kTileRows;
        _mm512_store_ps(a, superblock_rows(_mm512_load_ps(a), m_sum[t], n_sum[t], scales.d, scales.dmin,
                                           x.scale[t * superblocks + sb], q4k));
      }
    }
  }
}

// One pass over rows [begin, begin + count): 16 streams, lane n reading the
// contiguous rows [begin + n * stride, begin + (n + 1) * stride) one after another,
// so that row group j holds rows begin + n * stride + j. Rows of Q4_K (2304 bytes at
// 4096 columns) or Q6_K are shorter than a page: 16 neighbouring rows read side by side
// put two or three streams in each 4 KiB page, which the L2 streamer (one stream per
// page) does not follow, and batch-1 reads from memory ran at about 16 GB/s against
// the streaming kernels' 20; 16 rows a stride apart are 16 streams in 16 pages. Each
// lane computes its own row, so the bits are those of any other grouping.
HELIX_AVX512 void gemv_pass(const WeightMatrix& w, const BlockActivations& a, float* y, const Panel& p, float* acc,
                         std::int64_t begin, std::int64_t count) {
  const std::int64_t stride = (count + kTileRows - 1) / kTileRows;
  for (std::int64_t j = 0; j < stride; ++j) {
    // Lanes n with n * stride + j < count hold rows (a prefix); the others repeat the
    // last one, and their sums are never stored.
    const int rows_here = static_cast<int>(std::min<std::int64_t>(kTileRows, (count - j + stride - 1) / stride));
    const RowGroup group = make_row_group(w, begin + j, stride, rows_here, &p, 0);
    switch (w.dtype) {
      case DType::Q8_0: multiply_block_scaled(reader<Q8_0Quants>(group), w.cols, a.int8, a.m, acc); break;
      case DType::Q4_0: multiply_block_scaled(reader<BlockScaledQuants<DType::Q4_0>>(group), w.cols, a.int8, a.m, acc); break;
      case DType::Q5_0: multiply_block_scaled(reader<BlockScaledQuants<DType::Q5_0>>(group), w.cols, a.int8, a.m, acc); break;
      case DType::Q4_1: multiply_block_scaled(reader<BlockScaledQuants<DType::Q4_1>>(group), w.cols, a.int8, a.m, acc); break;
      case DType::Q5_1: multiply_block_scaled(reader<BlockScaledQuants<DType::Q5_1>>(group), w.cols, a.int8, a.m, acc); break;
      case DType::Q4_K: multiply_k_quant<DType::Q4_K>(reader<Q4_KQuants>(group), w.cols, a.superblocks, a.m, acc); break;
      case DType::Q5_K: multiply_k_quant<DType::Q5_K>(reader<Q5_KQuants>(group), w.cols, a.superblocks, a.m, acc); break;
      default: multiply_k_quant<DType::Q6_K>(reader<Q6_KQuants>(group), w.cols, a.superblocks, a.m, acc); break;
    }
    for (std::int64_t t = 0; t < a.m; ++t)
      for (int n = 0; n < rows_here; ++n) y[t * w.rows + begin + n * stride + j] = acc[t * kTileRows + n];
  }
}

}  // namespace

// Batches below 16 tokens: rows [row_begin, row_end) in groups of 16 a stride apart
// (gemv_pass), in passes short enough that the gathers' 32-bit offsets (up to 15
// strides of rows) cannot overflow.
HELIX_AVX512 void gemv_rows_vnni(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                                  std::int64_t row_end) {
  // Scratch: the block-scaled types' scale vector per block (and offset vector:
  // Q4_1, Q5_1); the results.
  const std::int64_t vectors = w.cols / 32 * kTileRows;
  float* scales = thread_scratch(ScratchSlot::WeightTile, static_cast<std::size_t>(2 * vectors + 1));
  const Panel p{nullptr, scales, scales + vectors};
  float* acc = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(a.m * kTileRows));
  const std::int64_t max_stride = std::numeric_limits<std::int32_t>::max() / (kTileRows * static_cast<std::int64_t>(w.row_bytes));
  const std::int64_t max_pass = std::max<std::int64_t>(1, max_stride) * kTileRows;
  for (std::int64_t begin = row_begin; begin < row_end; begin += max_pass)
    gemv_pass(w, a, y, p, acc, begin, std::min(max_pass, row_end - begin));
}

}  // namespace helix::kernels_detail

#else  // not x86-64: active_kernel_isa() never picks Avx512 or Amx here

namespace helix::kernels_detail {

void gemv_rows_vnni(const WeightMatrix&, const BlockActivations&, float*, std::int64_t, std::int64_t) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
