// Included before a .cu file compiled as host C++ for the emulator (the build
// writes one wrapper per .cu file): CUDA's device-side names, each with its meaning
// on the CPU. Kernels and __device__ functions become plain functions, a block's
// static __shared__ arrays function-local statics (one grid runs at a time, its
// blocks one after another; each block finds what the last one left there, where
// dynamic shared memory starts as NaN), threadIdx and the rest the running fiber's place, the
// barriers and shuffles those of thread_blocks.h, the tensor cores wmma.h's and mma.h's.
// __CUDA_ARCH__ stays undefined: the emulated device has compute capability 9.0.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "helix/cuda_emulator/kernel_launch.h"
#include "helix/cuda_emulator/mma.h"
#include "helix/cuda_emulator/thread_blocks.h"
#include "helix/cuda_emulator/wmma.h"

// What a .cu file tests to reach the emulator where nvcc would take inline PTX
// (helix/cuda/tensor_core_mma.h).
#define HELIX_CUDA_EMULATED 1

#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __shared__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __forceinline__
#define __shared__ static
#define __launch_bounds__(...)

#define threadIdx (::helix::cuda_emulator::place().thread)
#define blockIdx (::helix::cuda_emulator::place().block)
#define blockDim (::helix::cuda_emulator::place().block_dim)
#define gridDim (::helix::cuda_emulator::place().grid_dim)

#define HELIX_LAUNCH(grid, block, shared, stream, ...)                                                  \
  ::helix::cuda_emulator::Launch{#__VA_ARGS__, dim3(grid), dim3(block), static_cast<std::size_t>(shared), \
                                 stream}                                                                \
      .of(__VA_ARGS__)
#define HELIX_DYNAMIC_SHARED(type, name) type* const name = static_cast<type*>(::helix::cuda_emulator::dynamic_shared())

namespace helix::cuda_emulator::device {

inline int lane() { return static_cast<int>(place().linear % 32); }

template <typename T>
T shuffle(unsigned mask, T value, int source_lane) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "a shuffle moves up to 8 bytes");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = exchange_in_warp(mask, bits, source_lane);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

}  // namespace helix::cuda_emulator::device

inline void __syncthreads() { ::helix::cuda_emulator::sync_block(); }
inline void __syncwarp(unsigned mask = 0xFFFFFFFFu) { ::helix::cuda_emulator::sync_warp(mask); }

// The shuffles within segments of `width` lanes, as CUDA defines them: __shfl_sync
// reads lane `source` modulo width of the caller's segment; __shfl_xor_sync reads
// lane ^ lane_mask, or the caller's own value where that lies past its segment's
// end; __shfl_down_sync reads lane + delta and __shfl_up_sync lane - delta, or the
// caller's own value where that leaves its segment.
template <typename T>
T __shfl_sync(unsigned mask, T value, int source, int width = 32) {
  const int lane = ::helix::cuda_emulator::device::lane(), base = lane / width * width;
  return ::helix::cuda_emulator::device::shuffle(mask, value, base + ((source % width) + width) % width);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
  const int lane = ::helix::cuda_emulator::device::lane(), source = lane ^ lane_mask;
  return ::helix::cuda_emulator::device::shuffle(mask, value, source < (lane / width + 1) * width ? source : lane);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
  const int lane = ::helix::cuda_emulator::device::lane(), source = lane + static_cast<int>(delta);
  return ::helix::cuda_emulator::device::shuffle(mask, value, source / width == lane / width ? source : lane);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = 32) {
  const int lane = ::helix::cuda_emulator::device::lane(), source = lane - static_cast<int>(delta);
  return ::helix::cuda_emulator::device::shuffle(mask, value, source >= lane / width * width ? source : lane);
}

template <typename T>
T __ldg(const T* p) {
  return *p;
}
inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
inline int max(int a, int b) { return a < b ? b : a; }
inline int min(int a, int b) { return a < b ? a : b; }
