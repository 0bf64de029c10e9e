// A thread block computes 32 weight rows for up to 64 tokens over one split of
// the k range, 32 values at a time: its 128 threads decode the rows' next 32
// values (weights_values.h, the CPU's values, rounded to bf16) and copy the tokens'
// next 32 rounded inputs into shared memory, then each of its 4 warps multiplies
// 16 rows by 32 tokens on the tensor cores (wmma, bf16 in, f32 sums). Many blocks
// per multiprocessor (the k splits) hide the loads' latency; no block waits on
// another, and the partial sums are added in split order by a second kernel.
#include "helix/cuda/dequant_gemm_kernels.h"

#include <cuda_bf16.h>
#include <mma.h>

#include <algorithm>

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/kernel_launch.h"
#include "helix/cuda/launch_stream.h"
#include "helix/cuda/weights_values.h"

namespace helix::cuda_detail {
namespace {

constexpr int kRows = 32;                         // weight rows per block
constexpr int kTokens = kDequantGemmMostTokens;   // tokens per block: the whole batch
constexpr int kStep = 32;                         // k values per step
constexpr int kThreads = 128;                     // 4 warps: 2 row halves x 2 token halves
constexpr int kStride = kStep + 8;                // bf16 per shared row: 80 bytes, 16-byte aligned, banks staggered
constexpr int kTargetBlocks = 1024;               // the splits aim at this many blocks per matrix
constexpr int kLeastStepsPerSplit = 4;
constexpr std::int64_t kMostSplitRows = kDequantGemmMostPartialValues / kTokens;  // splits x rows

static_assert(kRows * kStep / 8 == kThreads, "one 8-value group of weights per thread per step");
static_assert(kTokens * kStep / 8 == 2 * kThreads, "two 8-value groups of inputs per thread per step");
static_assert(kStride % 8 == 0, "wmma's leading dimension for 16-bit values is a multiple of 8");

template <WeightsKind Kind>
__global__ void __launch_bounds__(kThreads)
    dequant_gemm_kernel(WeightsView w, const std::uint16_t* __restrict__ x16, int m, int steps_per_split,
                        float* __restrict__ out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // bf16 tensor cores: projection.cpp launches this from compute capability 8.0 on
#else
  namespace wmma = nvcuda::wmma;
  __shared__ __align__(32) __nv_bfloat16 ws[kRows * kStride];
  __shared__ __align__(32) __nv_bfloat16 xs[kTokens * kStride];
  __shared__ __align__(32) float cs[kThreads / 32][16 * 16];
  const int thread = static_cast<int>(threadIdx.x), lane = thread % 32, warp = thread / 32;
  const std::int64_t r0 = static_cast<std::int64_t>(blockIdx.x) * kRows;
  const std::int64_t cols = w.cols, steps = cols / kStep;
  const std::int64_t first_step = static_cast<std::int64_t>(blockIdx.y) * steps_per_split;
  const std::int64_t last_step = first_step + steps_per_split < steps ? first_step + steps_per_split : steps;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2];
  wmma::fill_fragment(acc[0], 0.0f);
  wmma::fill_fragment(acc[1], 0.0f);
  const int row_half = warp % 2, token_half = warp / 2;

  const int w_row = thread / 4, w_part = thread % 4;  // this thread's 8 weights of a step
  for (std::int64_t step = first_step; step < last_step; ++step) {
    const std::int64_t k0 = step * kStep;
    float v[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    if (r0 + w_row < w.rows) values8_of<Kind>(w, r0 + w_row, k0 + 8 * w_part, v);
    __nv_bfloat16* to = ws + w_row * kStride + 8 * w_part;
    for (int i = 0; i < 8; ++i) to[i] = __float2bfloat16_rn(v[i]);
    for (int g = thread; g < kTokens * kStep / 8; g += kThreads) {
      const int t = g / 4, part = g % 4;
      uint4 bits = make_uint4(0, 0, 0, 0);  // tokens past m: zeros, their sums never stored
      if (t < m) bits = *reinterpret_cast<const uint4*>(x16 + static_cast<std::int64_t>(t) * cols + k0 + 8 * part);
      *reinterpret_cast<uint4*>(xs + t * kStride + 8 * part) = bits;
    }
    __syncthreads();
    for (int kk = 0; kk < kStep; kk += 16) {
      // A: 16 rows x 16 k, row-major in ws; B: 16 k x 16 tokens, token t's k
      // values contiguous in xs, so column-major.
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
      wmma::load_matrix_sync(a, ws + row_half * 16 * kStride + kk, kStride);
      for (int f = 0; f < 2; ++f) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
        wmma::load_matrix_sync(b, xs + (token_half * 32 + f * 16) * kStride + kk, kStride);
        wmma::mma_sync(acc[f], a, b, acc[f]);
      }
    }
    __syncthreads();  // ws and xs are refilled next step
  }

