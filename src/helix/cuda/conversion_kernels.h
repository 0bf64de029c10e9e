// Launches of the GPU's conversions between f32 and bf16 (the one 16-bit type a
// DeviceMatrix holds: F16 is widened at upload), arguments already checked
// (projection.cpp, embedding.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace helix::cuda_detail {

// to[i] = x[i] rounded to bf16, to nearest, ties to even.
void launch_round_to_bf16(const float* x, std::int64_t n, std::uint16_t* to);

// Row ids[t] of a table (rows of `cols` BF16 or F32 values, row_bytes apart) as f32
// into out[t * cols ...], for t < count.
void launch_embed_rows(const std::byte* table, bool bf16, std::int64_t cols, std::size_t row_bytes,
                       const std::int32_t* ids, std::int64_t count, float* out);

}  // namespace helix::cuda_detail
