// Prefill attention on the tensor cores, flash-attention style, for an f16 KV cache:
// a thread block per (query tile, head), a tile being up to 64 consecutive tokens of
// one chunk, 16 per warp. The block walks its sequence's positions 32 at a time,
// loading their keys and values into shared memory once for the whole tile (keys
// as rows, values transposed, so that every operand register is one 32-bit read;
// rows padded by 8 halves, so that a warp's 32 reads hit 32 banks). Each warp then
//   - scores its 16 queries against the 32 keys: S = Q · Kᵀ on the tensor cores,
//     f32 sums, scaled by 1 / sqrt(d) in f32. The keys are exact (the cache is
//     f16); q, an f32, is scaled by a power of two per row (into f16's range)
//     and split into two f16 parts (tensor_core_mma.h's f16_split_pair), held in
//     registers across the walk, and both multiplied, so the scores are as exact
//     as f32 products would make them;
//   - keeps each query's online softmax: the row's maximum over its 4 lanes by
//     shuffles, its weights exp(s - m) in f32, the running sum in f32, the
//     accumulator's rows scaled as the maximum grows (their places in the
//     registers are PTX's, tensor_core_mma.h);
//   - adds P · V on the tensor cores, the weights scaled by 2^15 and split in two
//     f16 parts as q is (S's accumulator registers are already P's A operands, two
//     8-column tiles per 16 keys), each step's products summed apart and added to
//     the running sums in f32 (the tensor cores' adds truncate).
// Splitting doubles the tensor cores' work, a few percent of a prefill whose
// projections do 50 times as many products, and keeps the CUDA cores' kernel's
// accuracy: against float64 over the same cache, within f32 rounding.
#include "helix/cuda/tensor_core_attention_kernels.h"

#include <cmath>
#include <cstdint>

#include "helix/core/error.h"
#include "helix/cuda/cuda_status.h"
#include "helix/cuda/kernel_launch.h"
#include "helix/cuda/launch_stream.h"
#include "helix/cuda/prefill_tile.h"
#include "helix/cuda/tensor_core_mma.h"

