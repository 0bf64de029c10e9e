// The engine's projections on the GPU, y = x · Wᵀ: x and y in the current device's
// memory, W a DeviceMatrix, queued on the launch stream (stream.h).
//
// Up to kMatvecMostTokens (8) tokens, the matvec kernels (matvec_kernels.h): each
// token's outputs summed alone, so a decode token gets the same bits in a batch of
// 1 as of 8. Beyond:
//  * F32 (and F16, widened at upload): cuBLAS's sgemm on x as it is;
//  * BF16: cuBLAS, x rounded to bf16 (to nearest, ties to even, as the CPU's amx
//    level rounds x for BF16), products summed in f32 (compute type 32F);
//  * the block types (Q8_0, Q4_0 ... Q6_K), x rounded the same way and their
//    values as the CPU dequantizes them rounded to bf16 (2^-9 relative at most):
//    up to 64 tokens on a GPU of compute capability 8.0 or more, the dequantizing
//    GEMM (dequant_gemm_kernels.h: the matrix read once, as stored); else the
//    matrix widened to bf16 first, then cuBLAS as for BF16.
// cuBLAS and the dequantizing GEMM split the sums by shape, so beyond 8 tokens a
// token's bits can depend on its batch.
// The matvec kernels round x for BF16 weights the same way and multiply the block
// types' values as the CPU dequantizes them (weights_values.h); all agree with a
// float64 product of the rounded x within f32 summation (and, for the block types
// beyond 8 tokens, the widening).
#pragma once

#include <cstdint>
#include <initializer_list>

#include "helix/cuda/device_array.h"
#include "helix/cuda/device_matrix.h"

namespace helix::cuda {

// A cuBLAS handle on the current device, for one thread at a time, with its own
// workspace (so that a step captured into a CUDA graph allocates nothing).
class Cublas {
 public:
  Cublas();
  ~Cublas();
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;
  // The handle, its work queued on the calling thread's launch stream.
  void* bound_handle();
  // The device's compute capability (major), read when the handle was made: the
  // dequantizing GEMM needs 8 (bf16 tensor cores).
  int compute_major() const { return compute_major_; }

 private:
  void* handle_ = nullptr;
  int compute_major_ = 0;
  void* stream_ = nullptr;  // the stream the handle was last bound to
  bool bound_ = false;
  DeviceArray<std::byte> workspace_;
};

// What projections need beside x and y, grown as needed and reused.
struct ProjectionScratch {
  DeviceArray<std::uint16_t> x16;  // x rounded to bf16 (beyond 8 tokens, but for F32 weights)
  DeviceArray<std::uint16_t> w16;  // a block-type matrix widened to bf16 (cuBLAS's path)
  DeviceArray<float> partials;     // the dequantizing GEMM's partial sums over its k splits
  // Grows all three up front, so that the projections of a step with at most
  // `x_values` input values, block-type matrices of at most `w_values` values and
  // dequantizing GEMMs of at most `partial_values` partial sums allocate nothing.
  void reserve(std::int64_t x_values, std::int64_t w_values, std::int64_t partial_values = 0);
  // Counts the times any was replaced (its address changed): a captured graph that
  // reads them is stale once this moves.
  int generation = 0;
};

struct ProjectionOutput {
  const DeviceMatrix* w;
  float* y;  // m x w->rows, row-major
};

// y = x (m x cols, row-major) · wᵀ for every (w, y) of `outputs`, one input for all
// (x rounded once beyond 8 tokens). Every w must have x's cols.
void project(Cublas& cublas, std::initializer_list<ProjectionOutput> outputs, const float* x, std::int64_t m,
             ProjectionScratch& scratch);
void project(Cublas& cublas, const DeviceMatrix& w, const float* x, std::int64_t m, float* y,
             ProjectionScratch& scratch);

// The partial sums the dequantizing GEMM needs for w at up to 64 tokens (0 where it
// needs none): what a stage reserves for its widest matrix.
std::int64_t dequant_gemm_partials(const DeviceMatrix& w);

}  // namespace helix::cuda
