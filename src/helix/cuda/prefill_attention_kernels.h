// The launch behind attention.h's prefill_attention, arguments already checked
// (attention.cpp).
#pragma once

#include <cstdint>

#include "helix/cuda/attention.h"

namespace helix::cuda_detail {

void launch_prefill_attention(const cuda::PagedAttentionShape& shape, const float* q, const void* keys,
                              const void* values, const std::int32_t* tables, const std::int32_t* table_starts,
                              const std::int32_t* positions, const std::int32_t* tiles, std::int64_t tile_count,
                              float* out);

}  // namespace helix::cuda_detail
