// AVX2 + FMA vector ops. Every intrinsic-using function carries the target
// attribute; see matmul_avx2.cpp for why not per-file flags.
//
// exp: x = n ln2 + r with n = round(x / ln2), |r| <= ln2/2 (ln2 split in a high
// and a low part so that r is exact to f32), e^r by its Taylor polynomial to r^7
// (truncation < 6e-9 relative), scaled by 2^n built in the exponent bits. Inputs
// are clamped to [-87.3, 88], where 2^n stays a normal float; below -87.3 the result
// is 0 (so a -inf attention mask gives exactly 0); NaN passes through.
#include "helix/kernels/vector_ops_kernels.h"

#include <cmath>

#include "helix/core/error.h"
#include "helix/weights/dtype.h"  // f32_to_f16 and convert_to_f32 for the f16 loops' tails

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HELIX_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace helix::kernels_detail {
namespace {

HELIX_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

HELIX_AVX2 inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

HELIX_AVX2 inline __m256 exp8(__m256 x) {
  __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);  // e^x below the normals: 0
  // min/max return their second operand when one is NaN: x goes second to keep NaN.
  x = _mm256_max_ps(_mm256_set1_ps(-87.3f), _mm256_min_ps(_mm256_set1_ps(88.0f), x));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 high part (exact product)
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);       // ln2 low part
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

// Rows of a KV cache are f32 or f16 (its bits); each loop below reads them through
// these, so an f16 row gets the f32 loop's arithmetic on its exactly widened values.
HELIX_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
HELIX_AVX2 inline __m256 load8(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

template <typename Row>
HELIX_AVX2 float dot_of(const float* a, const Row* b, std::int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  std::int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), load8(b + k), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), load8(b + k + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 16), load8(b + k + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 24), load8(b + k + 24), s3);
  }
  for (; k + 8 <= n; k += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), load8(b + k), s0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; k < n; ++k) sum += a[k] * row_value(b, k);
  return sum;
}

template <typename Row>
HELIX_AVX2 void axpy_of(float a, const Row* x, float* y, std::int64_t n) {
  __m256 av = _mm256_set1_ps(a);
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_fmadd_ps(av, load8(x + k), _mm256_loadu_ps(y + k)));
  for (; k < n; ++k) y[k] += a * row_value(x, k);
}

// One row's dot product for dot_rows: two 8-lane partial sums over steps of 16.
template <typename Row>
HELIX_AVX2 inline float dot_row16(const float* q, const Row* k, std::int64_t n, float scale) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  for (std::int64_t i = 0; i < n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(k + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load8(k + i + 8), a1);
  }
  return hsum(_mm256_add_ps(a0, a1)) * scale;
}

// Four rows at a time share each load of q; every row gets dot_row16's arithmetic
// whether it is in a group or left over, so a row's score never depends on how the
// positions were split into calls. Dimensions that are not a multiple of 16 use
// dot_of for every row.
template <typename Row>
HELIX_AVX2 void dot_rows_of(const float* q, const Row* keys, std::int64_t stride, std::int64_t count, std::int64_t n,
                            float scale, float* scores) {
  if (n % 16 != 0) {
    for (std::int64_t j = 0; j < count; ++j) scores[j] = dot_of(q, keys + j * stride, n) * scale;
    return;
  }
  std::int64_t j = 0;
  for (; j + 4 <= count; j += 4) {
    const Row* k0 = keys + j * stride;
    const Row* k1 = k0 + stride;
    const Row* k2 = k1 + stride;
    const Row* k3 = k2 + stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
    for (std::int64_t i = 0; i < n; i += 16) {
      const __m256 q0 = _mm256_loadu_ps(q + i), q1 = _mm256_loadu_ps(q + i + 8);
      a0 = _mm256_fmadd_ps(q0, load8(k0 + i), a0);
      a1 = _mm256_fmadd_ps(q1, load8(k0 + i + 8), a1);
      b0 = _mm256_fmadd_ps(q0, load8(k1 + i), b0);
      b1 = _mm256_fmadd_ps(q1, load8(k1 + i + 8), b1);
      c0 = _mm256_fmadd_ps(q0, load8(k2 + i), c0);
      c1 = _mm256_fmadd_ps(q1, load8(k2 + i + 8), c1);
      d0 = _mm256_fmadd_ps(q0, load8(k3 + i), d0);
      d1 = _mm256_fmadd_ps(q1, load8(k3 + i + 8), d1);
    }
    scores[j] = hsum(_mm256_add_ps(a0, a1)) * scale;
    scores[j + 1] = hsum(_mm256_add_ps(b0, b1)) * scale;
    scores[j + 2] = hsum(_mm256_add_ps(c0, c1)) * scale;
    scores[j + 3] = hsum(_mm256_add_ps(d0, d1)) * scale;
  }
  for (; j < count; ++j) scores[j] = dot_row16(q, keys + j * stride, n, scale);
}

