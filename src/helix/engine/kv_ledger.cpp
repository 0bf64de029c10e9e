#include "helix/engine/kv_ledger.h"

#include <algorithm>

namespace helix {

KvCacheOptions default_kv_options(const KvCacheOptions& requested) {
  KvCacheOptions o = requested;
  if (o.capacity_tokens <= 0 && o.capacity_bytes == 0 && o.memory_share == 0) o.capacity_tokens = 4096;
  return o;
}

KvCacheOptions resolve_memory_share(const KvCacheOptions& options, const DeviceMemory& memory, std::size_t held,
                                    std::size_t still_to_hold, std::string_view device) {
  if (options.memory_share == 0) return options;
  KvCacheOptions o = options;
  try {
    o.capacity_bytes = kv_bytes_within_share(options.memory_share, memory, held, still_to_hold);
  } catch (const Error& e) {
    fail("KV cache on {}: {}", device, e.what());
  }
  o.memory_share = 0;
  return o;
}

const char* kv_dtype_name(KvDtype dtype) { return dtype == KvDtype::F16 ? "f16" : "f32"; }

KvDtype parse_kv_dtype(std::string_view text, std::string_view what) {
  if (text == "f32") return KvDtype::F32;
  if (text == "f16") return KvDtype::F16;
  fail("{}: '{}' is not a KV cache type (f32 or f16)", what, text);
}

std::size_t kv_value_bytes(KvDtype dtype) { return dtype == KvDtype::F16 ? 2 : 4; }

std::size_t kv_bytes_per_token(int layers, int kv_dim, KvDtype dtype) {
  return 2 * static_cast<std::size_t>(layers) * static_cast<std::size_t>(kv_dim) * kv_value_bytes(dtype);
}

std::int64_t kv_cache_blocks(const KvCacheOptions& options, std::size_t bytes_per_token) {
  const int block_tokens = options.block_tokens;
  if (block_tokens <= 0 || block_tokens > 4096) fail("KV cache: block size {} tokens is outside 1..4096", block_tokens);
  if (options.memory_share != 0) fail("KV cache: a share of memory must be turned into bytes first");
  if ((options.capacity_tokens > 0) == (options.capacity_bytes > 0)) {
    fail("KV cache: give exactly one of a capacity in tokens or in bytes");
  }
  // A capacity in bytes is an upper bound: past 2^31 - 1 tokens a slot no longer
  // fits the int32 the GPU's step buffers index it with (a tiny model on a big GPU).
  const std::int64_t tokens =
      options.capacity_tokens > 0
          ? options.capacity_tokens
          : static_cast<std::int64_t>(std::min<std::size_t>(options.capacity_bytes / bytes_per_token, kMostKvTokens));
  const std::int64_t blocks = tokens / block_tokens;
  if (blocks <= 0) fail("KV cache: capacity holds {} tokens, less than one block of {}", tokens, block_tokens);
  if (tokens > static_cast<std::int64_t>(kMostKvTokens)) {
    fail("KV cache: {} tokens is more than a cache holds ({})", tokens, kMostKvTokens);
  }
  return blocks;
}

KvBlockLedger::KvBlockLedger(int block_tokens, std::int64_t total_blocks)
    : block_tokens_(block_tokens), total_blocks_(total_blocks) {
  if (block_tokens <= 0 || total_blocks <= 0 || total_blocks > (1LL << 31) - 1) {
    fail("KV cache: {} blocks of {} tokens is not a cache", total_blocks, block_tokens);
  }
  free_.resize(static_cast<std::size_t>(total_blocks_));
  // Hand out low block numbers first (pop from the back).
  for (std::int64_t i = 0; i < total_blocks_; ++i) {
    free_[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(total_blocks_ - 1 - i);
  }
}

int KvBlockLedger::length(SequenceId id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? 0 : it->second.length;
}

std::int64_t KvBlockLedger::blocks_needed(SequenceId id, int new_length) const {
  auto it = sequences_.find(id);
  std::int64_t held = it == sequences_.end() ? 0 : static_cast<std::int64_t>(it->second.blocks.size());
  std::int64_t want = (static_cast<std::int64_t>(new_length) + block_tokens_ - 1) / block_tokens_;
  return std::max<std::int64_t>(0, want - held);
}

void KvBlockLedger::reserve(std::span<const std::pair<SequenceId, int>> growth) {
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

KvBlockLedger::Sequence& KvBlockLedger::sequence(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) fail("KV cache: unknown sequence {}", id);
  return it->second;
}

void KvBlockLedger::set_length(SequenceId id, int new_length) {
  Sequence& s = sequence(id);
  if (new_length < 0 || static_cast<std::int64_t>(new_length) >
                            static_cast<std::int64_t>(s.blocks.size()) * block_tokens_) {
    fail("KV cache: sequence {} length {} exceeds its {} reserved blocks", id, new_length, s.blocks.size());
  }
  s.length = new_length;
}

void KvBlockLedger::release(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return;
  for (auto b = it->second.blocks.rbegin(); b != it->second.blocks.rend(); ++b) free_.push_back(*b);
  sequences_.erase(it);
}

const std::vector<std::int32_t>& KvBlockLedger::blocks(SequenceId id) const {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) fail("KV cache: unknown sequence {}", id);
  return it->second.blocks;
}

}  // namespace helix
