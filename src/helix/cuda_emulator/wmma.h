// nvcuda::wmma (the tensor cores' warp matrix operations) for kernels run by the
// emulator. Each operation is warp-wide, as CUDA documents: every lane must reach
// it (thread_blocks.h's meet_in_warp). A fragment is the whole tile, and the warp's
// last lane does the warp's loads and products. Its stores land when the warp next
// meets at __syncwarp (or the block at __syncthreads, or the block ends): a lane that
// reads a stored tile without waiting for its warp reads what was there before, in
// every warp. Products are f32 sums over k in order, where the tensor cores add in
// an order of their own. No fragment's elements (x[]) are offered: which lane holds
// which element is the hardware's, and the emulator does not pretend to know it.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "helix/cuda_emulator/thread_blocks.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace emulated {

template <typename Use, int M, int N, int K>
struct Shape;
template <int M, int N, int K>
struct Shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct Shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct Shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

inline float value_of(float v) { return v; }
inline float value_of(const __nv_bfloat16& v) { return __bfloat162float(v); }
inline float value_of(const __half& v) { return __half2float(v); }

inline bool warps_worker() {
  const auto& p = helix::cuda_emulator::place();
  const unsigned linear = p.linear;
  const unsigned threads = p.block_dim.x * p.block_dim.y * p.block_dim.z;
  const unsigned warp_end = (linear / 32 + 1) * 32;
  return linear + 1 == (warp_end < threads ? warp_end : threads);
}

}  // namespace emulated

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static constexpr int rows = emulated::Shape<Use, M, N, K>::rows;
  static constexpr int cols = emulated::Shape<Use, M, N, K>::cols;
  float tile[rows * cols];  // (i, j) at i * cols + j
};

template <typename Use, int M, int N, int K, typename T, typename Layout, typename V>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const V& value) {
  for (float& v : f.tile) v = emulated::value_of(value);
}

template <typename Use, int M, int N, int K, typename T, typename Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* p, unsigned ldm) {
  static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>, "a layout for a or b");
  helix::cuda_emulator::meet_in_warp(0xFFFFFFFFu, "wmma::load_matrix_sync");
  if (!emulated::warps_worker()) return;
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int i = 0; i < F::rows; ++i) {
    for (int j = 0; j < F::cols; ++j) {
      const T& e = std::is_same_v<Layout, row_major> ? p[i * ldm + static_cast<unsigned>(j)]
                                                     : p[static_cast<unsigned>(i) + j * ldm];
      f.tile[i * F::cols + j] = emulated::value_of(e);
    }
  }
}

template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  helix::cuda_emulator::meet_in_warp(0xFFFFFFFFu, "wmma::mma_sync");
  if (!emulated::warps_worker()) return;
  float sums[M * N];
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      float s = c.tile[i * N + j];
      for (int k = 0; k < K; ++k) s += a.tile[i * K + k] * b.tile[k * N + j];
      sums[i * N + j] = s;
    }
  }
  for (int i = 0; i < M * N; ++i) d.tile[i] = sums[i];
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
  helix::cuda_emulator::meet_in_warp(0xFFFFFFFFu, "wmma::store_matrix_sync");
  if (!emulated::warps_worker()) return;
  helix::cuda_emulator::defer_to_warp_sync([p, tile = f, ldm, layout] {
    for (int i = 0; i < M; ++i) {
      for (int j = 0; j < N; ++j) {
        const unsigned at = layout == mem_row_major ? static_cast<unsigned>(i) * ldm + static_cast<unsigned>(j)
                                                    : static_cast<unsigned>(i) + static_cast<unsigned>(j) * ldm;
        p[at] = tile.tile[i * N + j];
      }
    }
  });
}

}  // namespace nvcuda::wmma