  // C (16 rows x 16 tokens) through shared memory, column-major: (i, j) at j * 16 + i.
  const std::int64_t rows = w.rows, split_offset = static_cast<std::int64_t>(blockIdx.y) * m * rows;
  for (int f = 0; f < 2; ++f) {
    wmma::store_matrix_sync(cs[warp], acc[f], 16, wmma::mem_col_major);
    __syncwarp();
    for (int i = lane; i < 16 * 16; i += 32) {
      const std::int64_t r = r0 + row_half * 16 + i % 16;
      const int t = token_half * 32 + f * 16 + i / 16;
      if (r < rows && t < m) out[split_offset + t * rows + r] = cs[warp][i];
    }
    __syncwarp();
  }
#endif
}

// y[i] = the splits' partial sums of i, added in split order.
__global__ void add_splits_kernel(const float* __restrict__ partials, std::int64_t n, int splits, float* __restrict__ y) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float sum = 0.0f;
    for (int s = 0; s < splits; ++s) sum += partials[s * n + i];
    y[i] = sum;
  }
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Steps per split for `splits` wanted splits (the last split may be shorter).
std::int64_t steps_per_split(std::int64_t cols, int splits) { return ceil_div(cols / kStep, splits); }

template <WeightsKind Kind>
void launch_kind(const WeightsView& w, const std::uint16_t* x16, int m, float* y, float* partials) {
  const int splits = dequant_gemm_splits(w.rows, w.cols);
  const dim3 grid(static_cast<unsigned>(ceil_div(w.rows, kRows)), static_cast<unsigned>(splits));
  cudaStream_t s = launch_stream();
  const int per_split = static_cast<int>(steps_per_split(w.cols, splits));
  HELIX_LAUNCH(grid, kThreads, 0, s, dequant_gemm_kernel<Kind>)(w, x16, m, per_split,
                                                                splits == 1 ? y : partials);
  if (splits > 1) {
    const std::int64_t n = static_cast<std::int64_t>(m) * w.rows;
    const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(ceil_div(n, 256), 4096));
    HELIX_LAUNCH(blocks, 256, 0, s, add_splits_kernel)(partials, n, splits, y);
  }
}

}  // namespace

int dequant_gemm_splits(std::int64_t rows, std::int64_t cols) {
  const std::int64_t row_tiles = ceil_div(rows, kRows), steps = cols / kStep;
  std::int64_t splits = ceil_div(kTargetBlocks, row_tiles);
  splits = std::min({splits, steps / kLeastStepsPerSplit, kMostSplitRows / rows});
  if (splits <= 1) return 1;
  // No empty split: as many as the steps per split make.
  return static_cast<int>(ceil_div(steps, steps_per_split(cols, static_cast<int>(splits))));
}

std::int64_t dequant_gemm_partial_values(std::int64_t rows, std::int64_t cols, std::int64_t m) {
  const int splits = dequant_gemm_splits(rows, cols);
  return splits == 1 ? 0 : splits * m * rows;
}

void launch_dequant_gemm(const WeightsView& w, const std::uint16_t* x16, int m, float* y, float* partials) {
  switch (w.kind) {
    case WeightsKind::kQ8_0: launch_kind<WeightsKind::kQ8_0>(w, x16, m, y, partials); break;
    case WeightsKind::kQ4_0: launch_kind<WeightsKind::kQ4_0>(w, x16, m, y, partials); break;
    case WeightsKind::kQ4_1: launch_kind<WeightsKind::kQ4_1>(w, x16, m, y, partials); break;
    case WeightsKind::kQ5_0: launch_kind<WeightsKind::kQ5_0>(w, x16, m, y, partials); break;
    case WeightsKind::kQ5_1: launch_kind<WeightsKind::kQ5_1>(w, x16, m, y, partials); break;
    case WeightsKind::kQ4_K: launch_kind<WeightsKind::kQ4_K>(w, x16, m, y, partials); break;
    case WeightsKind::kQ5_K: launch_kind<WeightsKind::kQ5_K>(w, x16, m, y, partials); break;
    case WeightsKind::kQ6_K: launch_kind<WeightsKind::kQ6_K>(w, x16, m, y, partials); break;
    default: break;  // F32 and BF16 go to cuBLAS (projection.cpp)
  }
  check_launch("dequant_gemm");
}

}  // namespace helix::cuda_detail
