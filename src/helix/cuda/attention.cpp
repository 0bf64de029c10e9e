#include "helix/cuda/attention.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "helix/core/error.h"
#include "helix/cuda/attention_kernels.h"
#include "helix/cuda/cuda_status.h"
#include "helix/cuda/prefill_attention_kernels.h"
#include "helix/cuda/tensor_core_attention_kernels.h"

namespace helix::cuda {

AttentionSplit plan_split(std::int64_t tokens, int longest, int context_length) {
  if (tokens > kSplitMostTokens || longest <= kSplitLongerThan || context_length <= kSplitLongerThan) return {};
  const int chunk = std::max(kFewestSplitPositions, (context_length + kMostSplits - 1) / kMostSplits);
  return {(context_length + chunk - 1) / chunk, chunk, nullptr};
}

std::int64_t split_workspace_floats(const PagedAttentionShape& shape, std::int64_t tokens, int splits) {
  return tokens * shape.heads * splits * (shape.head_dim + 2);
}

PrefillKernel prefill_kernel_for(const PagedAttentionShape& shape, int compute_major) {
  return shape.kv_f16 && compute_major >= 8 && tensor_core_prefill_head_dim(shape.head_dim)
             ? PrefillKernel::kTensorCores
             : PrefillKernel::kCudaCores;
}

int prefill_tile_tokens(PrefillKernel kernel) {
  return kernel == PrefillKernel::kTensorCores ? kTensorCorePrefillTileTokens : kPrefillTileTokens;
}

StepAttention plan_step_attention(const std::vector<int>& chunk_lengths, PrefillKernel kernel) {
  const int tile_tokens = prefill_tile_tokens(kernel);
  // A warp's share of a tile: the CUDA cores' warps take 4 queries, the tensor
  // cores' 16 (an mma's rows), each whether its queries are there or not.
  const int warp_tokens = kernel == PrefillKernel::kTensorCores ? 16 : kPrefillTileTokens / 4;
  const int tile_warps = tile_tokens / warp_tokens;
  StepAttention plan;
  std::int32_t t = 0;
  for (int length : chunk_lengths) {
    if (length <= 0) fail("cuda plan_step_attention: a chunk of {} tokens", length);
    if (length == 1) plan.single_tokens.push_back(t);
    // As few tiles as the size allows, the chunk's warps' shares dealt evenly over
    // them (the last share the rest of the chunk): 65 tokens on the tensor cores
    // are 48 + 17, five warps' work, where 64 + 1 would leave a block nearly idle
    // and 33 + 32 takes as many warps. Every tile ends up with more than one token.
    const int warps = length > 1 ? (length + warp_tokens - 1) / warp_tokens : 0;
    const int tiles = (warps + tile_warps - 1) / tile_warps;
    for (int i = 0, done = 0; i < tiles; ++i) {
      const int share = (warps / tiles + (i < warps % tiles ? 1 : 0)) * warp_tokens;
      const int size = i + 1 < tiles ? share : length - done;
      plan.tiles.push_back(t + done);
      plan.tiles.push_back(size);
      done += size;
    }
    t += length;
  }
  return plan;
}

namespace {

void check_shape(const char* op, const PagedAttentionShape& shape) {
  if (shape.heads <= 0 || shape.kv_heads <= 0 || shape.heads % shape.kv_heads != 0) {
    fail("cuda {}: heads ({}) must be a positive multiple of kv_heads ({})", op, shape.heads, shape.kv_heads);
  }
  if (shape.head_dim <= 0 || shape.head_dim > 256) fail("cuda {}: head_dim must be 1..256, got {}", op, shape.head_dim);
  if (shape.block_tokens <= 0) fail("cuda {}: block_tokens must be > 0, got {}", op, shape.block_tokens);
  if (shape.sliding_window < 0) fail("cuda {}: sliding_window must be >= 0, got {}", op, shape.sliding_window);
  if (shape.heads > 65535) fail("cuda {}: {} heads exceed the grid's second dimension", op, shape.heads);
}

// The tensor cores' kernel: an f16 cache of a head size it is built for, read 16
// bytes at a time, out written 8, on a device with mma.m16n8k16 (below 8.0 the
// kernel traps).
void check_tensor_cores_take(const PagedAttentionShape& shape, const void* keys, const void* values, const float* out) {
  if (!shape.kv_f16 || !tensor_core_prefill_head_dim(shape.head_dim)) {
    fail("cuda prefill_attention: the tensor cores' kernel takes an f16 cache and head_dim 16, 32, 64, 80, 96 or 128 "
         "(got {} values of {})",
         shape.kv_f16 ? "f16" : "f32", shape.head_dim);
  }
  if (reinterpret_cast<std::uintptr_t>(keys) % 16 != 0 || reinterpret_cast<std::uintptr_t>(values) % 16 != 0) {
    fail("cuda prefill_attention: the tensor cores' kernel reads the cache 16 bytes at a time: keys and values must be "
         "16-byte aligned");
  }
  if (reinterpret_cast<std::uintptr_t>(out) % 8 != 0) {
    fail("cuda prefill_attention: the tensor cores' kernel writes pairs of floats: out must be 8-byte aligned");
  }
  int device = 0, major = 0;
  cuda_detail::check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  cuda_detail::check_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
                          "cudaDeviceGetAttribute");
  if (major < 8) {
    fail("cuda prefill_attention: the tensor cores' kernel needs compute capability 8.0 or more (cuda:{} has {}.x)",
         device, major);
  }
}

}  // namespace

