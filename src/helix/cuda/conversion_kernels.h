// Launches of the GPU's conversions between f32 and the weights' 16-bit types,
// arguments already checked (projection.cpp, embedding.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace helix::cuda_detail {

// to[i] = x[i] rounded to bf16 (bf16 true) or f16, to nearest, ties to even.
void launch_round_to_16_bits(const float* x, std::int64_t n, bool bf16, std::uint16_t* to);

// Row ids[t] of a table (rows of `cols` values of `dtype_code`: 0 F32, 1 F16, 2 BF16,
// row_bytes apart) widened to f32 into out[t * cols ...], for t < count.
void launch_embed_rows(const std::byte* table, int dtype_code, std::int64_t cols, std::size_t row_bytes,
                       const std::int32_t* ids, std::int64_t count, float* out);

}  // namespace helix::cuda_detail