namespace helix::cuda_detail {
namespace {

constexpr int kWarps = 4;
constexpr int kWarpQueries = 16;  // an mma's rows
constexpr int kTileQueries = cuda::kTensorCorePrefillTileTokens;
constexpr int kPositions = 32;    // keys per step: 4 of an mma's 8 columns when scored, 2 of its 16 k when summed
constexpr int kPad = 8;           // halves after each shared row
static_assert(kTileQueries == kWarps * kWarpQueries, "a tile is its warps' queries");

__host__ __device__ constexpr int key_stride(int head_dim) { return head_dim + kPad; }
__host__ __device__ constexpr int value_stride() { return kPositions + kPad; }

// Dynamic shared memory: keys [32][head_dim + 8], then values transposed
// [head_dim][32 + 8], halves.
std::size_t shared_bytes(int head_dim) {
  return sizeof(__half) * (static_cast<std::size_t>(kPositions) * key_stride(head_dim) +
                           static_cast<std::size_t>(head_dim) * value_stride());
}

// Row j of the cache for KV head g, 16-byte piece c.
template <int D>
__device__ std::int64_t cache_at(const cuda::PagedAttentionShape& shape, const std::int32_t* table, int g, int j,
                                 int c) {
  return (static_cast<std::int64_t>(table[j / shape.block_tokens]) * shape.block_tokens + j % shape.block_tokens) *
             (shape.kv_heads * D) + g * D + c * 8;
}

// The block's 32 positions from j0: keys and values of KV head g, zeros past
// `last` (their weights are 0, and 0 · NaN would not be). Keys go row by row, a
// warp's threads along a row; values by column of 16-byte pieces, a warp's threads
// down 32 rows, so that their transposed stores fill 16 banks with pairs of halves
// rather than one bank 16 times.
template <int D>
__device__ void load_positions(const cuda::PagedAttentionShape& shape, const __half* keys, const __half* values,
                               const std::int32_t* table, int g, int j0, int last, __half* ks, __half* vt) {
  constexpr int kChunks = D / 8;  // 16-byte pieces of a row
  for (int i = static_cast<int>(threadIdx.x); i < kPositions * kChunks; i += static_cast<int>(blockDim.x)) {
    const int jj = i / kChunks, c = i % kChunks, j = j0 + jj;
    const uint4 k = j <= last ? *reinterpret_cast<const uint4*>(keys + cache_at<D>(shape, table, g, j, c))
                              : make_uint4(0, 0, 0, 0);
    *reinterpret_cast<uint4*>(ks + jj * key_stride(D) + c * 8) = k;
  }
  for (int i = static_cast<int>(threadIdx.x); i < kPositions * kChunks; i += static_cast<int>(blockDim.x)) {
    const int jj = i % kPositions, c = i / kPositions, j = j0 + jj;
    const uint4 v = j <= last ? *reinterpret_cast<const uint4*>(values + cache_at<D>(shape, table, g, j, c))
                              : make_uint4(0, 0, 0, 0);
    const __half* vh = reinterpret_cast<const __half*>(&v);
#pragma unroll
    for (int e = 0; e < 8; ++e) vt[(c * 8 + e) * value_stride() + jj] = vh[e];
  }
}

template <int D>
__global__ void __launch_bounds__(kWarps * 32)
    tensor_core_prefill_kernel(cuda::PagedAttentionShape shape, const float* q, const __half* keys,
                               const __half* values, const std::int32_t* tables, const std::int32_t* table_starts,
                               const std::int32_t* positions, const std::int32_t* tiles, float* out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // mma.m16n8k16: attention.cpp picks this kernel from compute capability 8.0 on
#else
  constexpr float kWeightScale = 32768.0f;  // 2^15: softmax weights (at most 1) times this go to the tensor cores
  HELIX_DYNAMIC_SHARED(uint4, shared);
  __half* ks = reinterpret_cast<__half*>(shared);
  __half* vt = ks + kPositions * key_stride(D);
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const int g8 = lane / 4, t4 = lane % 4;  // the lane's places in the mma operands
  const int h = static_cast<int>(blockIdx.y);
  const PrefillTile tile = prefill_tile(shape, tiles, tables, table_starts, positions, static_cast<int>(blockIdx.x));
  const int t0 = tile.first_token, count = tile.count, first_position = tile.first_position;
  const int last_position = tile.last_position, lowest = tile.lowest;
  const std::int32_t* table = tile.table;
  const int q_dim = shape.heads * D;
  const int g = h / (shape.heads / shape.kv_heads);
  const float scale = 1.0f / sqrtf(static_cast<float>(D));
  const int window = shape.sliding_window;

  // The warp's queries: rows r of its 16 are tile queries warp * 16 + r; this lane
  // holds rows g8 and g8 + 8 (index 0 and 1 below).
  const int warp_first = warp * kWarpQueries;
  const int warp_count = min(kWarpQueries, count - warp_first);  // <= 0: the warp has none
  int row_position[2];
  bool row_live[2];
  for (int r = 0; r < 2; ++r) {
    row_live[r] = g8 + 8 * r < warp_count;
    row_position[r] = first_position + warp_first + g8 + 8 * r;
  }

  // This lane's q values of row `row` (0 or 1) for the 16 dimensions from 16 s, as
  // A operands place them: register r holds dimensions 2 t4 + 8 (r / 2) and the next.
  const auto q_row = [&](int row) {
    return q + static_cast<std::int64_t>(t0 + warp_first + g8 + 8 * row) * q_dim + h * D + 2 * t4;
  };
  // Each row's scale: a power of two that brings its largest |q| into [2^14, 2^15),
  // so that q / scale splits into f16 parts without leaving f16's range (65504)
  // however large q is, nor its normal range however small. The scores take the
  // scale back, exactly.
  float up[2], row_scale[2];
#pragma unroll
  for (int row = 0; row < 2; ++row) {
    float top = 0.0f;
    if (row_live[row]) {
      for (int d = 0; d < D; d += 8) top = fmaxf(top, fmaxf(fabsf(q_row(row)[d]), fabsf(q_row(row)[d + 1])));
    }
    top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, 1));
    top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, 2));
    int e = 0;
    frexpf(top, &e);  // top < 2^e
    const int shift = min(126, max(-126, 15 - e));
    up[row] = ldexpf(1.0f, shift);
    row_scale[row] = ldexpf(1.0f, -shift);
  }
  // q / scale as A operands, one per 16 dimensions, each split in two (rows past
  // the tile's end 0).
  std::uint32_t q_big[D / 16][4], q_small[D / 16][4];
