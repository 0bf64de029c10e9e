#include "helix/cuda/cuda_status.h"

#include "helix/core/error.h"

namespace helix::cuda_detail {

void check_cuda(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  fail("cuda: {}: {} ({})", what, cudaGetErrorName(status), cudaGetErrorString(status));
}

void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

}  // namespace helix::cuda_detail
