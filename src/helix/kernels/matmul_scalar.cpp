// Portable matmul kernels: the reference the AVX2 path must match, and the path on
// CPUs without AVX2. Each weight row is decoded once (by the weights module's
// convert_to_f32, which reads unaligned data safely) into a per-thread buffer and
// dotted against every activation row with four partial sums.
#include <cstddef>

#include "helix/kernels/matmul_kernels.h"
#include "helix/kernels/scratch.h"

namespace helix::kernels_detail {
namespace {

float dot_f32(const float* a, const float* b, std::int64_t n) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  std::int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; ++k) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

}  // namespace

void gemv_rows_scalar(const WeightMatrix& w, const float* x, std::int64_t m, float* y, std::int64_t row_begin,
                      std::int64_t row_end) {
  float* row = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(w.cols));
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    convert_to_f32(w.dtype, w.row(r), w.cols, row);
    for (std::int64_t i = 0; i < m; ++i) y[i * w.rows + r] = dot_f32(row, x + i * w.cols, w.cols);
  }
}

void convert_rows_scalar(const WeightMatrix& w, std::int64_t row_begin, std::int64_t count, float* out) {
  convert_to_f32(w.dtype, w.row(row_begin), count * w.cols, out);
}

}  // namespace helix::kernels_detail
