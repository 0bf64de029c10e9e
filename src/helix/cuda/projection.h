// The engine's projections on the GPU, y = x · Wᵀ, through cuBLAS: x and y in the
// current device's memory, W a DeviceMatrix. The arithmetic per dtype:
//  * BF16 weights: x rounded to bf16 (to nearest, ties to even, as the CPU's amx
//    level rounds x for BF16), products summed in f32 by cuBLAS (compute type 32F);
//  * F32 (and F16, widened at upload): sgemm on x as it is.
// So the GPU agrees with a float64 product of the rounded x within f32 summation.
// Not batch-invariant yet: cuBLAS picks its kernel (and split) by shape, so a token's
// bits can depend on the batch it came in, which the CPU's avx512 and amx levels
// guarantee they do not (a recomputed request keeps its tokens there).
#pragma once

#include <cstdint>

#include "helix/cuda/device_array.h"
#include "helix/cuda/device_matrix.h"

namespace helix::cuda {

// A cuBLAS handle on the current device, for one thread at a time.
class Cublas {
 public:
  Cublas();
  ~Cublas();
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;
  void* handle() const { return handle_; }

 private:
  void* handle_ = nullptr;
};

// y (m x w.rows, row-major) = x (m x w.cols) · wᵀ. `x16` holds x rounded for BF16
// weights; it is grown as needed and may be reused across calls.
void project(Cublas& cublas, const DeviceMatrix& w, const float* x, std::int64_t m, float* y,
             DeviceArray<std::uint16_t>& x16);

}  // namespace helix::cuda
