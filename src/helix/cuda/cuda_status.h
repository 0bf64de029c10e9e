// Turning the CUDA runtime's status codes into helix::Error (inside the CUDA module
// only: its public headers name no CUDA type). Kept out of the .cu files' way: they
// call check_cuda, whose message is formatted on the host compiler's side.
#pragma once

#include <cuda_runtime_api.h>

namespace helix::cuda_detail {

// Throws Error "cuda: <what>: <error name> (<description>)" unless status is success;
// DeviceFailed (engine/stage.h) where the error leaves the device unusable.
void check_cuda(cudaError_t status, const char* what);

// True for the errors CUDA makes sticky: every later call returns them until the
// process restarts.
bool leaves_device_unusable(cudaError_t status);

// After a kernel launch: the launch's own error (a bad configuration, no device).
void check_launch(const char* kernel);

}  // namespace helix::cuda_detail
