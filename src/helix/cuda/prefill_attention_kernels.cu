// Prefill attention, flash-attention style: a thread block per (query tile, head),
// a query tile being up to kTileQueries consecutive tokens of one chunk. The block
// walks its sequence's positions 32 at a time: it loads those positions' keys and
// values into shared memory once (rows padded by one float, so that lane j reading
// key j's value d hits bank (j + d) % 32, no two lanes the same), and every query of
// the tile uses them. So each key and value is read from memory once per tile, not
// once per query token as in the per-token kernel (attention_kernels.cu).
//
// Within a warp, lane j scores position j of the 32 against each of the warp's
// queries (q from shared memory, one broadcast per dimension; each key value read
// once for all of them), the warp takes each query's 32 scores' maximum and sum by
// shuffles, and lane d then adds p_j · v_j[d] for its dimensions, p_j passed along
// by shuffles, each value read once for all the queries. Each query keeps an online
// softmax (m, l and the weighted values) across the position tiles. Warps take the
// tile's queries in turn (4 each).
#include "helix/cuda/prefill_attention_kernels.h"

#include <cmath>

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/kernel_launch.h"
#include "helix/cuda/kv_values.h"
#include "helix/cuda/launch_stream.h"
#include "helix/cuda/prefill_tile.h"

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
  const PrefillTile tile = prefill_tile(shape, tiles, tables, table_starts, positions, static_cast<int>(blockIdx.x));
  const int t0 = tile.first_token, count = tile.count, first_position = tile.first_position;
  const int last_position = tile.last_position, lowest = tile.lowest;
  const std::int32_t* table = tile.table;
  const int q_dim = shape.heads * hd, kv_dim = shape.kv_heads * hd;
  const int g = h / (shape.heads / shape.kv_heads);
  const float scale = 1.0f / sqrtf(static_cast<float>(hd));
  const int window = shape.sliding_window;

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
    // The warp's queries with a position in this tile (the same for every lane).
    bool active[kQueriesPerWarp];
    bool any = false;
#pragma unroll
    for (int a = 0; a < kQueriesPerWarp; ++a) {
      const int query = warp + kWarps * a, p = first_position + query;
      const int lo = window > 0 ? max(0, p - window + 1) : 0;
      active[a] = query < count && j0 <= p && j0 + kPositions > lo;
      any = any || active[a];
    }
    if (!any) continue;
    const int j = j0 + lane;
    // Lane j's key against every query of the warp: each key value read from shared
    // memory once for all of them (the queries' values are broadcasts).
    float dot[kQueriesPerWarp];
#pragma unroll
    for (int a = 0; a < kQueriesPerWarp; ++a) dot[a] = 0.0f;
    for (int d = 0; d < hd; ++d) {
      const float k = ks[lane * row + d];
#pragma unroll
      for (int a = 0; a < kQueriesPerWarp; ++a) dot[a] = fmaf(qs[(warp + kWarps * a) * hd + d], k, dot[a]);
    }
    // Each query's online softmax over the tile. A query without a position here
    // (inactive) keeps its state: its weights are 0 and its shrink 1 (or 0 on a
    // state still empty).
    float weight[kQueriesPerWarp];
#pragma unroll
    for (int a = 0; a < kQueriesPerWarp; ++a) {
      const int p = first_position + warp + kWarps * a;
      const int lo = window > 0 ? max(0, p - window + 1) : 0;
      const bool valid = active[a] && j >= lo && j <= p;
      const float s = valid ? dot[a] * scale : -INFINITY;
      float top = s;
      for (int offset = 16; offset > 0; offset /= 2) top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, offset));
      const float m_new = fmaxf(m[a], top);
      const float shrink = m[a] == -INFINITY ? 0.0f : expf(m[a] - m_new);
      weight[a] = valid ? expf(s - m_new) : 0.0f;
      float total = weight[a];
      for (int offset = 16; offset > 0; offset /= 2) total += __shfl_xor_sync(0xffffffffu, total, offset);
      l[a] = l[a] * shrink + total;
      for (int i = 0; i < PerLane; ++i) acc[a][i] *= shrink;
      m[a] = m_new;
    }
    // The weighted values: each value read once for all the warp's queries.
    for (int jj = 0; jj < kPositions; ++jj) {
      float w[kQueriesPerWarp];
#pragma unroll
      for (int a = 0; a < kQueriesPerWarp; ++a) w[a] = __shfl_sync(0xffffffffu, weight[a], jj);
      for (int i = 0; i < PerLane; ++i) {
        const int d = lane + 32 * i;
        if (d >= hd) continue;
        const float v = vs[jj * row + d];
#pragma unroll
        for (int a = 0; a < kQueriesPerWarp; ++a) acc[a][i] = fmaf(w[a], v, acc[a][i]);
      }
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
