// Dispatch between the AVX2 kernels and the portable loops below (the reference).
#include "helix/kernels/vector_ops.h"

#include <algorithm>
#include <cmath>

#include "helix/core/error.h"
#include "helix/kernels/cpu_features.h"
#include "helix/kernels/element_arithmetic.h"
#include "helix/kernels/vector_ops_kernels.h"
#include "helix/weights/dtype.h"

namespace helix {
namespace {

namespace kd = kernels_detail;

// The avx512 level uses the AVX2 vector ops (a small share of a layer's time), all but
// attention's query blocks, which have AVX-512 kernels of the same bits.
bool use_avx2() { return active_kernel_isa() != KernelIsa::Scalar; }

void check_length(const char* op, std::int64_t n) {
  if (n < 0) fail("{}: length n must be >= 0, got {}", op, n);
}

void check_block(const char* op, int queries, std::int64_t count, std::int64_t n) {
  check_length(op, n);
  check_length(op, count);
  if (queries < 1 || queries > kQueryBlock) fail("{}: queries must be 1..{}, got {}", op, kQueryBlock, queries);
}

bool use_avx512_blocks(std::int64_t n) { return has_avx512_kernels(active_kernel_isa()) && n % 16 == 0; }

// Rows per pass of the portable block loops: one query's scores or weights of them
// copied out of (or into) the [row][query] layout at a time.
constexpr std::int64_t kRowsPerPass = 256;

void softmax_scalar(float* x, std::int64_t n) {
  float max = x[0];
  for (std::int64_t k = 1; k < n; ++k) max = std::fmax(max, x[k]);
  double sum = 0.0;  // one running sum over many terms: double keeps it exact enough
  for (std::int64_t k = 0; k < n; ++k) {
    x[k] = std::exp(x[k] - max);
    sum += x[k];
  }
  auto inv = static_cast<float>(1.0 / sum);
  for (std::int64_t k = 0; k < n; ++k) x[k] *= inv;
}

}  // namespace

float dot(const float* a, const float* b, std::int64_t n) {
  check_length("dot", n);
  return use_avx2() ? kd::dot_avx2(a, b, n) : kd::dot_scalar(a, b, n);
}

void axpy(float a, const float* x, float* y, std::int64_t n) {
  check_length("axpy", n);
  if (use_avx2()) return kd::axpy_avx2(a, x, y, n);
  for (std::int64_t k = 0; k < n; ++k) y[k] += a * x[k];
}

namespace {

// dot_scalar's four partial sums over a row of f32 or f16 (widened exactly).
template <typename Row>
float dot_scalar_of(const float* a, const Row* b, std::int64_t n) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  std::int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * kd::row_value(b, k);
    s1 += a[k + 1] * kd::row_value(b, k + 1);
    s2 += a[k + 2] * kd::row_value(b, k + 2);
    s3 += a[k + 3] * kd::row_value(b, k + 3);
  }
  for (; k < n; ++k) s0 += a[k] * kd::row_value(b, k);
  return (s0 + s1) + (s2 + s3);
}

// The four row loops of vector_ops.h for rows of f32 or of an f16 cache's bits: the
// kernels read both through the same loops, so f16 rows get the bits their widened
// values would get as f32.
template <typename Row>
void dot_rows_of(const float* q, const Row* keys, std::int64_t stride, std::int64_t count, std::int64_t n,
                 float scale, float* scores) {
  check_length("dot_rows", n);
  check_length("dot_rows", count);
  if (use_avx2()) return kd::dot_rows_avx2(q, keys, stride, count, n, scale, scores);
  for (std::int64_t j = 0; j < count; ++j) scores[j] = dot_scalar_of(q, keys + j * stride, n) * scale;
}

template <typename Row>
void axpy_rows_of(const float* weights, const Row* values, std::int64_t stride, std::int64_t count, std::int64_t n,
                  float* out) {
  check_length("axpy_rows", n);
  check_length("axpy_rows", count);
  if (use_avx2()) return kd::axpy_rows_avx2(weights, values, stride, count, n, out);
  for (std::int64_t j = 0; j < count; ++j)
    for (std::int64_t k = 0; k < n; ++k) out[k] += weights[j] * kd::row_value(values, j * stride + k);
}

template <typename Row>
void dot_rows_block_of(const float* q, std::int64_t q_stride, int queries, const Row* keys, std::int64_t stride,
                       std::int64_t count, std::int64_t n, float scale, float* scores) {
  check_block("dot_rows_block", queries, count, n);
  if (count == 0) return;
  if (use_avx512_blocks(n)) return kd::dot_rows_block_avx512(q, q_stride, queries, keys, stride, count, n, scale, scores);
  float row[kRowsPerPass];
  for (std::int64_t j0 = 0; j0 < count; j0 += kRowsPerPass) {  // dot_rows' bits: consecutive calls split rows freely
    const std::int64_t rows = std::min(kRowsPerPass, count - j0);
    for (int i = 0; i < queries; ++i) {
      dot_rows_of(q + i * q_stride, keys + j0 * stride, stride, rows, n, scale, row);
      for (std::int64_t j = 0; j < rows; ++j) scores[(j0 + j) * kQueryBlock + i] = row[j];
    }
  }
}

