// Paged attention, one thread block per (token, head): its warps take the token's
// positions in turn, each keeping an online softmax (running maximum m, sum l and
// the weighted values) over its positions; the warps' states are merged at the end.
// A lane holds head_dim / 32 of the head's values (rounded up; heads narrower than
// a warp leave lanes idle).
#include "helix/cuda/attention_kernels.h"

#include <cmath>

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/kernel_launch.h"
#include "helix/cuda/kv_values.h"
#include "helix/cuda/launch_stream.h"
#include "helix/kernels/element_arithmetic.h"

namespace helix::cuda_detail {
namespace {

constexpr int kWarps = 4;
constexpr int kMostValuesPerLane = 8;  // head_dim <= 256

// e^(m - big) for a state of maximum m merged under the larger maximum big: 0 for a
// state that saw no position (m = -inf), never NaN.
__device__ float weight_of(float m, float big) { return m == -INFINITY ? 0.0f : expf(m - big); }

__device__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;  // in every lane
}

// What one thread block computed over its positions, merged across its warps:
// the running maximum m, the sum l of e^(s - m), and the weighted values (not yet
// divided by l), all in shared memory.
template <int PerLane>
struct BlockState {
  float m, l;
  float acc[kMostValuesPerLane * 32];
};

// The block's warps take positions first..last (inclusive; none when first > last)
// in turn, each keeping an online softmax; the first warp merges them into `state`.
// M is the largest warp maximum (-inf when no warp had a position: then l is 0 and
// acc 0, and the merge weighs nothing).
template <typename Kv, int PerLane>
__device__ void attend(const cuda::PagedAttentionShape& shape, const float* q, const Kv* keys, const Kv* values,
                       const std::int32_t* table, int t, int h, int first, int last, BlockState<PerLane>& state) {
  __shared__ float warp_max[kWarps], warp_total[kWarps];
  __shared__ float warp_acc[kWarps][kMostValuesPerLane * 32];
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const int hd = shape.head_dim;
  const int q_dim = shape.heads * hd, kv_dim = shape.kv_heads * hd;
  const int g = h / (shape.heads / shape.kv_heads);
  const float scale = 1.0f / sqrtf(static_cast<float>(hd));

  float qv[PerLane], acc[PerLane];
  const float* q_head = q + static_cast<std::int64_t>(t) * q_dim + h * hd;
  for (int i = 0; i < PerLane; ++i) {
    const int d = lane + 32 * i;  // past head_dim (heads narrower than 32 lanes): 0, never stored
    qv[i] = d < hd ? q_head[d] : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int j = first + warp; j <= last; j += kWarps) {
    const std::int64_t row = static_cast<std::int64_t>(table[j / shape.block_tokens]) * shape.block_tokens +
                             j % shape.block_tokens;
    const Kv* key = keys + row * kv_dim + g * hd;
    const Kv* value = values + row * kv_dim + g * hd;
    float dot = 0.0f;
    for (int i = 0; i < PerLane; ++i) dot += lane + 32 * i < hd ? qv[i] * kv_load(key, lane + 32 * i) : 0.0f;
    const float s = warp_sum(dot) * scale;
    const float m_new = fmaxf(m, s);
    const float shrink = expf(m - m_new), weight = expf(s - m_new);
    l = l * shrink + weight;
    for (int i = 0; i < PerLane; ++i)
      if (lane + 32 * i < hd) acc[i] = acc[i] * shrink + weight * kv_load(value, lane + 32 * i);
    m = m_new;
  }
  if (lane == 0) {
    warp_max[warp] = m;
    warp_total[warp] = l;
  }
  for (int i = 0; i < PerLane; ++i) warp_acc[warp][lane + 32 * i] = acc[i];
  __syncthreads();
  if (warp == 0) {
    float big = warp_max[0];
    for (int w = 1; w < kWarps; ++w) big = fmaxf(big, warp_max[w]);
    float total = 0.0f;
    for (int w = 0; w < kWarps; ++w) total += warp_total[w] * weight_of(warp_max[w], big);
    for (int i = 0; i < PerLane; ++i) {
      float sum = 0.0f;
      for (int w = 0; w < kWarps; ++w) sum += warp_acc[w][lane + 32 * i] * weight_of(warp_max[w], big);
      state.acc[lane + 32 * i] = sum;
    }
    if (lane == 0) {
      state.m = big;
      state.l = total;
    }
  }
  __syncthreads();
}

// PerLane = head_dim / 32 rounded up, a template argument so that a lane's values
// stay in registers. One block per (token, head) over all its positions: the
// output, normalized.
template <typename Kv, int PerLane>
__global__ void paged_attention_kernel(cuda::PagedAttentionShape shape, const float* q, const Kv* keys,
                                       const Kv* values, const std::int32_t* tables,
                                       const std::int32_t* table_starts, const std::int32_t* positions,
                                       const std::int32_t* token_list, float* out) {
  __shared__ BlockState<PerLane> state;
  const int t = token_list == nullptr ? static_cast<int>(blockIdx.x) : token_list[blockIdx.x];
  const int h = static_cast<int>(blockIdx.y);
  const int p = positions[t];
  const int lo = shape.sliding_window > 0 ? max(0, p - shape.sliding_window + 1) : 0;
  attend<Kv, PerLane>(shape, q, keys, values, tables + table_starts[t], t, h, lo, p, state);
  const int hd = shape.head_dim;
  float* out_head = out + static_cast<std::int64_t>(t) * shape.heads * hd + h * hd;
  for (int d = static_cast<int>(threadIdx.x); d < hd; d += static_cast<int>(blockDim.x)) out_head[d] = state.acc[d] / state.l;
}

// Split over the context (workspace rows by block, not by token, so that a token
// list needs only its own count of them): block (t, h, s) takes positions [s * chunk, (s + 1) *
// chunk) of token t's range and writes its unnormalized state to the workspace:
// per (t, h, s), head_dim values, then m and l.
template <typename Kv, int PerLane>
__global__ void paged_attention_part_kernel(cuda::PagedAttentionShape shape, const float* q, const Kv* keys,
                                            const Kv* values, const std::int32_t* tables,
                                            const std::int32_t* table_starts, const std::int32_t* positions,
                                            const std::int32_t* token_list, int chunk, float* parts) {
  __shared__ BlockState<PerLane> state;
  const int t = token_list == nullptr ? static_cast<int>(blockIdx.x) : token_list[blockIdx.x];
  const int h = static_cast<int>(blockIdx.y), split = static_cast<int>(blockIdx.z);
  const int p = positions[t];
  const int lo = shape.sliding_window > 0 ? max(0, p - shape.sliding_window + 1) : 0;
  const int first = max(lo, split * chunk), last = min(p, (split + 1) * chunk - 1);
  attend<Kv, PerLane>(shape, q, keys, values, tables + table_starts[t], t, h, first, last, state);
  const int hd = shape.head_dim;
  float* part = parts + ((static_cast<std::int64_t>(blockIdx.x) * shape.heads + h) * gridDim.z + split) * (hd + 2);
  for (int d = static_cast<int>(threadIdx.x); d < hd; d += static_cast<int>(blockDim.x)) part[d] = state.acc[d];
  if (threadIdx.x == 0) {
    part[hd] = state.m;
    part[hd + 1] = state.l;
  }
}

// The parts of (t, h) merged as the warps' are: one block per (t, h), a thread per value.
__global__ void merge_parts_kernel(int heads, int head_dim, int splits, const float* parts,
                                   const std::int32_t* token_list, float* out) {
  const int t = token_list == nullptr ? static_cast<int>(blockIdx.x) : token_list[blockIdx.x];
  const int h = static_cast<int>(blockIdx.y);
  const float* first = parts + (static_cast<std::int64_t>(blockIdx.x) * heads + h) * splits * (head_dim + 2);
  float big = -INFINITY;
  for (int s = 0; s < splits; ++s) big = fmaxf(big, first[s * (head_dim + 2) + head_dim]);
  float total = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float* part = first + s * (head_dim + 2);
    total += part[head_dim + 1] * weight_of(part[head_dim], big);
  }
  float* out_head = out + (static_cast<std::int64_t>(t) * heads + h) * head_dim;
  for (int d = static_cast<int>(threadIdx.x); d < head_dim; d += static_cast<int>(blockDim.x)) {
    float sum = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const float* part = first + s * (head_dim + 2);
      sum += part[d] * weight_of(part[head_dim], big);
    }
    out_head[d] = sum / total;
  }
}