// out kept in registers 64 floats at a time while every row is added to it: one
// fma per row and value, in row order, as repeated axpy_of calls would do.
template <typename Row>
HELIX_AVX2 void axpy_rows_of(const float* weights, const Row* values, std::int64_t stride, std::int64_t count,
                             std::int64_t n, float* out) {
  std::int64_t k = 0;
  for (; k + 64 <= n; k += 64) {
    __m256 acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = _mm256_loadu_ps(out + k + 8 * i);
    for (std::int64_t j = 0; j < count; ++j) {
      const __m256 w = _mm256_set1_ps(weights[j]);
      const Row* v = values + j * stride + k;
      for (int i = 0; i < 8; ++i) acc[i] = _mm256_fmadd_ps(w, load8(v + 8 * i), acc[i]);
    }
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(out + k + 8 * i, acc[i]);
  }
  if (k < n) {
    for (std::int64_t j = 0; j < count; ++j) axpy_of(weights[j], values + j * stride + k, out + k, n - k);
  }
}

}  // namespace

HELIX_AVX2 float dot_avx2(const float* a, const float* b, std::int64_t n) { return dot_of(a, b, n); }
HELIX_AVX2 void axpy_avx2(float a, const float* x, float* y, std::int64_t n) { axpy_of(a, x, y, n); }

HELIX_AVX2 void dot_rows_avx2(const float* q, const float* keys, std::int64_t stride, std::int64_t count,
                              std::int64_t n, float scale, float* scores) {
  dot_rows_of(q, keys, stride, count, n, scale, scores);
}
HELIX_AVX2 void dot_rows_avx2(const float* q, const std::uint16_t* keys, std::int64_t stride, std::int64_t count,
                              std::int64_t n, float scale, float* scores) {
  dot_rows_of(q, keys, stride, count, n, scale, scores);
}
HELIX_AVX2 void axpy_rows_avx2(const float* weights, const float* values, std::int64_t stride, std::int64_t count,
                               std::int64_t n, float* out) {
  axpy_rows_of(weights, values, stride, count, n, out);
}
HELIX_AVX2 void axpy_rows_avx2(const float* weights, const std::uint16_t* values, std::int64_t stride,
                               std::int64_t count, std::int64_t n, float* out) {
  axpy_rows_of(weights, values, stride, count, n, out);
}

HELIX_AVX2 float sum_squares_avx2(const float* x, std::int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  std::int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m256 a = _mm256_loadu_ps(x + k), b = _mm256_loadu_ps(x + k + 8);
    s0 = _mm256_fmadd_ps(a, a, s0);
    s1 = _mm256_fmadd_ps(b, b, s1);
  }
  for (; k + 8 <= n; k += 8) {
    __m256 a = _mm256_loadu_ps(x + k);
    s0 = _mm256_fmadd_ps(a, a, s0);
  }
  float sum = hsum(_mm256_add_ps(s0, s1));
  for (; k < n; ++k) sum += x[k] * x[k];
  return sum;
}

HELIX_AVX2 void scale_mul_avx2(const float* x, float scale, const float* weight, std::int64_t n, float* out) {
  __m256 s = _mm256_set1_ps(scale);
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps(out + k, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + k), s), _mm256_loadu_ps(weight + k)));
  for (; k < n; ++k) out[k] = x[k] * scale * weight[k];
}

