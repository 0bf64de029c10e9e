// The launches behind elementwise.h, arguments already checked (elementwise.cpp).
#pragma once

#include <cstdint>

namespace helix::cuda_detail {

void launch_rms_norm_rows(const float* x, const float* weight, float eps, std::int64_t rows, std::int64_t n,
                          float* out);
void launch_add_rms_norm_rows(const float* h, float* x, const float* weight, float eps, std::int64_t rows,
                              std::int64_t n, float* out);
void launch_silu_mul(const float* gate, const float* up, std::int64_t n, float* out);
void launch_add(const float* x, float* y, std::int64_t n);
void launch_add_to_rows(const float* row, std::int64_t rows, std::int64_t n, float* y);
void launch_gather_rows(const float* x, const std::int32_t* rows, std::int64_t count, std::int64_t n, float* out);

}  // namespace helix::cuda_detail
