// CUDA kernels converting to f32 and bf16: exact from bf16 (and Q8_0's q * d) to
// f32, to nearest (ties to even) from f32 to bf16, the bits the CPU's bf16_to_f32 /
// f32_to_bf16 (weights/dtype.h) give.
#include "helix/cuda/conversion_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/launch_stream.h"

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

__device__ float widen(const WeightsView& w, std::int64_t at) {
  switch (w.kind) {
    case WeightsKind::kF32: return static_cast<const float*>(w.values)[at];
    case WeightsKind::kBf16:
      return __bfloat162float(__ushort_as_bfloat16(static_cast<const std::uint16_t*>(w.values)[at]));
    case WeightsKind::kQ8_0: break;
  }
  return static_cast<float>(static_cast<const std::int8_t*>(w.values)[at]) * __half2float(__ushort_as_half(w.scales[at >> 5]));
}

// One block per token, its threads over the columns.
__global__ void embed_kernel(WeightsView table, const std::int32_t* ids, float* out) {
  const std::int64_t row = static_cast<std::int64_t>(ids[blockIdx.x]) * table.cols;
  float* to = out + static_cast<std::int64_t>(blockIdx.x) * table.cols;
  for (std::int64_t k = threadIdx.x; k < table.cols; k += blockDim.x) to[k] = widen(table, row + k);
}

}  // namespace

void launch_round_to_bf16(const float* x, std::int64_t n, std::uint16_t* to) {
  const int blocks = static_cast<int>(std::min((n + kThreads - 1) / kThreads, kMostBlocks));
  round_kernel<<<blocks, kThreads, 0, launch_stream()>>>(x, n, to);
  check_launch("round_to_bf16");
}

void launch_embed_rows(const WeightsView& table, const std::int32_t* ids, std::int64_t count, float* out) {
  embed_kernel<<<static_cast<unsigned>(count), kThreads, 0, launch_stream()>>>(table, ids, out);
  check_launch("embed_rows");
}

}  // namespace helix::cuda_detail
