// The launch behind attention.h's prefill_attention on the tensor cores, arguments
// already checked (attention.cpp).
#pragma once

#include <cstdint>

#include "helix/cuda/attention.h"

namespace helix::cuda_detail {

// keys and values: an f16 cache; tiles of up to kTensorCorePrefillTileTokens.
void launch_tensor_core_prefill_attention(const cuda::PagedAttentionShape& shape, const float* q, const void* keys,
                                          const void* values, const std::int32_t* tables,
                                          const std::int32_t* table_starts, const std::int32_t* positions,
                                          const std::int32_t* tiles, std::int64_t tile_count, float* out);

}  // namespace helix::cuda_detail
