// HELIX_HOST_DEVICE marks a function written once for the CPU and the GPU: compiled
// by nvcc (a .cu file) it is __host__ __device__, by the host compiler a plain
// inline function. The headers of such functions (kernels/element_arithmetic.h,
// weights/block_values.h) use no library call the device lacks.
#pragma once

#if defined(__CUDACC__)
#define HELIX_HOST_DEVICE __host__ __device__
#else
#define HELIX_HOST_DEVICE
#endif
