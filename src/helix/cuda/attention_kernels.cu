// Paged attention, one thread block per (token, head): its warps take the token's
// positions in turn, each keeping an online softmax (running maximum m, sum l and
// the weighted values) over its positions; the warps' states are merged at the end.
// A lane holds head_dim / 32 of the head's values (rounded up; heads narrower than
// a warp leave lanes idle).
#include "helix/cuda/attention_kernels.h"

#include <cmath>

#include "helix/cuda/cuda_status.h"

namespace helix::cuda_detail {
namespace {

constexpr int kWarps = 4;
constexpr int kMostValuesPerLane = 8;  // head_dim <= 256

__device__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;  // in every lane
}

// PerLane = head_dim / 32 rounded up, a template argument so that a lane's values
// stay in registers.
template <int PerLane>
__global__ void paged_attention_kernel(cuda::PagedAttentionShape shape, const float* q, const float* keys,
                                       const float* values, const std::int32_t* tables,
                                       const std::int32_t* table_starts, const std::int32_t* positions, float* out) {
  __shared__ float warp_max[kWarps], warp_total[kWarps];
  __shared__ float warp_acc[kWarps][kMostValuesPerLane * 32];
  const int t = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const int hd = shape.head_dim;
  const int q_dim = shape.heads * hd, kv_dim = shape.kv_heads * hd;
  const int g = h / (shape.heads / shape.kv_heads);
  const int p = positions[t];
  const int lo = shape.sliding_window > 0 ? max(0, p - shape.sliding_window + 1) : 0;
  const float scale = 1.0f / sqrtf(static_cast<float>(hd));
  const std::int32_t* table = tables + table_starts[t];

  float qv[PerLane], acc[PerLane];
  const float* q_head = q + static_cast<std::int64_t>(t) * q_dim + h * hd;
  for (int i = 0; i < PerLane; ++i) {
    const int d = lane + 32 * i;  // past head_dim (heads narrower than 32 lanes): 0, never stored
    qv[i] = d < hd ? q_head[d] : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int j = lo + warp; j <= p; j += kWarps) {
    const std::int64_t row = static_cast<std::int64_t>(table[j / shape.block_tokens]) * shape.block_tokens +
                             j % shape.block_tokens;
    const float* key = keys + row * kv_dim + g * hd;
    const float* value = values + row * kv_dim + g * hd;
    float dot = 0.0f;
    for (int i = 0; i < PerLane; ++i) dot += lane + 32 * i < hd ? qv[i] * key[lane + 32 * i] : 0.0f;
    const float s = warp_sum(dot) * scale;
    const float m_new = fmaxf(m, s);
    const float shrink = expf(m - m_new), weight = expf(s - m_new);
    l = l * shrink + weight;
    for (int i = 0; i < PerLane; ++i)
      if (lane + 32 * i < hd) acc[i] = acc[i] * shrink + weight * value[lane + 32 * i];
    m = m_new;
  }
  if (lane == 0) {
    warp_max[warp] = m;
    warp_total[warp] = l;
  }
  for (int i = 0; i < PerLane; ++i) warp_acc[warp][lane + 32 * i] = acc[i];
  __syncthreads();
  // Merged by the first warp: M the largest maximum (finite: position p is always
  // someone's), each warp's share scaled by e^(m_w - M) (0 for a warp that had none).
  if (warp == 0) {
    float big = warp_max[0];
    for (int w = 1; w < kWarps; ++w) big = fmaxf(big, warp_max[w]);
    float total = 0.0f;
    for (int w = 0; w < kWarps; ++w) total += warp_total[w] * expf(warp_max[w] - big);
    float* out_head = out + static_cast<std::int64_t>(t) * q_dim + h * hd;
    for (int i = 0; i < PerLane; ++i) {
      if (lane + 32 * i >= hd) continue;
      float sum = 0.0f;
      for (int w = 0; w < kWarps; ++w) sum += warp_acc[w][lane + 32 * i] * expf(warp_max[w] - big);
      out_head[lane + 32 * i] = sum / total;
    }
  }
}

// One block per token, its threads over the row.
__global__ void write_kv_kernel(const float* k, const float* v, const std::int32_t* slots, int kv_dim, float* keys,
                                float* values) {
  const std::int64_t from = static_cast<std::int64_t>(blockIdx.x) * kv_dim;
  const std::int64_t to = static_cast<std::int64_t>(slots[blockIdx.x]) * kv_dim;
  for (int i = static_cast<int>(threadIdx.x); i < kv_dim; i += static_cast<int>(blockDim.x)) {
    keys[to + i] = k[from + i];
    values[to + i] = v[from + i];
  }
}

}  // namespace

void launch_write_kv(const float* k, const float* v, const std::int32_t* slots, std::int64_t tokens, int kv_dim,
                     float* keys, float* values) {
  write_kv_kernel<<<static_cast<unsigned>(tokens), 256>>>(k, v, slots, kv_dim, keys, values);
  check_launch("write_kv");
}

void launch_paged_attention(const cuda::PagedAttentionShape& shape, const float* q, const float* keys,
                            const float* values, const std::int32_t* tables, const std::int32_t* table_starts,
                            const std::int32_t* positions, std::int64_t tokens, float* out) {
  const dim3 grid(static_cast<unsigned>(tokens), static_cast<unsigned>(shape.heads));
  const dim3 threads(kWarps * 32);
  switch ((shape.head_dim + 31) / 32) {
    case 1: paged_attention_kernel<1><<<grid, threads>>>(shape, q, keys, values, tables, table_starts, positions, out); break;
    case 2: paged_attention_kernel<2><<<grid, threads>>>(shape, q, keys, values, tables, table_starts, positions, out); break;
    case 3: paged_attention_kernel<3><<<grid, threads>>>(shape, q, keys, values, tables, table_starts, positions, out); break;
    case 4: paged_attention_kernel<4><<<grid, threads>>>(shape, q, keys, values, tables, table_starts, positions, out); break;
    case 5: paged_attention_kernel<5><<<grid, threads>>>(shape, q, keys, values, tables, table_starts, positions, out); break;
    case 6: paged_attention_kernel<6><<<grid, threads>>>(shape, q, keys, values, tables, table_starts, positions, out); break;
    case 7: paged_attention_kernel<7><<<grid, threads>>>(shape, q, keys, values, tables, table_starts, positions, out); break;
    default: paged_attention_kernel<8><<<grid, threads>>>(shape, q, keys, values, tables, table_starts, positions, out); break;
  }
  check_launch("paged_attention");
}

}  // namespace helix::cuda_detail
