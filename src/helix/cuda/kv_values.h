// The values of a KV cache on the device, f32 or f16 (for the .cu files). An f16
// cache stores each key and value rounded to the nearest f16, ties to even
// (__float2half_rn, IEEE's rounding, the CPU cache's: kernels/vector_ops.h's
// round_to_f16), and reads it back exactly.
#pragma once

#include <cstdint>

#include <cuda_fp16.h>

namespace helix::cuda_detail {

__device__ inline float kv_load(const float* p, std::int64_t i) { return p[i]; }
__device__ inline float kv_load(const __half* p, std::int64_t i) { return __half2float(p[i]); }
__device__ inline void kv_store(float* p, std::int64_t i, float v) { p[i] = v; }
__device__ inline void kv_store(__half* p, std::int64_t i, float v) { p[i] = __float2half_rn(v); }

}  // namespace helix::cuda_detail
