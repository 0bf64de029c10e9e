#include "helix/engine/kv_cache.h"

#include <cstring>

#include "helix/kernels/vector_ops.h"
#include "helix/weights/dtype.h"

namespace helix {
namespace {

std::size_t sz(std::int64_t n) { return static_cast<std::size_t>(n); }

int checked_kv_dim(int layers, int kv_heads, int head_dim) {
  if (layers <= 0 || kv_heads * head_dim <= 0) fail("KV cache: layers and kv dimension must be positive");
  return kv_heads * head_dim;
}

}  // namespace

PagedKvCache::PagedKvCache(int layers, int kv_heads, int head_dim, const KvCacheOptions& options)
    : layers_(layers),
      kv_dim_(checked_kv_dim(layers, kv_heads, head_dim)),
      dtype_(options.dtype),
      ledger_(options.block_tokens, kv_cache_blocks(options, kv_bytes_per_token(layers, kv_dim_, options.dtype))) {
  const std::size_t bytes = index(layers_, 0, 0) * kv_value_bytes(dtype_);
  // Not value-initialised: pages are only committed as blocks are first written.
  keys_.reset(new std::byte[bytes]);
  values_.reset(new std::byte[bytes]);
}

std::size_t PagedKvCache::bytes_per_token() const { return kv_bytes_per_token(layers_, kv_dim_, dtype_); }

// Values (not bytes) before position `offset` of `block` in `layer`.
std::size_t PagedKvCache::index(int layer, std::int32_t block, int offset) const {
  return ((sz(layer) * sz(ledger_.total_blocks()) + sz(block)) * sz(ledger_.block_tokens()) + sz(offset)) *
         sz(kv_dim_);
}

std::size_t PagedKvCache::position_index(int layer, SequenceId id, int position) const {
  const int bt = ledger_.block_tokens();
  return index(layer, blocks(id)[sz(position / bt)], position % bt);
}

void PagedKvCache::write(int layer, SequenceId id, int position, const float* key, const float* value) {
  const std::size_t at = position_index(layer, id, position);
  if (dtype_ == KvDtype::F16) {
    round_to_f16(key, kv_dim_, reinterpret_cast<std::uint16_t*>(keys_.get()) + at);
    round_to_f16(value, kv_dim_, reinterpret_cast<std::uint16_t*>(values_.get()) + at);
  } else {
    std::memcpy(reinterpret_cast<float*>(keys_.get()) + at, key, sz(kv_dim_) * sizeof(float));
    std::memcpy(reinterpret_cast<float*>(values_.get()) + at, value, sz(kv_dim_) * sizeof(float));
  }
}

void PagedKvCache::read(int layer, SequenceId id, int position, float* key, float* value) const {
  const std::size_t at = position_index(layer, id, position) * kv_value_bytes(dtype_);
  const DType stored = dtype_ == KvDtype::F16 ? DType::F16 : DType::F32;
  convert_to_f32(stored, keys_.get() + at, kv_dim_, key);
  convert_to_f32(stored, values_.get() + at, kv_dim_, value);
}

template <typename T>
const T* PagedKvCache::rows(const std::byte* base, int layer, std::int32_t block, int offset, int g,
                           int head_dim) const {
  if (sizeof(T) != kv_value_bytes(dtype_)) fail("KV cache: rows of {}-byte values asked of an {} cache", sizeof(T), kv_dtype_name(dtype_));
  return reinterpret_cast<const T*>(base) + index(layer, block, offset) + sz(g) * sz(head_dim);
}

template <typename T>
const T* PagedKvCache::key_rows(int layer, std::int32_t block, int offset, int g, int head_dim) const {
  return rows<T>(keys_.get(), layer, block, offset, g, head_dim);
}

template <typename T>
const T* PagedKvCache::value_rows(int layer, std::int32_t block, int offset, int g, int head_dim) const {
  return rows<T>(values_.get(), layer, block, offset, g, head_dim);
}

template const float* PagedKvCache::key_rows<float>(int, std::int32_t, int, int, int) const;
template const float* PagedKvCache::value_rows<float>(int, std::int32_t, int, int, int) const;
template const std::uint16_t* PagedKvCache::key_rows<std::uint16_t>(int, std::int32_t, int, int, int) const;
template const std::uint16_t* PagedKvCache::value_rows<std::uint16_t>(int, std::int32_t, int, int, int) const;

}  // namespace helix
