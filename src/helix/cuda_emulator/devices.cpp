// The CUDA runtime's device queries for the one emulated device, cuda:0: compute
// capability 9.0 (so the kernels take the tensor-core paths an H100 takes), the
// memory device_memory.cpp counts.
#include <cuda_runtime_api.h>

#include <cstdio>

#include "helix/cuda_emulator/device_memory.h"
#include "helix/cuda_emulator/runtime_errors.h"

namespace emu = helix::cuda_emulator;

namespace {

thread_local int current_device = 0;

}  // namespace

extern "C" {

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device != 0) return emu::failed(cudaErrorInvalidDevice);
  current_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = current_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return emu::failed(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof(p->name), "%s", "helix CUDA emulator (on the CPU)");
  p->totalGlobalMem = emu::device_bytes();
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 1;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->sharedMemPerBlock = 48 * 1024;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return emu::failed(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrComputeCapabilityMajor: *value = 9; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = 1; return cudaSuccess;
    case cudaDevAttrWarpSize: *value = 32; return cudaSuccess;
    default: return emu::failed(cudaErrorInvalidValue);
  }
}

}  // extern "C"
