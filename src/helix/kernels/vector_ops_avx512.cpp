// Attention's two loops for a block of queries at once (vector_ops.h:
// dot_rows_block, axpy_rows_block) on the avx512 and amx levels: each cached row is
// loaded once per block of kQueryBlock queries instead of once per query. A prefill
// token reads every cached row of its head, so one query at a time streamed the
// whole head through L1 per token (rows a page apart). docs/performance.md has the
// prefill rates before and after (build/bench/model_bench).
//
// Both give every query the bits the AVX2 kernels (vector_ops_avx2.cpp) give it
// alone, which the engine's decode steps use, so a token's result does not depend
// on whether it was prefilled in a block or decoded by itself:
//  * dot: per (query, row) a 16-lane fma chain over steps of 16 values, lanes 0-7
//    and 8-15 being dot_row16's two 8-lane sums; then (lanes l + l+8), (l + l+4),
//    (l + l+2), (l + l+1) as its hsum adds them, for 16 (query, row) pairs in one
//    transposing tree; then times the scale.
//  * axpy: per output value one fma per row in row order, starting from out.
// Both need n to be a multiple of 16 (vector_ops.cpp checks).
#include "helix/kernels/vector_ops_kernels.h"

#include <algorithm>

#include "helix/core/error.h"

#if defined(__x86_64__)
// See matmul_avx512.cpp: GCC 12's AVX-512 headers trip -Wuninitialized on their
// own undefined-vector helpers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "helix/kernels/k_quant_unpack_avx512.h"  // HELIX_AVX512

namespace helix::kernels_detail {
namespace {

// Two 16-lane sums per vector pair reduced one level: lanes l and l + 8 of each of
// a and b, a's in the low half of the result and b's in the high half.
HELIX_AVX512 inline __m512 fold_halves(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
}

// hsum of 16 vectors at once, each with dot_row16's order of adds: r[p] is the sum
// of z[p]'s lanes. Level 1 adds lanes l and l + 8 (a0 + a1), level 2 l and l + 4,
// level 3 l and l + 2, level 4 l and l + 1.
HELIX_AVX512 inline __m512 hsum16(const __m512 (&z)[16]) {
  __m512 w[8], x[4], g[2];
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) w[k] = fold_halves(z[2 * k], z[2 * k + 1]);  // 256-bit half per vector
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m)  // 128-bit lane L of x[m]: vector 4m + L's four sums
    x[m] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * m], w[2 * m + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(w[2 * m], w[2 * m + 1], _MM_SHUFFLE(3, 1, 3, 1)));
