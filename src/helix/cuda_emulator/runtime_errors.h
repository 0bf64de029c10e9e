// The emulated CUDA runtime's last error, kept per host thread as CUDA keeps it, for
// the files that implement the runtime's functions (cuda_emulator/*.cpp).
#pragma once

#include <cuda_runtime_api.h>

#include <string>

namespace helix::cuda_emulator {

// Records `e` as the calling thread's last error and returns it.
cudaError_t failed(cudaError_t e);
// The last error, cleared (cudaGetLastError, and what a synchronization returns).
cudaError_t take_last_error();

// A failure inside queued work: printed at once with `why` (the runtime's codes
// carry no message) and recorded as the last error. Unlike CUDA's launch failures
// it is not sticky: the next call after it is reported works.
void report_failure(cudaError_t error, const std::string& why);

}  // namespace helix::cuda_emulator
