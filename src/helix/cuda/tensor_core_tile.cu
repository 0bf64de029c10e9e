#include "helix/cuda/tensor_core_tile.h"

#include <cstdint>

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/kernel_launch.h"
#include "helix/cuda/launch_stream.h"
#include "helix/cuda/tensor_core_mma.h"

namespace helix::cuda_detail {
namespace {

// One warp: each lane packs the A, B and C elements the PTX ISA places in its
// registers (tensor_core_mma.h), multiplies, and writes its D elements.
__global__ void tile_product_kernel(const float* a, const float* b, const float* c, float* d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  const int lane = static_cast<int>(threadIdx.x % 32), g = lane / 4, t = lane % 4;
  std::uint32_t ra[4], rb[2];
  for (int r = 0; r < 4; ++r) {
    const int row = g + 8 * (r % 2), col = 2 * t + 8 * (r / 2);
    ra[r] = f16_pair(a[row * 16 + col], a[row * 16 + col + 1]);
  }
  for (int r = 0; r < 2; ++r) {
    const int k = 2 * t + 8 * r;
    rb[r] = f16_pair(b[k * 8 + g], b[(k + 1) * 8 + g]);
  }
  float acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = c[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2];
  mma_16x8x16(acc, ra, rb);
  for (int i = 0; i < 4; ++i) d[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2] = acc[i];
#endif
}

}  // namespace
}  // namespace helix::cuda_detail

namespace helix::cuda {

void tensor_core_tile_product(const float* a, const float* b, const float* c, float* d) {
  HELIX_LAUNCH(1, 32, 0, cuda_detail::launch_stream(), cuda_detail::tile_product_kernel)(a, b, c, d);
  cuda_detail::check_launch("tensor_core_tile_product");
}

}  // namespace helix::cuda
