// Launches of the GPU's conversions to f32 and bf16 (x rounded for BF16 weights, an
// embedding row widened), arguments already checked (projection.cpp, embedding.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "helix/cuda/weights_view.h"

namespace helix::cuda_detail {

// to[i] = x[i] rounded to bf16, to nearest, ties to even.
void launch_round_to_bf16(const float* x, std::int64_t n, std::uint16_t* to);

// Row ids[t] of a table as f32 into out[t * table.cols ...], for t < count: exact
// for F32 and BF16; the block types' values as the CPU dequantizes them.
void launch_embed_rows(const WeightsView& table, const std::int32_t* ids, std::int64_t count, float* out);

}  // namespace helix::cuda_detail