void prefill_attention(const PagedAttentionShape& shape, PrefillKernel kernel, const float* q, const void* keys,
                       const void* values, const std::int32_t* tables, const std::int32_t* table_starts,
                       const std::int32_t* positions, const std::int32_t* tiles, std::int64_t tile_count, float* out) {
  check_shape("prefill_attention", shape);
  if (shape.head_dim > kPrefillMostHeadDim) {
    fail("cuda prefill_attention: head_dim must be at most {}, got {}", kPrefillMostHeadDim, shape.head_dim);
  }
  const bool tensor_cores = kernel == PrefillKernel::kTensorCores;
  if (tensor_cores) check_tensor_cores_take(shape, keys, values, out);
  if (tile_count < 0) fail("cuda prefill_attention: tile_count must be >= 0, got {}", tile_count);
  if (tile_count == 0) return;
  if (tile_count > std::numeric_limits<int>::max()) fail("cuda prefill_attention: {} tiles exceed one launch's grid", tile_count);
  if (q == nullptr || keys == nullptr || values == nullptr || tables == nullptr || table_starts == nullptr ||
      positions == nullptr || tiles == nullptr || out == nullptr) {
    fail("cuda prefill_attention: every array must be a device pointer, not null");
  }
  if (tensor_cores) {
    cuda_detail::launch_tensor_core_prefill_attention(shape, q, keys, values, tables, table_starts, positions, tiles,
                                                      tile_count, out);
  } else {
    cuda_detail::launch_prefill_attention(shape, q, keys, values, tables, table_starts, positions, tiles, tile_count,
                                          out);
  }
}

void rotate_and_cache(float* q, const float* k, const float* v, std::int64_t tokens, int heads, int kv_heads,
                      int head_dim, bool half_split, const float* cos, const float* sin, const std::int32_t* slots,
                      void* keys, void* values, bool kv_f16) {
  if (tokens < 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0 || head_dim % 2 != 0) {
    fail("cuda rotate_and_cache: {} tokens of {} heads and {} KV heads of {} values is not a step (head_dim even)",
         tokens, heads, kv_heads, head_dim);
  }
  if (tokens == 0) return;
  if (tokens > std::numeric_limits<int>::max()) fail("cuda rotate_and_cache: {} tokens exceed one launch's grid", tokens);
  if (q == nullptr || k == nullptr || v == nullptr || cos == nullptr || sin == nullptr || slots == nullptr ||
      keys == nullptr || values == nullptr) {
    fail("cuda rotate_and_cache: every array must be a device pointer, not null");
  }
  cuda_detail::launch_rotate_and_cache(q, k, v, tokens, heads, kv_heads, head_dim, half_split, cos, sin, slots, keys,
                                       values, kv_f16);
}

void paged_attention(const PagedAttentionShape& shape, const float* q, const void* keys, const void* values,
                     const std::int32_t* tables, const std::int32_t* table_starts, const std::int32_t* positions,
                     std::int64_t tokens, float* out, const AttentionSplit& split,
                     const std::int32_t* token_list) {
  if (tokens < 0) fail("cuda paged_attention: tokens must be >= 0, got {}", tokens);
  check_shape("paged_attention", shape);
  if (tokens == 0) return;
  if (tokens > std::numeric_limits<int>::max()) fail("cuda paged_attention: {} tokens exceed one launch's grid", tokens);
  if (q == nullptr || keys == nullptr || values == nullptr || tables == nullptr || table_starts == nullptr ||
      positions == nullptr || out == nullptr) {
    fail("cuda paged_attention: every array must be a device pointer, not null");
  }
  if (split.splits > 1 && (split.chunk <= 0 || split.workspace == nullptr || split.splits > 65535)) {
    fail("cuda paged_attention: a split over {} parts needs chunk > 0 (got {}) and a workspace", split.splits,
         split.chunk);
  }
  cuda_detail::launch_paged_attention(shape, q, keys, values, tables, table_starts, positions, tokens, split, token_list,
                                      out);
}

}  // namespace helix::cuda
