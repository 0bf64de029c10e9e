// Block-type projections of 9 to 64 tokens on the tensor cores, the weights
// decoded in shared memory (projection.h uses them on GPUs of compute capability
// 8.0 and up): the matrix is read once, as stored, where widening it for cuBLAS
// would write and read it again at two bytes a value on every call, which made a
// decode batch of 9 to 64 slower than one of 8. Arguments already checked
// (projection.cpp).
#pragma once

#include <cstdint>

#include "helix/cuda/weights_view.h"

namespace helix::cuda_detail {

inline constexpr int kDequantGemmMostTokens = 64;

// How a rows x cols matrix's k range is split over thread blocks (each writing a
// partial sum that a second kernel adds up in split order, so the bits do not
// depend on timing): more splits for fewer rows, so that about 1024 blocks run.
int dequant_gemm_splits(std::int64_t rows, std::int64_t cols);

// The partial sums a call needs room for: splits x m x rows floats (0 with one split).
std::int64_t dequant_gemm_partial_values(std::int64_t rows, std::int64_t cols, std::int64_t m);

// The most dequant_gemm_partial_values() gives for any matrix and m <= 64.
inline constexpr std::int64_t kDequantGemmMostPartialValues = std::int64_t{kDequantGemmMostTokens} * 65536;

// y[t * rows + r] = sum over k of bf16(w[r][k]) * x16[t * cols + k] for t < m
// (8 < m <= 64), w a block type (cols a multiple of 32), x16 x rounded to bf16,
// products summed in f32 by the tensor cores. `partials`: room for
// dequant_gemm_partial_values() floats.
void launch_dequant_gemm(const WeightsView& w, const std::uint16_t* x16, int m, float* y, float* partials);

}  // namespace helix::cuda_detail