template <typename Kv, int PerLane>
void launch_attention(const cuda::PagedAttentionShape& shape, const float* q, const Kv* keys, const Kv* values,
                      const std::int32_t* tables, const std::int32_t* table_starts, const std::int32_t* positions,
                      std::int64_t tokens, const cuda::AttentionSplit& split, const std::int32_t* token_list,
                      float* out) {
  const dim3 threads(kWarps * 32);
  cudaStream_t stream = launch_stream();
  if (split.splits <= 1) {
    const dim3 grid(static_cast<unsigned>(tokens), static_cast<unsigned>(shape.heads));
    HELIX_LAUNCH(grid, threads, 0, stream, paged_attention_kernel<Kv, PerLane>)(
        shape, q, keys, values, tables, table_starts, positions, token_list, out);
    return;
  }
  const dim3 grid(static_cast<unsigned>(tokens), static_cast<unsigned>(shape.heads), static_cast<unsigned>(split.splits));
  HELIX_LAUNCH(grid, threads, 0, stream, paged_attention_part_kernel<Kv, PerLane>)(
      shape, q, keys, values, tables, table_starts, positions, token_list, split.chunk, split.workspace);
  const dim3 merge_grid(static_cast<unsigned>(tokens), static_cast<unsigned>(shape.heads));
  HELIX_LAUNCH(merge_grid, 128, 0, stream, merge_parts_kernel)(
      shape.heads, shape.head_dim, split.splits, split.workspace, token_list, out);
}

