// CUDA kernels converting between f32 and bf16: exact from bf16 to f32, to nearest
// (ties to even) from f32, the bits the CPU's bf16_to_f32 / f32_to_bf16
// (weights/dtype.h) give.
#include "helix/cuda/conversion_kernels.h"

#include <cuda_bf16.h>

#include <algorithm>

#include "helix/cuda/cuda_status.h"

namespace helix::cuda_detail {
namespace {

constexpr int kThreads = 256;
constexpr std::int64_t kMostBlocks = 4096;

__global__ void round_kernel(const float* x, std::int64_t n, std::uint16_t* to) {
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    to[i] = __bfloat16_as_ushort(__float2bfloat16_rn(x[i]));
  }
}

__device__ float widen(const std::byte* row, bool bf16, std::int64_t k) {
  if (!bf16) return reinterpret_cast<const float*>(row)[k];
  return __bfloat162float(__ushort_as_bfloat16(reinterpret_cast<const std::uint16_t*>(row)[k]));
}

// One block per token, its threads over the columns.
__global__ void embed_kernel(const std::byte* table, bool bf16, std::int64_t cols, std::size_t row_bytes,
                             const std::int32_t* ids, float* out) {
  const std::byte* row = table + static_cast<std::size_t>(ids[blockIdx.x]) * row_bytes;
  float* to = out + static_cast<std::int64_t>(blockIdx.x) * cols;
  for (std::int64_t k = threadIdx.x; k < cols; k += blockDim.x) to[k] = widen(row, bf16, k);
}

}  // namespace

void launch_round_to_bf16(const float* x, std::int64_t n, std::uint16_t* to) {
  const int blocks = static_cast<int>(std::min((n + kThreads - 1) / kThreads, kMostBlocks));
  round_kernel<<<blocks, kThreads>>>(x, n, to);
  check_launch("round_to_bf16");
}

void launch_embed_rows(const std::byte* table, bool bf16, std::int64_t cols, std::size_t row_bytes,
                       const std::int32_t* ids, std::int64_t count, float* out) {
  embed_kernel<<<static_cast<unsigned>(count), kThreads>>>(table, bf16, cols, row_bytes, ids, out);
  check_launch("embed_rows");
}

}  // namespace helix::cuda_detail