template <typename Row>
void axpy_rows_block_of(const float* weights, int queries, const Row* values, std::int64_t stride, std::int64_t count,
                        std::int64_t n, float* out, std::int64_t out_stride) {
  check_block("axpy_rows_block", queries, count, n);
  if (count == 0) return;
  if (use_avx512_blocks(n)) return kd::axpy_rows_block_avx512(weights, queries, values, stride, count, n, out, out_stride);
  float row[kRowsPerPass];
  for (std::int64_t j0 = 0; j0 < count; j0 += kRowsPerPass) {
    const std::int64_t rows = std::min(kRowsPerPass, count - j0);
    for (int i = 0; i < queries; ++i) {
      for (std::int64_t j = 0; j < rows; ++j) row[j] = weights[(j0 + j) * kQueryBlock + i];
      axpy_rows_of(row, values + j0 * stride, stride, rows, n, out + i * out_stride);
    }
  }
}

}  // namespace

void dot_rows(const float* q, const float* keys, std::int64_t stride, std::int64_t count, std::int64_t n, float scale,
              float* scores) {
  dot_rows_of(q, keys, stride, count, n, scale, scores);
}
void dot_rows(const float* q, const std::uint16_t* keys, std::int64_t stride, std::int64_t count, std::int64_t n,
              float scale, float* scores) {
  dot_rows_of(q, keys, stride, count, n, scale, scores);
}
void axpy_rows(const float* weights, const float* values, std::int64_t stride, std::int64_t count, std::int64_t n,
               float* out) {
  axpy_rows_of(weights, values, stride, count, n, out);
}
void axpy_rows(const float* weights, const std::uint16_t* values, std::int64_t stride, std::int64_t count,
               std::int64_t n, float* out) {
  axpy_rows_of(weights, values, stride, count, n, out);
}
void dot_rows_block(const float* q, std::int64_t q_stride, int queries, const float* keys, std::int64_t stride,
                    std::int64_t count, std::int64_t n, float scale, float* scores) {
  dot_rows_block_of(q, q_stride, queries, keys, stride, count, n, scale, scores);
}
void dot_rows_block(const float* q, std::int64_t q_stride, int queries, const std::uint16_t* keys,
                    std::int64_t stride, std::int64_t count, std::int64_t n, float scale, float* scores) {
  dot_rows_block_of(q, q_stride, queries, keys, stride, count, n, scale, scores);
}
void axpy_rows_block(const float* weights, int queries, const float* values, std::int64_t stride, std::int64_t count,
                     std::int64_t n, float* out, std::int64_t out_stride) {
  axpy_rows_block_of(weights, queries, values, stride, count, n, out, out_stride);
}
void axpy_rows_block(const float* weights, int queries, const std::uint16_t* values, std::int64_t stride,
                     std::int64_t count, std::int64_t n, float* out, std::int64_t out_stride) {
  axpy_rows_block_of(weights, queries, values, stride, count, n, out, out_stride);
}

void round_to_f16(const float* x, std::int64_t n, std::uint16_t* out) {
  check_length("round_to_f16", n);
  if (use_avx2()) return kd::round_to_f16_avx2(x, n, out);
  for (std::int64_t k = 0; k < n; ++k) out[k] = f32_to_f16(x[k]);
}

void widen_f16(const std::byte* halves, std::int64_t n, float* out) {
  check_length("widen_f16", n);
  if (use_avx2()) return kd::widen_f16_avx2(halves, n, out);
  convert_to_f32(DType::F16, halves, n, out);
}

void rms_norm(const float* x, const float* weight, float eps, std::int64_t n, float* out) {
  check_length("rms_norm", n);
  if (n == 0) return;
  if (!(eps >= 0.0f)) fail("rms_norm: eps must be >= 0, got {}", eps);
  bool avx2 = use_avx2();
  float sum_squares = avx2 ? kd::sum_squares_avx2(x, n) : kd::dot_scalar(x, x, n);
  float scale = element::rms_scale(sum_squares, n, eps);
  if (avx2) return kd::scale_mul_avx2(x, scale, weight, n, out);
  for (std::int64_t k = 0; k < n; ++k) out[k] = element::rms_normed(x[k], scale, weight[k]);
}

void silu_mul(const float* gate, const float* up, std::int64_t n, float* out) {
  check_length("silu_mul", n);
  if (use_avx2()) return kd::silu_mul_avx2(gate, up, n, out);
  for (std::int64_t k = 0; k < n; ++k) out[k] = element::silu_mul(gate[k], up[k]);
}

void softmax(float* x, std::int64_t n) {
  check_length("softmax", n);
  if (n == 0) return;
  if (use_avx2()) return kd::softmax_avx2(x, n);
  softmax_scalar(x, n);
}

void add(const float* x, float* y, std::int64_t n) {
  check_length("add", n);
  if (use_avx2()) return kd::add_avx2(x, y, n);
  for (std::int64_t k = 0; k < n; ++k) y[k] += x[k];
}

namespace kernels_detail {

float dot_scalar(const float* a, const float* b, std::int64_t n) { return dot_scalar_of(a, b, n); }

}  // namespace kernels_detail
}  // namespace helix