HELIX_AVX2 void silu_mul_avx2(const float* gate, const float* up, std::int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    __m256 g = _mm256_loadu_ps(gate + k);
    __m256 sigmoid = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_storeu_ps(out + k, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid), _mm256_loadu_ps(up + k)));
  }
  for (; k < n; ++k) out[k] = gate[k] / (1.0f + std::exp(-gate[k])) * up[k];
}

HELIX_AVX2 void softmax_avx2(float* x, std::int64_t n) {
  __m256 mv = _mm256_set1_ps(-INFINITY);
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + k));
  float max = hmax(mv);
  for (; k < n; ++k) max = std::fmax(max, x[k]);

  __m256 maxv = _mm256_set1_ps(max), sumv = _mm256_setzero_ps();
  for (k = 0; k + 8 <= n; k += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + k), maxv));
    _mm256_storeu_ps(x + k, e);
    sumv = _mm256_add_ps(sumv, e);
  }
  float sum = hsum(sumv);
  for (; k < n; ++k) {
    x[k] = std::exp(x[k] - max);
    sum += x[k];
  }

  __m256 inv = _mm256_set1_ps(1.0f / sum);
  for (k = 0; k + 8 <= n; k += 8) _mm256_storeu_ps(x + k, _mm256_mul_ps(_mm256_loadu_ps(x + k), inv));
  for (; k < n; ++k) x[k] *= 1.0f / sum;
}

HELIX_AVX2 void add_avx2(const float* x, float* y, std::int64_t n) {
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_add_ps(_mm256_loadu_ps(y + k), _mm256_loadu_ps(x + k)));
  for (; k < n; ++k) y[k] += x[k];
}

// vcvtps2ph with round-to-nearest-even: IEEE's rounding, which f32_to_f16 implements
// for the portable path.
HELIX_AVX2 void round_to_f16_avx2(const float* x, std::int64_t n, std::uint16_t* out) {
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + k), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), h);
  }
  for (; k < n; ++k) out[k] = f32_to_f16(x[k]);
}

// vcvtph2ps: exact, as f16_to_f32 is.
HELIX_AVX2 void widen_f16_avx2(const std::byte* halves, std::int64_t n, float* out) {
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    _mm256_storeu_ps(out + k, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(halves + 2 * k))));
  }
  if (k < n) convert_to_f32(DType::F16, halves + 2 * k, n - k, out + k);
}

}  // namespace helix::kernels_detail

#else  // not x86: active_kernel_isa() never picks Avx2 here

namespace helix::kernels_detail {
namespace {
[[noreturn]] void no_avx2() { fail("vector ops: the AVX2 kernels are not built for this CPU architecture"); }
}  // namespace
float dot_avx2(const float*, const float*, std::int64_t) { no_avx2(); }
void axpy_avx2(float, const float*, float*, std::int64_t) { no_avx2(); }
void dot_rows_avx2(const float*, const float*, std::int64_t, std::int64_t, std::int64_t, float, float*) { no_avx2(); }
void axpy_rows_avx2(const float*, const float*, std::int64_t, std::int64_t, std::int64_t, float*) { no_avx2(); }
void dot_rows_avx2(const float*, const std::uint16_t*, std::int64_t, std::int64_t, std::int64_t, float, float*) { no_avx2(); }
void axpy_rows_avx2(const float*, const std::uint16_t*, std::int64_t, std::int64_t, std::int64_t, float*) { no_avx2(); }
float sum_squares_avx2(const float*, std::int64_t) { no_avx2(); }
void scale_mul_avx2(const float*, float, const float*, std::int64_t, float*) { no_avx2(); }
void silu_mul_avx2(const float*, const float*, std::int64_t, float*) { no_avx2(); }
void softmax_avx2(float*, std::int64_t) { no_avx2(); }
void add_avx2(const float*, float*, std::int64_t) { no_avx2(); }
void round_to_f16_avx2(const float*, std::int64_t, std::uint16_t*) { no_avx2(); }
void widen_f16_avx2(const std::byte*, std::int64_t, float*) { no_avx2(); }
}  // namespace helix::kernels_detail

#endif
