// CUDA kernels converting to f32 and bf16: exact from bf16 (and Q8_0's q * d) to
// f32, to nearest (ties to even) from f32 to bf16, the bits the CPU's bf16_to_f32 /
// f32_to_bf16 (weights/dtype.h) give.
#include "helix/cuda/conversion_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/kernel_launch.h"
#include "helix/cuda/launch_stream.h"
#include "helix/cuda/weights_values.h"

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

// One block per token, its threads over the columns: F32 and BF16 a value each,
// the block types 8 values each (weights_values.h).
__global__ void embed_kernel(WeightsView table, const std::int32_t* ids, float* out) {
  const std::int64_t row = ids[blockIdx.x];
  float* to = out + static_cast<std::int64_t>(blockIdx.x) * table.cols;
  if (table.kind == WeightsKind::kF32 || table.kind == WeightsKind::kBf16) {
    for (std::int64_t k = threadIdx.x; k < table.cols; k += blockDim.x) {
      const std::int64_t at = row * table.cols + k;
      to[k] = table.kind == WeightsKind::kF32
                  ? static_cast<const float*>(table.values)[at]
                  : __bfloat162float(__ushort_as_bfloat16(static_cast<const std::uint16_t*>(table.values)[at]));
    }
    return;
  }
  for (std::int64_t k = threadIdx.x * 8; k < table.cols; k += blockDim.x * 8) values8(table, row, k, to + k);
}

}  // namespace

void launch_round_to_bf16(const float* x, std::int64_t n, std::uint16_t* to) {
  const int blocks = static_cast<int>(std::min((n + kThreads - 1) / kThreads, kMostBlocks));
  HELIX_LAUNCH(blocks, kThreads, 0, launch_stream(), round_kernel)(x, n, to);
  check_launch("round_to_bf16");
}

void launch_embed_rows(const WeightsView& table, const std::int32_t* ids, std::int64_t count, float* out) {
  HELIX_LAUNCH(static_cast<unsigned>(count), kThreads, 0, launch_stream(), embed_kernel)(table, ids, out);
  check_launch("embed_rows");
}

}  // namespace helix::cuda_detail
