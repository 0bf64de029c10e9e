// Causal attention over a paged KV cache on the GPU, for any mix of prefill and
// decode tokens: token t (at position p_t of its sequence, whose own key and value
// are already in the cache) attends, per head h, to its sequence's positions lo..p_t
// (lo = p_t - window + 1 with a sliding window, else 0): softmax over q·k / sqrt(d),
// times v. Grouped-query attention: head h reads KV head h / (heads / kv_heads).
//
// The cache layout is the CPU's (engine/kv_cache.h), one layer at a time: keys and
// values [block][offset in block][kv_heads * head_dim] floats; a sequence's block
// table lists its blocks in position order. The softmax is computed online (a
// running maximum and sum per warp, merged at the end), so no score array bounds
// the context; it agrees with the CPU's exact softmax within float rounding.
#pragma once

#include <cstdint>

namespace helix::cuda {

struct PagedAttentionShape {
  int heads = 0, kv_heads = 0, head_dim = 0;  // head_dim at most 256
  int block_tokens = 0;                       // positions per cache block
  int sliding_window = 0;                     // 0: the whole context
};

// Token t's key and value rows (k, v: tokens x kv_heads * head_dim) into the cache
// rows slots[t] (block * block_tokens + offset) of one layer's keys and values.
void write_kv(const float* k, const float* v, const std::int32_t* slots, std::int64_t tokens, int kv_dim, float* keys,
              float* values);

// All pointers in device memory. q and out: tokens x heads * head_dim. Token t's
// block table starts at tables[table_starts[t]]; positions[t] is its position.
void paged_attention(const PagedAttentionShape& shape, const float* q, const float* keys, const float* values,
                     const std::int32_t* tables, const std::int32_t* table_starts, const std::int32_t* positions,
                     std::int64_t tokens, float* out);

}  // namespace helix::cuda
