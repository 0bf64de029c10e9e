// CUDA kernels of elementwise.h. Each thread's arithmetic is element_arithmetic.h's,
// the CPU's; what is the GPU's own is how the work is spread: a block per row where
// a row is reduced (RMSNorm), grid-stride loops elsewhere.
#include "helix/cuda/elementwise_kernels.h"

#include <algorithm>

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/kernel_launch.h"
#include "helix/cuda/launch_stream.h"
#include "helix/kernels/element_arithmetic.h"

namespace helix::cuda_detail {
namespace {

constexpr int kThreads = 256;  // per block: 8 warps
constexpr int kWarps = kThreads / 32;
// Grid-stride kernels start at most this many blocks: enough to fill the largest
// GPUs (132 multiprocessors x 16 blocks), few enough that each thread loops.
constexpr std::int64_t kMostBlocks = 4096;

int blocks_for(std::int64_t n) { return static_cast<int>(std::min((n + kThreads - 1) / kThreads, kMostBlocks)); }

__device__ std::int64_t first_index() { return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ std::int64_t grid_stride() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

// The sum of every thread's `value` in the block, returned to every thread: within
// each warp by shuffles, then the warps' sums by the first warp. Once per kernel:
// a second call could overwrite warp_sums while the first warp still reads them.
__device__ float block_sum(float value) {
  __shared__ float warp_sums[kWarps];
  __shared__ float total;
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < kWarps ? warp_sums[lane] : 0.0f;
    for (int offset = kWarps / 2; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
    if (lane == 0) total = value;
  }
  __syncthreads();
  return total;
}

// One block per row.
__global__ void rms_norm_kernel(const float* x, const float* weight, float eps, std::int64_t n, float* out) {
  const float* row = x + static_cast<std::int64_t>(blockIdx.x) * n;
  float* out_row = out + static_cast<std::int64_t>(blockIdx.x) * n;
  float sum_squares = 0.0f;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) sum_squares += row[k] * row[k];
  const float scale = element::rms_scale(block_sum(sum_squares), n, eps);
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) out_row[k] = element::rms_normed(row[k], scale, weight[k]);
}

// One block per row: each thread adds its values of h into x and sums their
// squares, in rms_norm_kernel's order, so the bits are add() then rms_norm_rows().
__global__ void add_rms_norm_kernel(const float* h, float* x, const float* weight, float eps, std::int64_t n,
                                    float* out) {
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * n;
  float sum_squares = 0.0f;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    const float v = x[first + k] + h[first + k];
    x[first + k] = v;
    sum_squares += v * v;
  }
  const float scale = element::rms_scale(block_sum(sum_squares), n, eps);
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    out[first + k] = element::rms_normed(x[first + k], scale, weight[k]);
  }
}

__global__ void silu_mul_kernel(const float* gate, const float* up, std::int64_t n, float* out) {
  for (std::int64_t k = first_index(); k < n; k += grid_stride()) out[k] = element::silu_mul(gate[k], up[k]);
}

__global__ void add_kernel(const float* x, float* y, std::int64_t n) {
  for (std::int64_t k = first_index(); k < n; k += grid_stride()) y[k] += x[k];
}

__global__ void add_to_rows_kernel(const float* row, std::int64_t total, std::int64_t n, float* y) {
  for (std::int64_t k = first_index(); k < total; k += grid_stride()) y[k] += row[k % n];
}

// One block per picked row.
__global__ void gather_rows_kernel(const float* x, const std::int32_t* rows, std::int64_t n, float* out) {
  const float* from = x + static_cast<std::int64_t>(rows[blockIdx.x]) * n;
  float* to = out + static_cast<std::int64_t>(blockIdx.x) * n;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) to[k] = from[k];
}

}  // namespace

void launch_rms_norm_rows(const float* x, const float* weight, float eps, std::int64_t rows, std::int64_t n,
                          float* out) {
  HELIX_LAUNCH(static_cast<unsigned>(rows), kThreads, 0, launch_stream(), rms_norm_kernel)(x, weight, eps, n, out);
  check_launch("rms_norm_rows");
}

void launch_add_rms_norm_rows(const float* h, float* x, const float* weight, float eps, std::int64_t rows,
                              std::int64_t n, float* out) {
  HELIX_LAUNCH(static_cast<unsigned>(rows), kThreads, 0, launch_stream(), add_rms_norm_kernel)(h, x, weight, eps, n,
                                                                                              out);
  check_launch("add_rms_norm_rows");
}

void launch_silu_mul(const float* gate, const float* up, std::int64_t n, float* out) {
  HELIX_LAUNCH(blocks_for(n), kThreads, 0, launch_stream(), silu_mul_kernel)(gate, up, n, out);
  check_launch("silu_mul");
}

void launch_add(const float* x, float* y, std::int64_t n) {
  HELIX_LAUNCH(blocks_for(n), kThreads, 0, launch_stream(), add_kernel)(x, y, n);
  check_launch("add");
}

void launch_add_to_rows(const float* row, std::int64_t rows, std::int64_t n, float* y) {
  HELIX_LAUNCH(blocks_for(rows * n), kThreads, 0, launch_stream(), add_to_rows_kernel)(row, rows * n, n, y);
  check_launch("add_to_rows");
}

void launch_gather_rows(const float* x, const std::int32_t* rows, std::int64_t count, std::int64_t n, float* out) {
  HELIX_LAUNCH(static_cast<unsigned>(count), kThreads, 0, launch_stream(), gather_rows_kernel)(x, rows, n, out);
  check_launch("gather_rows");
}

}  // namespace helix::cuda_detail
