// Prefill attention, flash-attention style: a thread block per (query tile, head),
// a query tile being up to kTileQueries consecutive tokens of one chunk. The block
// walks its sequence's positions 32 at a time: it loads those positions' keys and
// values into shared memory once (rows padded by one float, so that lane j reading
// key j's value d hits bank (j + d) % 32, no two lanes the same), and every query of
// the tile uses them. So each key and value is read from memory once per tile, not
// once per query token as in the per-token kernel (attention_kernels.cu).
//
// Within a warp, lane j scores position j of the 32 against the query (q from
// shared memory, one broadcast per dimension), the warp takes the 32 scores' maximum
// and sum by shuffles, and lane d then adds p_j · v_j[d] for its dimensions, p_j
// passed along by shuffles. Each query keeps an online softmax (m, l and the
// weighted values) across the position tiles. Warps take the tile's queries in
// turn.
#include "helix/cuda/prefill_attention_kernels.h"

#include <cmath>

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/kernel_launch.h"
#include "helix/cuda/kv_values.h"
#include "helix/cuda/launch_stream.h"

namespace helix::cuda_detail {
namespace {

constexpr int kWarps = 4;
constexpr int kTileQueries = cuda::kPrefillTileTokens;
constexpr int kQueriesPerWarp = kTileQueries / kWarps;
constexpr int kPositions = 32;  // per key tile: one per lane

// Dynamic shared memory: keys and values [32][head_dim + 1], then the tile's
// queries [kTileQueries][head_dim].
std::size_t shared_bytes(int head_dim) {
  return sizeof(float) * (2 * kPositions * (head_dim + 1) + kTileQueries * head_dim);
}

template <typename Kv, int PerLane>
__global__ void __launch_bounds__(kWarps * 32)
    prefill_attention_kernel(cuda::PagedAttentionShape shape, const float* q, const Kv* keys, const Kv* values,
                             const std::int32_t* tables, const std::int32_t* table_starts,
                             const std::int32_t* positions, const std::int32_t* tiles, float* out) {
  HELIX_DYNAMIC_SHARED(float, shared);
  const int hd = shape.head_dim, row = hd + 1;
  float* ks = shared;
  float* vs = ks + kPositions * row;
  float* qs = vs + kPositions * row;
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const int h = static_cast<int>(blockIdx.y);
  const int t0 = tiles[2 * blockIdx.x], count = tiles[2 * blockIdx.x + 1];
  const int q_dim = shape.heads * hd, kv_dim = shape.kv_heads * hd;
  const int g = h / (shape.heads / shape.kv_heads);
  const float scale = 1.0f / sqrtf(static_cast<float>(hd));
  const std::int32_t* table = tables + table_starts[t0];
  const int window = shape.sliding_window;
  // The tile's tokens are consecutive positions of one sequence.
  const int first_position = positions[t0], last_position = positions[t0 + count - 1];
  const int lowest = window > 0 ? max(0, first_position - window + 1) : 0;

  for (int i = static_cast<int>(threadIdx.x); i < count * hd; i += static_cast<int>(blockDim.x)) {
    const int query = i / hd, d = i % hd;
    qs[query * hd + d] = q[static_cast<std::int64_t>(t0 + query) * q_dim + h * hd + d];
  }
  // Unrolled loops over a warp's queries (and `continue`, not `break`) keep these
  // in registers rather than local memory.
  float m[kQueriesPerWarp], l[kQueriesPerWarp], acc[kQueriesPerWarp][PerLane];
#pragma unroll
  for (int a = 0; a < kQueriesPerWarp; ++a) {
    m[a] = -INFINITY;
    l[a] = 0.0f;
    for (int i = 0; i < PerLane; ++i) acc[a][i] = 0.0f;
  }

  for (int j0 = lowest / kPositions * kPositions; j0 <= last_position; j0 += kPositions) {
    __syncthreads();  // the previous tile's keys and values (and, the first time, q) are done with
    for (int i = static_cast<int>(threadIdx.x); i < kPositions * hd; i += static_cast<int>(blockDim.x)) {
      const int jj = i / hd, d = i % hd, j = j0 + jj;
      float k = 0.0f, v = 0.0f;
      if (j <= last_position) {
        const std::int64_t at = (static_cast<std::int64_t>(table[j / shape.block_tokens]) * shape.block_tokens +
                                 j % shape.block_tokens) * kv_dim + g * hd + d;
        k = kv_load(keys, at);
        v = kv_load(values, at);
      }
      ks[jj * row + d] = k;
      vs[jj * row + d] = v;
    }
    __syncthreads();
    const int j = j0 + lane;
#pragma unroll
    for (int a = 0; a < kQueriesPerWarp; ++a) {
      const int query = warp + kWarps * a;
      if (query >= count) continue;
      const int p = first_position + query;
      const int lo = window > 0 ? max(0, p - window + 1) : 0;
      if (j0 > p || j0 + kPositions <= lo) continue;  // no position of this tile for this query
      float dot = 0.0f;
      for (int d = 0; d < hd; ++d) dot = fmaf(qs[query * hd + d], ks[lane * row + d], dot);
      const bool valid = j >= lo && j <= p;
      const float s = valid ? dot * scale : -INFINITY;
      float top = s;
      for (int offset = 16; offset > 0; offset /= 2) top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, offset));
      const float m_new = fmaxf(m[a], top);  // finite: this tile holds one of the query's positions
      const float shrink = m[a] == -INFINITY ? 0.0f : expf(m[a] - m_new);
      const float weight = valid ? expf(s - m_new) : 0.0f;
      float total = weight;
      for (int offset = 16; offset > 0; offset /= 2) total += __shfl_xor_sync(0xffffffffu, total, offset);
      l[a] = l[a] * shrink + total;
      for (int i = 0; i < PerLane; ++i) acc[a][i] *= shrink;
      for (int jj = 0; jj < kPositions; ++jj) {
        const float w = __shfl_sync(0xffffffffu, weight, jj);
        for (int i = 0; i < PerLane; ++i) {
          const int d = lane + 32 * i;
          if (d < hd) acc[a][i] = fmaf(w, vs[jj * row + d], acc[a][i]);
        }
      }
      m[a] = m_new;
    }
  }
#pragma unroll
  for (int a = 0; a < kQueriesPerWarp; ++a) {
    const int query = warp + kWarps * a;
    if (query >= count) continue;
    float* out_head = out + static_cast<std::int64_t>(t0 + query) * q_dim + h * hd;
    for (int i = 0; i < PerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < hd) out_head[d] = acc[a][i] / l[a];
    }
  }
}

