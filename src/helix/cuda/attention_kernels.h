// The launch behind attention.h, arguments already checked (attention.cpp).
#pragma once

#include <cstdint>

#include "helix/cuda/attention.h"

namespace helix::cuda_detail {

void launch_rotate_and_cache(float* q, const float* k, const float* v, std::int64_t tokens, int heads, int kv_heads,
                             int head_dim, bool half_split, const float* cos, const float* sin,
                             const std::int32_t* slots, void* keys, void* values, bool kv_f16);
void launch_paged_attention(const cuda::PagedAttentionShape& shape, const float* q, const void* keys,
                            const void* values, const std::int32_t* tables, const std::int32_t* table_starts,
                            const std::int32_t* positions, std::int64_t tokens, const cuda::AttentionSplit& split,
                            const std::int32_t* token_list, float* out);

}  // namespace helix::cuda_detail
