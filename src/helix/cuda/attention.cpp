#include "helix/cuda/attention.h"

#include <limits>

#include "helix/core/error.h"
#include "helix/cuda/attention_kernels.h"

namespace helix::cuda {

void write_kv(const float* k, const float* v, const std::int32_t* slots, std::int64_t tokens, int kv_dim, float* keys,
              float* values) {
  if (tokens < 0 || kv_dim <= 0) fail("cuda write_kv: {} tokens of {} values is not a step", tokens, kv_dim);
  if (tokens == 0) return;
  if (tokens > std::numeric_limits<int>::max()) fail("cuda write_kv: {} tokens exceed one launch's grid", tokens);
  if (k == nullptr || v == nullptr || slots == nullptr || keys == nullptr || values == nullptr) {
    fail("cuda write_kv: every array must be a device pointer, not null");
  }
  cuda_detail::launch_write_kv(k, v, slots, tokens, kv_dim, keys, values);
}

void paged_attention(const PagedAttentionShape& shape, const float* q, const float* keys, const float* values,
                     const std::int32_t* tables, const std::int32_t* table_starts, const std::int32_t* positions,
                     std::int64_t tokens, float* out) {
  if (tokens < 0) fail("cuda paged_attention: tokens must be >= 0, got {}", tokens);
  if (shape.heads <= 0 || shape.kv_heads <= 0 || shape.heads % shape.kv_heads != 0) {
    fail("cuda paged_attention: heads ({}) must be a positive multiple of kv_heads ({})", shape.heads, shape.kv_heads);
  }
  if (shape.head_dim <= 0 || shape.head_dim > 256) {
    fail("cuda paged_attention: head_dim must be 1..256, got {}", shape.head_dim);
  }
  if (shape.block_tokens <= 0) fail("cuda paged_attention: block_tokens must be > 0, got {}", shape.block_tokens);
  if (shape.sliding_window < 0) fail("cuda paged_attention: sliding_window must be >= 0, got {}", shape.sliding_window);
  if (shape.heads > 65535) fail("cuda paged_attention: {} heads exceed the grid's second dimension", shape.heads);
  if (tokens == 0) return;
  if (tokens > std::numeric_limits<int>::max()) fail("cuda paged_attention: {} tokens exceed one launch's grid", tokens);
  if (q == nullptr || keys == nullptr || values == nullptr || tables == nullptr || table_starts == nullptr ||
      positions == nullptr || out == nullptr) {
    fail("cuda paged_attention: every array must be a device pointer, not null");
  }
  cuda_detail::launch_paged_attention(shape, q, keys, values, tables, table_starts, positions, tokens, out);
}

}  // namespace helix::cuda
