// Portable matmul kernels: the reference the AVX2 path must match, and the path on
// CPUs without AVX2. Each weight row is decoded once (by the weights module's
// convert_to_f32, which reads unaligned data safely) into a per-thread buffer and
// dotted against every activation row with four partial sums.
#include <cstddef>

#include "helix/kernels/matmul_kernels.h"
#include "helix/kernels/scratch.h"
#include "helix/kernels/vector_ops_kernels.h"

namespace helix::kernels_detail {

void gemv_rows_scalar(const WeightMatrix& w, const float* x, std::int64_t m, float* y, std::int64_t row_begin,
                      std::int64_t row_end) {
  float* row = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(w.cols));
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    convert_to_f32(w.dtype, w.row(r), w.cols, row);
    for (std::int64_t i = 0; i < m; ++i) y[i * w.rows + r] = dot_scalar(row, x + i * w.cols, w.cols);
  }
}

void convert_rows_scalar(const WeightMatrix& w, std::int64_t row_begin, std::int64_t count, float* out) {
  convert_to_f32(w.dtype, w.row(row_begin), count * w.cols, out);
}

}  // namespace helix::kernels_detail
