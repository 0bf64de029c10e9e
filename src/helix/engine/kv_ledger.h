// KvBlockLedger: which cache blocks each sequence owns, in position order, and how
// many of its positions are written; the free blocks. The bookkeeping of a paged KV
// cache without its storage, so that a cache on the host (PagedKvCache) and one on a
// GPU (cuda/) keep their blocks by the same rules: allocated a block at a time as a
// sequence grows, returned whole when it finishes, never moved.
//
// A request that does not fit is refused with KvCacheFull before anything changes.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "helix/core/device_memory.h"
#include "helix/core/error.h"

namespace helix {

using SequenceId = std::uint64_t;

class KvCacheFull : public Error {
 public:
  using Error::Error;
};

// What a cache stores each key and value as. F32 keeps the f32 the engine computes
// (attention exact to its arithmetic); F16 rounds each to the nearest f16 (IEEE,
// ties to even) as it is written, halving the bytes per token, so a cache of the
// same memory holds twice the tokens and a long context's attention reads half.
// Values beyond f16's range (65504) become infinite: LLaMA-family keys and values
// stay far below it. The rounding is the same whatever the batching, so a token's
// result still does not depend on how it was batched.
enum class KvDtype { F32, F16 };

// "f32" or "f16".
const char* kv_dtype_name(KvDtype dtype);
// Parses "f32" or "f16"; an Error naming `what` (the option or field) otherwise.
KvDtype parse_kv_dtype(std::string_view text, std::string_view what);
std::size_t kv_value_bytes(KvDtype dtype);

struct KvCacheOptions {
  std::int64_t capacity_tokens = 0;  // tokens of all sequences together; or
  std::size_t capacity_bytes = 0;    // bytes for K and V of all layers; or
  double memory_share = 0;           // what is left of this share of the device's memory (one of the three)
  int block_tokens = 16;
  KvDtype dtype = KvDtype::F32;
};

// The most tokens a cache holds: a slot (block x block_tokens + offset) is an int32.
inline constexpr std::size_t kMostKvTokens = (std::size_t{1} << 31) - 1;

// The options a stage's cache gets when the caller set no capacity: 4096 tokens.
KvCacheOptions default_kv_options(const KvCacheOptions& requested);

// The options with a memory share turned into bytes: what kv_bytes_within_share
// leaves of `memory` beside what the stage holds (`held`) and will hold
// (`still_to_hold`). Other options come back as they are. Throws Error naming
// `device` when nothing is left or the cache would not fit.
KvCacheOptions resolve_memory_share(const KvCacheOptions& options, const DeviceMemory& memory, std::size_t held,
                                    std::size_t still_to_hold, std::string_view device);

// Bytes of one token's K and V over `layers` layers of kv_dim values each.
std::size_t kv_bytes_per_token(int layers, int kv_dim, KvDtype dtype);

// The blocks a cache of `options` holds when one token's K and V over the stage's
// layers take `bytes_per_token`. Throws Error naming what is wrong with the options
// (a memory share must have been resolved into bytes first).
std::int64_t kv_cache_blocks(const KvCacheOptions& options, std::size_t bytes_per_token);

class KvBlockLedger {
 public:
  KvBlockLedger(int block_tokens, std::int64_t total_blocks);

  int block_tokens() const { return block_tokens_; }
  std::int64_t total_blocks() const { return total_blocks_; }
  std::int64_t free_blocks() const { return static_cast<std::int64_t>(free_.size()); }
  std::int64_t capacity_tokens() const { return total_blocks_ * block_tokens_; }

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
  // The block table (its blocks in position order); throws for an unknown sequence.
  const std::vector<std::int32_t>& blocks(SequenceId id) const;

 private:
  struct Sequence {
    std::vector<std::int32_t> blocks;
    int length = 0;
  };
  Sequence& sequence(SequenceId id);

  int block_tokens_;
  std::int64_t total_blocks_;
  std::vector<std::int32_t> free_;
  std::unordered_map<SequenceId, Sequence> sequences_;
};

}  // namespace helix
