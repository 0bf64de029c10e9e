#include "helix/cuda/device_array.h"

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdint>

#include "helix/core/error.h"
#include "helix/cuda/cuda_status.h"

namespace helix::cuda_detail {
namespace {

std::atomic<std::size_t> allocated_bytes{0};

}  // namespace

void* device_allocate(std::size_t count, std::size_t element_bytes) {
  if (count == 0) return nullptr;
  if (count > SIZE_MAX / element_bytes) fail("cuda: a device array of {} values of {} bytes overflows", count, element_bytes);
  const std::size_t bytes = count * element_bytes;
  void* p = nullptr;
  check_cuda(cudaMalloc(&p, bytes), "cudaMalloc");
  allocated_bytes += bytes;
  return p;
}

std::size_t device_bytes_allocated() { return allocated_bytes.load(); }

void device_free(void* p) noexcept {
  // Nothing to report from a destructor; a failure is cleared so that no later call
  // reports it as its own.
  if (p != nullptr && cudaFree(p) != cudaSuccess) cudaGetLastError();
}

void copy_to_device(void* to, const void* from, std::size_t bytes) {
  if (bytes > 0) check_cuda(cudaMemcpy(to, from, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to the device");
}

void copy_to_host(void* to, const void* from, std::size_t bytes) {
  if (bytes > 0) check_cuda(cudaMemcpy(to, from, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to the host");
}

void fail_size(std::size_t expected, std::size_t got) {
  fail("cuda: a device array of {} values cannot take {} values", expected, got);
}

}  // namespace helix::cuda_detail