// One block per token: its threads over q's pairs (rotated in place), then over the
// KV heads' pairs (k rotated into the cache row) and v's values (copied). Each
// pair's arithmetic is element_arithmetic.h's, the CPU's Rope::rotate's.
template <typename Kv>
__global__ void rotate_and_cache_kernel(float* q, const float* k, const float* v, int heads, int kv_heads,
                                        int head_dim, bool half_split, const float* cos, const float* sin,
                                        const std::int32_t* slots, Kv* keys, Kv* values) {
  const int t = static_cast<int>(blockIdx.x), pairs = head_dim / 2;
  const float* c = cos + static_cast<std::int64_t>(t) * pairs;
  const float* s = sin + static_cast<std::int64_t>(t) * pairs;
  const int q_dim = heads * head_dim, kv_dim = kv_heads * head_dim;
  float* q_row = q + static_cast<std::int64_t>(t) * q_dim;
  for (int at = static_cast<int>(threadIdx.x); at < heads * pairs; at += static_cast<int>(blockDim.x)) {
    const int i = at % pairs;
    float* head = q_row + (at / pairs) * head_dim;
    const element::RopePair p = element::rope_pair(i, pairs, half_split);
    const element::Rotated r = element::rope_rotate(head[p.first], head[p.second], c[i], s[i]);
    head[p.first] = r.first;
    head[p.second] = r.second;
  }
  const float* k_row = k + static_cast<std::int64_t>(t) * kv_dim;
  const float* v_row = v + static_cast<std::int64_t>(t) * kv_dim;
  Kv* key_row = keys + static_cast<std::int64_t>(slots[t]) * kv_dim;
  Kv* value_row = values + static_cast<std::int64_t>(slots[t]) * kv_dim;
  for (int at = static_cast<int>(threadIdx.x); at < kv_heads * pairs; at += static_cast<int>(blockDim.x)) {
    const int i = at % pairs, offset = (at / pairs) * head_dim;
    const element::RopePair p = element::rope_pair(i, pairs, half_split);
    const element::Rotated r = element::rope_rotate(k_row[offset + p.first], k_row[offset + p.second], c[i], s[i]);
    kv_store(key_row, offset + p.first, r.first);
    kv_store(key_row, offset + p.second, r.second);
  }
  for (int d = static_cast<int>(threadIdx.x); d < kv_dim; d += static_cast<int>(blockDim.x)) kv_store(value_row, d, v_row[d]);
}

