// PagedKvCache: the keys and values of every sequence a stage is serving, for the
// stage's layers, in fixed-size blocks of tokens. Each sequence owns a block table
// (its blocks in position order), so memory is allocated a block at a time as a
// sequence grows and returned whole when it finishes; no sequence is ever moved.
//
// Capacity is fixed at construction (in tokens or bytes). A request that does not
// fit is refused with KvCacheFull before anything changes — the cache never
// overwrites another sequence's blocks and never half-applies a step.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "helix/core/error.h"

namespace helix {

using SequenceId = std::uint64_t;

class KvCacheFull : public Error {
 public:
  using Error::Error;
};

struct KvCacheOptions {
  std::int64_t capacity_tokens = 0;  // tokens of all sequences together; or
  std::size_t capacity_bytes = 0;    // bytes for K and V of all layers (one of the two)
  int block_tokens = 16;
};

class PagedKvCache {
 public:
  PagedKvCache(int layers, int kv_heads, int head_dim, const KvCacheOptions& options);

  int block_tokens() const { return block_tokens_; }
  std::int64_t total_blocks() const { return total_blocks_; }
  std::int64_t free_blocks() const { return static_cast<std::int64_t>(free_.size()); }
  std::int64_t capacity_tokens() const { return total_blocks_ * block_tokens_; }
  // K and V of one token over the stage's layers.
  std::size_t bytes_per_token() const;

  bool contains(SequenceId id) const { return sequences_.count(id) != 0; }
  int length(SequenceId id) const;  // tokens stored; 0 for an unknown sequence
  std::size_t num_sequences() const { return sequences_.size(); }
  // Blocks a sequence needs beyond those it holds to reach `new_length` tokens.
  std::int64_t blocks_needed(SequenceId id, int new_length) const;

  // Makes room for `new_length` tokens of each listed sequence (created if new).
  // All or nothing: throws KvCacheFull, changing nothing, when the blocks do not suffice.
  void reserve(std::span<const std::pair<SequenceId, int>> growth);
  // Records that positions [0, new_length) are now written.
  void set_length(SequenceId id, int new_length);
  // Frees the sequence's blocks (no-op for an unknown sequence).
  void release(SequenceId id);

  // Storage of one position's K (or V) for all KV heads: kv_heads * head_dim floats.
  float* key(int layer, SequenceId id, int position);
  float* value(int layer, SequenceId id, int position);
  // The block table, for loops that walk positions block by block.
  const std::vector<std::int32_t>& blocks(SequenceId id) const;
  float* key_block(int layer, std::int32_t block) { return slot(keys_.get(), layer, block, 0); }
  float* value_block(int layer, std::int32_t block) { return slot(values_.get(), layer, block, 0); }
  int kv_dim() const { return kv_dim_; }

 private:
  struct Sequence {
    std::vector<std::int32_t> blocks;
    int length = 0;
  };
  float* slot(float* base, int layer, std::int32_t block, int offset) const;
  Sequence& sequence(SequenceId id);

  int layers_, kv_dim_, block_tokens_;
  std::int64_t total_blocks_ = 0;
  std::unique_ptr<float[]> keys_, values_;  // [layer][block][offset][kv_dim], not zeroed
  std::vector<std::int32_t> free_;
  std::unordered_map<SequenceId, Sequence> sequences_;
};

}  // namespace helix
