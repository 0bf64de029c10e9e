// The per-ISA vector-op kernels behind vector_ops.h (internal to the kernels module):
// vector_ops_avx2.cpp (target attributes; called only when the CPU has AVX2+FMA)
// and the portable ones in vector_ops.cpp. Arguments are already checked.
#pragma once

#include <cstddef>
#include <cstdint>

#include "helix/kernels/vector_ops.h"  // kQueryBlock
#include "helix/weights/dtype.h"         // f16_to_f32

namespace helix::kernels_detail {

float dot_avx2(const float* a, const float* b, std::int64_t n);
void axpy_avx2(float a, const float* x, float* y, std::int64_t n);
void dot_rows_avx2(const float* q, const float* keys, std::int64_t stride, std::int64_t count, std::int64_t n,
                   float scale, float* scores);
void axpy_rows_avx2(const float* weights, const float* values, std::int64_t stride, std::int64_t count, std::int64_t n,
                    float* out);
// The same over an f16 cache's rows (their bits): the f32 loops' arithmetic on the
// exactly widened values (vcvtph2ps as each vector is loaded).
void dot_rows_avx2(const float* q, const std::uint16_t* keys, std::int64_t stride, std::int64_t count, std::int64_t n,
                   float scale, float* scores);
void axpy_rows_avx2(const float* weights, const std::uint16_t* values, std::int64_t stride, std::int64_t count,
                    std::int64_t n, float* out);
// vector_ops_avx512.cpp: the query-block loops on the avx512 and amx levels, n a
// multiple of 16 (the AVX2 kernels' bits per query).
void dot_rows_block_avx512(const float* q, std::int64_t q_stride, int queries, const float* keys, std::int64_t stride,
                           std::int64_t count, std::int64_t n, float scale, float* scores);
void axpy_rows_block_avx512(const float* weights, int queries, const float* values, std::int64_t stride,
                            std::int64_t count, std::int64_t n, float* out, std::int64_t out_stride);
void dot_rows_block_avx512(const float* q, std::int64_t q_stride, int queries, const std::uint16_t* keys,
                           std::int64_t stride, std::int64_t count, std::int64_t n, float scale, float* scores);
void axpy_rows_block_avx512(const float* weights, int queries, const std::uint16_t* values, std::int64_t stride,
                            std::int64_t count, std::int64_t n, float* out, std::int64_t out_stride);
// sum_k x[k]^2.
float sum_squares_avx2(const float* x, std::int64_t n);
// out = x * scale * weight.
void scale_mul_avx2(const float* x, float scale, const float* weight, std::int64_t n, float* out);
void silu_mul_avx2(const float* gate, const float* up, std::int64_t n, float* out);
void softmax_avx2(float* x, std::int64_t n);
void add_avx2(const float* x, float* y, std::int64_t n);

// vector_ops.h's round_to_f16 with F16C.
void round_to_f16_avx2(const float* x, std::int64_t n, std::uint16_t* out);
// vector_ops.h's widen_f16 with F16C.
void widen_f16_avx2(const std::byte* halves, std::int64_t n, float* out);

// Value k of a row of f32, or of an f16 cache's bits widened exactly: the portable
// loops and the vector kernels' tails read rows of either type through this.
inline float row_value(const float* row, std::int64_t k) { return row[k]; }
inline float row_value(const std::uint16_t* row, std::int64_t k) { return f16_to_f32(row[k]); }

// The portable dot product (four partial sums), shared by vector_ops and the
// scalar matmul so both paths round the same way.
float dot_scalar(const float* a, const float* b, std::int64_t n);

}  // namespace helix::kernels_detail