template <typename Kv, int PerLane>
void launch(const cuda::PagedAttentionShape& shape, const float* q, const Kv* keys, const Kv* values,
            const std::int32_t* tables, const std::int32_t* table_starts, const std::int32_t* positions,
            const std::int32_t* tiles, std::int64_t tile_count, float* out) {
  const dim3 grid(static_cast<unsigned>(tile_count), static_cast<unsigned>(shape.heads));
  HELIX_LAUNCH(grid, kWarps * 32, shared_bytes(shape.head_dim), launch_stream(),
               prefill_attention_kernel<Kv, PerLane>)(shape, q, keys, values, tables, table_starts, positions, tiles,
                                                      out);
}

template <typename Kv>
void launch_of(const cuda::PagedAttentionShape& shape, const float* q, const Kv* keys, const Kv* values,
               const std::int32_t* tables, const std::int32_t* table_starts, const std::int32_t* positions,
               const std::int32_t* tiles, std::int64_t tile_count, float* out) {
  switch ((shape.head_dim + 31) / 32) {
    case 1: launch<Kv, 1>(shape, q, keys, values, tables, table_starts, positions, tiles, tile_count, out); break;
    case 2: launch<Kv, 2>(shape, q, keys, values, tables, table_starts, positions, tiles, tile_count, out); break;
    case 3: launch<Kv, 3>(shape, q, keys, values, tables, table_starts, positions, tiles, tile_count, out); break;
    default: launch<Kv, 4>(shape, q, keys, values, tables, table_starts, positions, tiles, tile_count, out); break;
  }
}

}  // namespace

void launch_prefill_attention(const cuda::PagedAttentionShape& shape, const float* q, const void* keys,
                              const void* values, const std::int32_t* tables, const std::int32_t* table_starts,
                              const std::int32_t* positions, const std::int32_t* tiles, std::int64_t tile_count,
                              float* out) {
  if (shape.kv_f16) {
    launch_of(shape, q, static_cast<const __half*>(keys), static_cast<const __half*>(values), tables, table_starts,
              positions, tiles, tile_count, out);
  } else {
    launch_of(shape, q, static_cast<const float*>(keys), static_cast<const float*>(values), tables, table_starts,
              positions, tiles, tile_count, out);
  }
  check_launch("prefill_attention");
}

}  // namespace helix::cuda_detail
