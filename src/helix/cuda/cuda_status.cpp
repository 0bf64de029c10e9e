#include "helix/cuda/cuda_status.h"

#include <string>

#include "helix/core/error.h"
#include "helix/engine/stage.h"

namespace helix::cuda_detail {

bool leaves_device_unusable(cudaError_t status) {
  switch (status) {
    case cudaErrorECCUncorrectable:
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure: return true;
    default: return false;
  }
}

void check_cuda(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  // Clear the runtime's last error, or the next launch's check would report this
  // one (a caught out-of-memory failing the kernel after it). A sticky one stays.
  cudaGetLastError();
  const std::string message =
      fmt::format("cuda: {}: {} ({})", what, cudaGetErrorName(status), cudaGetErrorString(status));
  if (leaves_device_unusable(status)) {
    throw DeviceFailed(message + ": the device is unusable until the process restarts");
  }
  throw Error(message);
}

void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

}  // namespace helix::cuda_detail
