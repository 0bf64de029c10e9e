// The emulated CUDA runtime's errors, for the files that implement the runtime's
// functions (cuda_emulator/*.cpp): the last error, kept per host thread as CUDA
// keeps it, and the sticky error of a kernel that failed, which, as on a GPU, every
// later call gets.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

namespace helix::cuda_emulator {

// Records `e` as the calling thread's last error and returns it.
cudaError_t failed(cudaError_t e);
// The last error, cleared (cudaGetLastError, and what a synchronization returns);
// the sticky error, if any, is never cleared.
cudaError_t take_last_error();
// The sticky error (cudaSuccess while no kernel failed): what the calls that queue
// work, allocate or copy return once one has.
cudaError_t sticky_error();

// A call refused for a reason the runtime's code cannot say: `why` printed at once,
// `error` recorded as the last error; not sticky.
void report_failure(cudaError_t error, const std::string& why);
// A kernel that failed while it ran (a deadlock, lanes that never met): `why`
// printed, cudaErrorLaunchFailure made sticky, as an illegal address makes it on a
// GPU, so a process goes on with a broken device as it would there.
void report_kernel_failure(const std::string& why);

}  // namespace helix::cuda_emulator