#pragma GCC unroll 2
  for (int u = 0; u < 2; ++u)  // per 128-bit lane: x[2u]'s two sums, then x[2u + 1]'s
    g[u] = _mm512_add_ps(_mm512_shuffle_ps(x[2 * u], x[2 * u + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(x[2 * u], x[2 * u + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // Lane 4L + i: the sum of vector 4i + L; permuted into vector order.
  const __m512 r = _mm512_add_ps(_mm512_shuffle_ps(g[0], g[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_ps(g[0], g[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, r);
}

// f32 rows, or an f16 cache's (bits), widened exactly as they are loaded.
HELIX_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
HELIX_AVX512 inline __m512 load16(const std::uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Tiles of 8 queries x 2 rows: 16 chains, each step's two row loads shared by 8
// queries. Pair p of the tile is row p / 8, query p % 8, so the reduced vector is
// two rows of the block's [row][query] scores.
template <typename Row>
HELIX_AVX512 void dot_rows_block_of(const float* q, std::int64_t q_stride, int queries, const Row* keys,
                                    std::int64_t stride, std::int64_t count, std::int64_t n, float scale,
                                    float* scores) {
  const float* qp[kQueryBlock];
  for (int i = 0; i < kQueryBlock; ++i) qp[i] = q + std::min(i, queries - 1) * q_stride;
  const __m512 s = _mm512_set1_ps(scale);
  for (std::int64_t j = 0; j < count; j += 2) {
    const Row* k0 = keys + j * stride;
    const Row* k1 = j + 1 < count ? k0 + stride : k0;
    __m512 z[16];
#pragma GCC unroll 16
    for (int p = 0; p < 16; ++p) z[p] = _mm512_setzero_ps();
    for (std::int64_t d = 0; d < n; d += 16) {
      const __m512 a = load16(k0 + d), b = load16(k1 + d);
#pragma GCC unroll 8
      for (int i = 0; i < kQueryBlock; ++i) {
        const __m512 x = _mm512_loadu_ps(qp[i] + d);
        z[i] = _mm512_fmadd_ps(x, a, z[i]);
        z[8 + i] = _mm512_fmadd_ps(x, b, z[8 + i]);
      }
    }
    const __m512 r = _mm512_mul_ps(hsum16(z), s);
    float* out = scores + j * kQueryBlock;
    if (j + 1 < count) {
      _mm512_storeu_ps(out, r);
    } else {
      _mm256_storeu_ps(out, _mm512_castps512_ps256(r));
    }
  }
}

// 8 queries x 32 values of out per pass over the rows: 16 accumulators, each row's
// two vectors loaded once for the 8 queries; a last 16 values alone. Weights of the
// queries past `queries` are read but their sums are not stored.
template <typename Row>
HELIX_AVX512 void axpy_rows_block_of(const float* weights, int queries, const Row* values, std::int64_t stride,
                                     std::int64_t count, std::int64_t n, float* out, std::int64_t out_stride) {
  float* op[kQueryBlock];
  for (int i = 0; i < kQueryBlock; ++i) op[i] = out + std::min(i, queries - 1) * out_stride;
  std::int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    __m512 lo[kQueryBlock], hi[kQueryBlock];
#pragma GCC unroll 8
    for (int i = 0; i < kQueryBlock; ++i) lo[i] = _mm512_loadu_ps(op[i] + k), hi[i] = _mm512_loadu_ps(op[i] + k + 16);
    for (std::int64_t j = 0; j < count; ++j) {
      const Row* v = values + j * stride + k;
      const __m512 a = load16(v), b = load16(v + 16);
#pragma GCC unroll 8
      for (int i = 0; i < kQueryBlock; ++i) {
        const __m512 w = _mm512_set1_ps(weights[j * kQueryBlock + i]);
        lo[i] = _mm512_fmadd_ps(w, a, lo[i]);
        hi[i] = _mm512_fmadd_ps(w, b, hi[i]);
      }
    }
    for (int i = 0; i < queries; ++i) _mm512_storeu_ps(op[i] + k, lo[i]), _mm512_storeu_ps(op[i] + k + 16, hi[i]);
  }
  if (k < n) {  // n % 32 == 16
    __m512 acc[kQueryBlock];
#pragma GCC unroll 8
    for (int i = 0; i < kQueryBlock; ++i) acc[i] = _mm512_loadu_ps(op[i] + k);
    for (std::int64_t j = 0; j < count; ++j) {
      const __m512 a = load16(values + j * stride + k);
#pragma GCC unroll 8
      for (int i = 0; i < kQueryBlock; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(weights[j * kQueryBlock + i]), a, acc[i]);
    }
    for (int i = 0; i < queries; ++i) _mm512_storeu_ps(op[i] + k, acc[i]);
  }
}

}  // namespace

HELIX_AVX512 void dot_rows_block_avx512(const float* q, std::int64_t q_stride, int queries, const float* keys,
                                        std::int64_t stride, std::int64_t count, std::int64_t n, float scale,
                                        float* scores) {
  dot_rows_block_of(q, q_stride, queries, keys, stride, count, n, scale, scores);
}
HELIX_AVX512 void dot_rows_block_avx512(const float* q, std::int64_t q_stride, int queries, const std::uint16_t* keys,
                                        std::int64_t stride, std::int64_t count, std::int64_t n, float scale,
                                        float* scores) {
  dot_rows_block_of(q, q_stride, queries, keys, stride, count, n, scale, scores);
}
HELIX_AVX512 void axpy_rows_block_avx512(const float* weights, int queries, const float* values, std::int64_t stride,
                                         std::int64_t count, std::int64_t n, float* out, std::int64_t out_stride) {
  axpy_rows_block_of(weights, queries, values, stride, count, n, out, out_stride);
}
HELIX_AVX512 void axpy_rows_block_avx512(const float* weights, int queries, const std::uint16_t* values,
                                         std::int64_t stride, std::int64_t count, std::int64_t n, float* out,
                                         std::int64_t out_stride) {
  axpy_rows_block_of(weights, queries, values, stride, count, n, out, out_stride);
}

}  // namespace helix::kernels_detail

#else  // not x86-64: vector_ops.cpp never calls these here

namespace helix::kernels_detail {

void dot_rows_block_avx512(const float*, std::int64_t, int, const float*, std::int64_t, std::int64_t, std::int64_t, float,
                           float*) {
  fail("dot_rows_block: the AVX-512 kernels are not built for this CPU architecture");
}
void axpy_rows_block_avx512(const float*, int, const float*, std::int64_t, std::int64_t, std::int64_t, float*,
                            std::int64_t) {
  fail("axpy_rows_block: the AVX-512 kernels are not built for this CPU architecture");
}
void dot_rows_block_avx512(const float*, std::int64_t, int, const std::uint16_t*, std::int64_t, std::int64_t,
                           std::int64_t, float, float*) {
  fail("dot_rows_block: the AVX-512 kernels are not built for this CPU architecture");
}
void axpy_rows_block_avx512(const float*, int, const std::uint16_t*, std::int64_t, std::int64_t, std::int64_t, float*,
                            std::int64_t) {
  fail("axpy_rows_block: the AVX-512 kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
