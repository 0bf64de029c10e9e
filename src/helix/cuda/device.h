// The CUDA devices a process can run on (issue 15): what `--device cuda:N` will name.
// A machine without a GPU, or without the driver, has none, and says why: the GPU
// tests print that reason when they skip.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "helix/core/device_memory.h"

namespace helix {

struct CudaDevice {
  int index = 0;
  std::string name;
  std::size_t memory_bytes = 0;
  int compute_major = 0, compute_minor = 0;  // compute capability, e.g. 9.0 for H100/H200
};

struct CudaDevices {
  std::vector<CudaDevice> devices;
  std::string why_none;  // set exactly when devices is empty: the runtime's answer
};

CudaDevices cuda_devices();

// Makes device `index` the calling thread's current device (where allocations and
// kernels go). Fails naming the index and how many devices there are.
void use_cuda_device(int index);

// The current device's memory: all of it, and what is free now (cudaMemGetInfo:
// what this process and every other one has not allocated).
DeviceMemory cuda_device_memory();

// Waits until the current device has finished all work; fails with the first error a
// kernel ran into (an illegal address, say).
void synchronize_cuda_device();

}  // namespace helix
