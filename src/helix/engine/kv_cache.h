// PagedKvCache: the keys and values of every sequence a stage is serving, for the
// stage's layers, in fixed-size blocks of tokens, in host memory. Which blocks a
// sequence owns is its ledger's (kv_ledger.h: the rules a GPU's cache shares); this
// class adds the storage, [layer][block][offset][kv_dim] values of the options'
// dtype (f32, or f16 rounded as written: kv_ledger.h's KvDtype).
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

  KvDtype dtype() const { return dtype_; }
  int kv_dim() const { return kv_dim_; }

  // Stores one position's K and V (kv_dim floats each, all KV heads), rounded to
  // the cache's dtype. The position must be within the sequence's reserved blocks.
  void write(int layer, SequenceId id, int position, const float* key, const float* value);
  // Reads them back as f32 (what attention sees).
  void read(int layer, SequenceId id, int position, float* key, float* value) const;

  // Attention's view of the storage: position `offset` of `block`, KV head g's
  // head_dim values, the next position kv_dim values on. T is the cache's type:
  // float for f32, std::uint16_t (the f16 bits) for f16; another is an Error.
  template <typename T>
  const T* key_rows(int layer, std::int32_t block, int offset, int g, int head_dim) const;
  template <typename T>
  const T* value_rows(int layer, std::int32_t block, int offset, int g, int head_dim) const;

 private:
  std::size_t index(int layer, std::int32_t block, int offset) const;
  std::size_t position_index(int layer, SequenceId id, int position) const;
  template <typename T>
  const T* rows(const std::byte* base, int layer, std::int32_t block, int offset, int g, int head_dim) const;

  int layers_, kv_dim_;
  KvDtype dtype_;
  KvBlockLedger ledger_;
  std::unique_ptr<std::byte[]> keys_, values_;  // [layer][block][offset][kv_dim] of dtype_, not zeroed
};

}  // namespace helix
