#include "helix/cuda/cuda_status.h"

#include "helix/core/error.h"

namespace helix::cuda_detail {

void check_cuda(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  // Clear the runtime's last error, or the next launch's check would report this
  // one (a caught out-of-memory failing the kernel after it).
  cudaGetLastError();
  fail("cuda: {}: {} ({})", what, cudaGetErrorName(status), cudaGetErrorString(status));
}

void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

}  // namespace helix::cuda_detail
