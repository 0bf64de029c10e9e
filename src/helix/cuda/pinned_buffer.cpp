#include "helix/cuda/pinned_buffer.h"

#include <cuda_runtime_api.h>

#include "helix/cuda/cuda_status.h"

namespace helix::cuda {

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr && cudaFreeHost(data_) != cudaSuccess) cudaGetLastError();
}

void PinnedBuffer::reserve(std::size_t bytes) {
  if (bytes <= bytes_) return;
  if (data_ != nullptr && cudaFreeHost(data_) != cudaSuccess) cudaGetLastError();
  data_ = nullptr;
  bytes_ = 0;
  void* p = nullptr;
  cuda_detail::check_cuda(cudaMallocHost(&p, bytes), "cudaMallocHost");
  data_ = static_cast<std::byte*>(p);
  bytes_ = bytes;
}

}  // namespace helix::cuda