// The launches for a cache of values Kv: head_dim / 32 lanes' values per thread, rounded up.
template <typename Kv>
void launch_attention_of(const cuda::PagedAttentionShape& shape, const float* q, const Kv* keys, const Kv* values,
                         const std::int32_t* tables, const std::int32_t* table_starts, const std::int32_t* positions,
                         std::int64_t tokens, const cuda::AttentionSplit& split, const std::int32_t* token_list,
                         float* out) {
  switch ((shape.head_dim + 31) / 32) {
    case 1: launch_attention<Kv, 1>(shape, q, keys, values, tables, table_starts, positions, tokens, split, token_list, out); break;
    case 2: launch_attention<Kv, 2>(shape, q, keys, values, tables, table_starts, positions, tokens, split, token_list, out); break;
    case 3: launch_attention<Kv, 3>(shape, q, keys, values, tables, table_starts, positions, tokens, split, token_list, out); break;
    case 4: launch_attention<Kv, 4>(shape, q, keys, values, tables, table_starts, positions, tokens, split, token_list, out); break;
    case 5: launch_attention<Kv, 5>(shape, q, keys, values, tables, table_starts, positions, tokens, split, token_list, out); break;
    case 6: launch_attention<Kv, 6>(shape, q, keys, values, tables, table_starts, positions, tokens, split, token_list, out); break;
    case 7: launch_attention<Kv, 7>(shape, q, keys, values, tables, table_starts, positions, tokens, split, token_list, out); break;
    default: launch_attention<Kv, 8>(shape, q, keys, values, tables, table_starts, positions, tokens, split, token_list, out); break;
  }
}

}  // namespace

void launch_rotate_and_cache(float* q, const float* k, const float* v, std::int64_t tokens, int heads, int kv_heads,
                             int head_dim, bool half_split, const float* cos, const float* sin,
                             const std::int32_t* slots, void* keys, void* values, bool kv_f16) {
  const unsigned blocks = static_cast<unsigned>(tokens);
  if (kv_f16) {
    HELIX_LAUNCH(blocks, 256, 0, launch_stream(), rotate_and_cache_kernel<__half>)(
        q, k, v, heads, kv_heads, head_dim, half_split, cos, sin, slots, static_cast<__half*>(keys),
        static_cast<__half*>(values));
  } else {
    HELIX_LAUNCH(blocks, 256, 0, launch_stream(), rotate_and_cache_kernel<float>)(
        q, k, v, heads, kv_heads, head_dim, half_split, cos, sin, slots, static_cast<float*>(keys),
        static_cast<float*>(values));
  }
  check_launch("rotate_and_cache");
}

void launch_paged_attention(const cuda::PagedAttentionShape& shape, const float* q, const void* keys,
                            const void* values, const std::int32_t* tables, const std::int32_t* table_starts,
                            const std::int32_t* positions, std::int64_t tokens, const cuda::AttentionSplit& split,
                            const std::int32_t* token_list, float* out) {
  if (shape.kv_f16) {
    launch_attention_of(shape, q, static_cast<const __half*>(keys), static_cast<const __half*>(values), tables,
                        table_starts, positions, tokens, split, token_list, out);
  } else {
    launch_attention_of(shape, q, static_cast<const float*>(keys), static_cast<const float*>(values), tables,
                        table_starts, positions, tokens, split, token_list, out);
  }
  check_launch("paged_attention");
}

}  // namespace helix::cuda_detail
