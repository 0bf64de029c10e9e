// The CUDA devices a process can run on (issue 15): what `--device cuda:N` will name.
// A machine without a GPU, or without the driver, has none, and says why: the GPU
// tests print that reason when they skip.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

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

// Waits until the current device has finished all work; fails with the first error a
// kernel ran into (an illegal address, say).
void synchronize_cuda_device();

}  // namespace helix