#pragma unroll
  for (int s = 0; s < D / 16; ++s) {
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int row = r % 2, d = s * 16 + 8 * (r / 2);
      const float lo = row_live[row] ? q_row(row)[d] * up[row] : 0.0f;
      const float hi = row_live[row] ? q_row(row)[d + 1] * up[row] : 0.0f;
      const F16Split split = f16_split_pair(lo, hi);
      q_big[s][r] = split.big;
      q_small[s][r] = split.small;
    }
  }
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};  // l: this lane's columns' share
  float o[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {
#pragma unroll
    for (int i = 0; i < 4; ++i) o[n][i] = 0.0f;
  }

  const int warp_lowest = window > 0 ? max(0, first_position + warp_first - window + 1) : 0;
  const int warp_highest = first_position + warp_first + warp_count - 1;
  for (int j0 = lowest / kPositions * kPositions; j0 <= last_position; j0 += kPositions) {
    __syncthreads();  // the previous positions are done with
    load_positions<D>(shape, keys, values, table, g, j0, last_position, ks, vt);
    __syncthreads();
    // Nothing of these 32 positions for any of the warp's queries (the same for
    // every lane): the warp waits for the next ones.
    if (warp_count <= 0 || j0 > warp_highest || j0 + kPositions <= warp_lowest) continue;

    // S = Q · Kᵀ: four 8-key column tiles.
    float s[4][4];
#pragma unroll
    for (int n = 0; n < 4; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) s[n][i] = 0.0f;
#pragma unroll
      for (int k = 0; k < D / 16; ++k) {
        const __half* key = ks + (n * 8 + g8) * key_stride(D) + k * 16 + 2 * t4;
        const std::uint32_t b[2] = {f16_pair_at(key), f16_pair_at(key + 8)};
        mma_16x8x16(s[n], q_big[k], b);
        mma_16x8x16(s[n], q_small[k], b);
      }
    }
    // The online softmax of this lane's two rows.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int p = row_position[r], lo = window > 0 ? max(0, p - window + 1) : 0;
      float top = -INFINITY;
#pragma unroll
      for (int n = 0; n < 4; ++n) {
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int j = j0 + n * 8 + 2 * t4 + c;
          float& v = s[n][2 * r + c];
          v = row_live[r] && j >= lo && j <= p ? v * (scale * row_scale[r]) : -INFINITY;
          top = fmaxf(top, v);
        }
      }
      top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, 1));
      top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, 2));
      const float m_new = fmaxf(m[r], top);
      const float shrink = m[r] == -INFINITY ? 0.0f : expf(m[r] - m_new);
      float sum = 0.0f;
#pragma unroll
      for (int n = 0; n < 4; ++n) {
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          float& v = s[n][2 * r + c];
          v = v == -INFINITY ? 0.0f : expf(v - m_new);
          sum += v;
        }
      }
      l[r] = l[r] * shrink + sum * kWeightScale;
      m[r] = m_new;
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        o[n][2 * r] *= shrink;
        o[n][2 * r + 1] *= shrink;
      }
    }
    // O += P · V. P's A operands come from S's column tiles as they stand (two per
    // 16 keys), each weight times 2^15 (exact; at most 32768, inside f16's range)
    // and split in two, so that a weight far below the row's largest is not lost to
    // f16's subnormals (below 2^-17 its smaller part still is, an error of at most
    // 2^-40 of the largest weight); O and l end up 2^15 too large alike.
    std::uint32_t p_big[2][4], p_small[2][4];
