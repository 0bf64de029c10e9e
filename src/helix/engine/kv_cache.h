// PagedKvCache: the keys and values of every sequence a stage is serving, for the
// stage's layers, in fixed-size blocks of tokens, in host memory. Which blocks a
// sequence owns is its ledger's (kv_ledger.h: the rules a GPU's cache shares); this
// class adds the storage, [layer][block][offset][kv_dim] floats.
//
// Capacity is fixed at construction (in tokens or bytes). A request that does not
// fit is refused with KvCacheFull before anything changes — the cache never
// overwrites another sequence's blocks and never half-applies a step.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "helix/engine/kv_ledger.h"

namespace helix {

class PagedKvCache {
 public:
  PagedKvCache(int layers, int kv_heads, int head_dim, const KvCacheOptions& options);

  const KvBlockLedger& ledger() const { return ledger_; }
  KvBlockLedger& ledger() { return ledger_; }
  int block_tokens() const { return ledger_.block_tokens(); }
  std::int64_t total_blocks() const { return ledger_.total_blocks(); }
  std::int64_t free_blocks() const { return ledger_.free_blocks(); }
  std::int64_t capacity_tokens() const { return ledger_.capacity_tokens(); }
  // K and V of one token over the stage's layers.
  std::size_t bytes_per_token() const;

  bool contains(SequenceId id) const { return ledger_.contains(id); }
  int length(SequenceId id) const { return ledger_.length(id); }
  std::size_t num_sequences() const { return ledger_.num_sequences(); }
  std::int64_t blocks_needed(SequenceId id, int new_length) const { return ledger_.blocks_needed(id, new_length); }
  void reserve(std::span<const std::pair<SequenceId, int>> growth) { ledger_.reserve(growth); }
  void set_length(SequenceId id, int new_length) { ledger_.set_length(id, new_length); }
  void release(SequenceId id) { ledger_.release(id); }
  const std::vector<std::int32_t>& blocks(SequenceId id) const { return ledger_.blocks(id); }

  // Storage of one position's K (or V) for all KV heads: kv_heads * head_dim floats.
  float* key(int layer, SequenceId id, int position);
  float* value(int layer, SequenceId id, int position);
  // A block's rows, for loops that walk positions block by block.
  float* key_block(int layer, std::int32_t block) { return slot(keys_.get(), layer, block, 0); }
  float* value_block(int layer, std::int32_t block) { return slot(values_.get(), layer, block, 0); }
  int kv_dim() const { return kv_dim_; }

 private:
  float* slot(float* base, int layer, std::int32_t block, int offset) const;

  int layers_, kv_dim_;
  KvBlockLedger ledger_;
  std::unique_ptr<float[]> keys_, values_;  // [layer][block][offset][kv_dim], not zeroed
};

}  // namespace helix
