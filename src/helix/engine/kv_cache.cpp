#include "helix/engine/kv_cache.h"

namespace helix {
namespace {

int checked_kv_dim(int layers, int kv_heads, int head_dim) {
  if (layers <= 0 || kv_heads * head_dim <= 0) fail("KV cache: layers and kv dimension must be positive");
  return kv_heads * head_dim;
}

}  // namespace

PagedKvCache::PagedKvCache(int layers, int kv_heads, int head_dim, const KvCacheOptions& options)
    : layers_(layers),
      kv_dim_(checked_kv_dim(layers, kv_heads, head_dim)),
      ledger_(options.block_tokens, kv_cache_blocks(options, kv_bytes_per_token(layers, kv_dim_))) {
  std::size_t floats = static_cast<std::size_t>(layers_) * static_cast<std::size_t>(ledger_.total_blocks()) *
                       static_cast<std::size_t>(ledger_.block_tokens()) * static_cast<std::size_t>(kv_dim_);
  // Not value-initialised: pages are only committed as blocks are first written.
  keys_.reset(new float[floats]);
  values_.reset(new float[floats]);
}

std::size_t PagedKvCache::bytes_per_token() const { return kv_bytes_per_token(layers_, kv_dim_); }

float* PagedKvCache::slot(float* base, int layer, std::int32_t block, int offset) const {
  std::size_t index = ((static_cast<std::size_t>(layer) * static_cast<std::size_t>(ledger_.total_blocks()) +
                        static_cast<std::size_t>(block)) *
                           static_cast<std::size_t>(ledger_.block_tokens()) +
                       static_cast<std::size_t>(offset)) *
                      static_cast<std::size_t>(kv_dim_);
  return base + index;
}

float* PagedKvCache::key(int layer, SequenceId id, int position) {
  const int bt = ledger_.block_tokens();
  return slot(keys_.get(), layer, blocks(id)[static_cast<std::size_t>(position / bt)], position % bt);
}

float* PagedKvCache::value(int layer, SequenceId id, int position) {
  const int bt = ledger_.block_tokens();
  return slot(values_.get(), layer, blocks(id)[static_cast<std::size_t>(position / bt)], position % bt);
}

}  // namespace helix
