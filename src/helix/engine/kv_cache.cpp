#include "helix/engine/kv_cache.h"

#include <algorithm>

namespace helix {

PagedKvCache::PagedKvCache(int layers, int kv_heads, int head_dim, const KvCacheOptions& options)
    : layers_(layers), kv_dim_(kv_heads * head_dim), block_tokens_(options.block_tokens) {
  if (layers <= 0 || kv_dim_ <= 0) fail("KV cache: layers and kv dimension must be positive");
  if (block_tokens_ <= 0 || block_tokens_ > 4096) {
    fail("KV cache: block size {} tokens is outside 1..4096", block_tokens_);
  }
  if ((options.capacity_tokens > 0) == (options.capacity_bytes > 0)) {
    fail("KV cache: give exactly one of a capacity in tokens or in bytes");
  }
  std::int64_t tokens = options.capacity_tokens > 0
                            ? options.capacity_tokens
                            : static_cast<std::int64_t>(options.capacity_bytes / bytes_per_token());
  total_blocks_ = tokens / block_tokens_;
  if (total_blocks_ <= 0) {
    fail("KV cache: capacity holds {} tokens, less than one block of {}", tokens, block_tokens_);
  }
  if (total_blocks_ > (1LL << 31) - 1) fail("KV cache: {} blocks is too many", total_blocks_);
  std::size_t floats = static_cast<std::size_t>(layers_) * static_cast<std::size_t>(total_blocks_) *
                       static_cast<std::size_t>(block_tokens_) * static_cast<std::size_t>(kv_dim_);
  // Not value-initialised: pages are only committed as blocks are first written.
  keys_.reset(new float[floats]);
  values_.reset(new float[floats]);
  free_.resize(static_cast<std::size_t>(total_blocks_));
  // Hand out low block numbers first (pop from the back).
  for (std::int64_t i = 0; i < total_blocks_; ++i) {
    free_[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(total_blocks_ - 1 - i);
  }
}

std::size_t PagedKvCache::bytes_per_token() const {
  return 2 * static_cast<std::size_t>(layers_) * static_cast<std::size_t>(kv_dim_) * sizeof(float);
}

int PagedKvCache::length(SequenceId id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? 0 : it->second.length;
}

std::int64_t PagedKvCache::blocks_needed(SequenceId id, int new_length) const {
  auto it = sequences_.find(id);
  std::int64_t held = it == sequences_.end() ? 0 : static_cast<std::int64_t>(it->second.blocks.size());
  std::int64_t want = (static_cast<std::int64_t>(new_length) + block_tokens_ - 1) / block_tokens_;
  return std::max<std::int64_t>(0, want - held);
}

void PagedKvCache::reserve(std::span<const std::pair<SequenceId, int>> growth) {
  std::int64_t needed = 0;
  for (const auto& [id, len] : growth) needed += blocks_needed(id, len);
  if (needed > free_blocks()) {
    throw KvCacheFull(fmt::format("KV cache full: the step needs {} more blocks of {} tokens, {} of {} are free",
                                  needed, block_tokens_, free_blocks(), total_blocks_));
  }
  for (const auto& [id, len] : growth) {
    Sequence& s = sequences_[id];
    for (std::int64_t n = blocks_needed(id, len); n > 0; --n) {
      s.blocks.push_back(free_.back());
      free_.pop_back();
    }
  }
}

PagedKvCache::Sequence& PagedKvCache::sequence(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) fail("KV cache: unknown sequence {}", id);
  return it->second;
}

void PagedKvCache::set_length(SequenceId id, int new_length) {
  Sequence& s = sequence(id);
  if (new_length < 0 || static_cast<std::int64_t>(new_length) >
                            static_cast<std::int64_t>(s.blocks.size()) * block_tokens_) {
    fail("KV cache: sequence {} length {} exceeds its {} reserved blocks", id, new_length, s.blocks.size());
  }
  s.length = new_length;
}

void PagedKvCache::release(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return;
  for (auto b = it->second.blocks.rbegin(); b != it->second.blocks.rend(); ++b) free_.push_back(*b);
  sequences_.erase(it);
}

float* PagedKvCache::slot(float* base, int layer, std::int32_t block, int offset) const {
  std::size_t index = ((static_cast<std::size_t>(layer) * static_cast<std::size_t>(total_blocks_) +
                        static_cast<std::size_t>(block)) *
                           static_cast<std::size_t>(block_tokens_) +
                       static_cast<std::size_t>(offset)) *
                      static_cast<std::size_t>(kv_dim_);
  return base + index;
}

const std::vector<std::int32_t>& PagedKvCache::blocks(SequenceId id) const {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) fail("KV cache: unknown sequence {}", id);
  return it->second.blocks;
}

float* PagedKvCache::key(int layer, SequenceId id, int position) {
  const auto& b = blocks(id);
  return slot(keys_.get(), layer, b[static_cast<std::size_t>(position / block_tokens_)], position % block_tokens_);
}

float* PagedKvCache::value(int layer, SequenceId id, int position) {
  const auto& b = blocks(id);
  return slot(values_.get(), layer, b[static_cast<std::size_t>(position / block_tokens_)], position % block_tokens_);
}

}  // namespace helix