#pragma unroll
    for (int k = 0; k < 2; ++k) {
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const float* from = s[2 * k + r / 2] + 2 * (r % 2);
        const F16Split split = f16_split_pair(from[0] * kWeightScale, from[1] * kWeightScale);
        p_big[k][r] = split.big;
        p_small[k][r] = split.small;
      }
    }
    // Each 8 dimensions' share of these 32 keys summed apart, then added to O in f32:
    // the tensor cores truncate as they add, and adding each step's products to a
    // long context's running sums on them would bias O by the steps' count.
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      float step_sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
      for (int k = 0; k < 2; ++k) {
        const __half* value = vt + (n * 8 + g8) * value_stride() + k * 16 + 2 * t4;
        const std::uint32_t b[2] = {f16_pair_at(value), f16_pair_at(value + 8)};
        mma_16x8x16(step_sum, p_big[k], b);
        mma_16x8x16(step_sum, p_small[k], b);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) o[n][i] += step_sum[i];
    }
  }
  // Each row's sum over its 4 lanes, then the rows out.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (!row_live[r]) continue;
    float* row = out + static_cast<std::int64_t>(t0 + warp_first + g8 + 8 * r) * q_dim + h * D;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {  // a pair of floats: 8-byte aligned, q_dim and 2 t4 being even
      *reinterpret_cast<float2*>(row + n * 8 + 2 * t4) = make_float2(o[n][2 * r] / l[r], o[n][2 * r + 1] / l[r]);
    }
  }
#endif
}

template <int D>
void launch(const cuda::PagedAttentionShape& shape, const float* q, const __half* keys, const __half* values,
            const std::int32_t* tables, const std::int32_t* table_starts, const std::int32_t* positions,
            const std::int32_t* tiles, std::int64_t tile_count, float* out) {
  const dim3 grid(static_cast<unsigned>(tile_count), static_cast<unsigned>(shape.heads));
  HELIX_LAUNCH(grid, kWarps * 32, shared_bytes(D), launch_stream(), tensor_core_prefill_kernel<D>)(
      shape, q, keys, values, tables, table_starts, positions, tiles, out);
}

}  // namespace

void launch_tensor_core_prefill_attention(const cuda::PagedAttentionShape& shape, const float* q, const void* keys,
                                          const void* values, const std::int32_t* tables,
                                          const std::int32_t* table_starts, const std::int32_t* positions,
                                          const std::int32_t* tiles, std::int64_t tile_count, float* out) {
  const auto* k = static_cast<const __half*>(keys);
  const auto* v = static_cast<const __half*>(values);
  switch (shape.head_dim) {
    case 16: launch<16>(shape, q, k, v, tables, table_starts, positions, tiles, tile_count, out); break;
    case 32: launch<32>(shape, q, k, v, tables, table_starts, positions, tiles, tile_count, out); break;
    case 64: launch<64>(shape, q, k, v, tables, table_starts, positions, tiles, tile_count, out); break;
    case 80: launch<80>(shape, q, k, v, tables, table_starts, positions, tiles, tile_count, out); break;
    case 96: launch<96>(shape, q, k, v, tables, table_starts, positions, tiles, tile_count, out); break;
    case 128: launch<128>(shape, q, k, v, tables, table_starts, positions, tiles, tile_count, out); break;
    default: fail("cuda tensor_core_prefill_attention: no kernel for head_dim {}", shape.head_dim);
  }
  check_launch("tensor_core_prefill_attention");
}

}  // namespace helix::cuda_detail
