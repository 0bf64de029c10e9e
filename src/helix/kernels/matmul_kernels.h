// The per-ISA building blocks of matmul (internal to the kernels module).
//
// matmul.cpp decides the strategy and splits the work over the pool; these do one
// thread's share. Each exists twice, for AVX2+FMA+F16C (matmul_avx2.cpp, compiled
// with target attributes, called only when the CPU has them) and portable C++
// (matmul_scalar.cpp). Both must give the same results within float rounding.
#pragma once

#include <cstdint>

#include "helix/kernels/weight_matrix.h"

namespace helix::kernels_detail {

// Streaming kernel for small m (decode): for weight rows r in [row_begin, row_end)
// and i < m, y[i * w.rows + r] = sum_k x[i * w.cols + k] * W[r][k]. Each weight row
// is read from memory once and dotted against all m activation rows.
void gemv_rows_avx2(const WeightMatrix& w, const float* x, std::int64_t m, float* y, std::int64_t row_begin,
                    std::int64_t row_end);
void gemv_rows_scalar(const WeightMatrix& w, const float* x, std::int64_t m, float* y, std::int64_t row_begin,
                      std::int64_t row_end);

// Decodes rows [row_begin, row_begin + count) of w to f32 into out (count x w.cols,
// row-major), for the sgemm path.
void convert_rows_avx2(const WeightMatrix& w, std::int64_t row_begin, std::int64_t count, float* out);
void convert_rows_scalar(const WeightMatrix& w, std::int64_t row_begin, std::int64_t count, float* out);

}  // namespace helix::kernels_detail
