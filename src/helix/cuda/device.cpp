#include "helix/cuda/device.h"

#include <cuda_runtime_api.h>

#include <fmt/format.h>

#include "helix/core/error.h"
#include "helix/cuda/cuda_status.h"

namespace helix {

CudaDevices cuda_devices() {
  CudaDevices found;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    found.why_none = fmt::format("cudaGetDeviceCount: {} ({})", cudaGetErrorName(status), cudaGetErrorString(status));
    cudaGetLastError();  // the runtime keeps the error as its last one otherwise
    return found;
  }
  if (count == 0) {
    found.why_none = "cudaGetDeviceCount: the driver reports no CUDA device";
    return found;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    cuda_detail::check_cuda(cudaGetDeviceProperties(&p, i), "cudaGetDeviceProperties");
    found.devices.push_back({i, p.name, p.totalGlobalMem, p.major, p.minor});
  }
  return found;
}

void use_cuda_device(int index) {
  int count = 0;
  cuda_detail::check_cuda(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  if (index < 0 || index >= count) fail("cuda: there is no device cuda:{} ({} CUDA device(s) found)", index, count);
  cuda_detail::check_cuda(cudaSetDevice(index), "cudaSetDevice");
}

DeviceMemory cuda_device_memory() {
  std::size_t free = 0, total = 0;
  cuda_detail::check_cuda(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
  return DeviceMemory{total, free};
}

void synchronize_cuda_device() { cuda_detail::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

}  // namespace helix
