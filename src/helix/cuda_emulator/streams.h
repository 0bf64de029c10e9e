// The emulated runtime's streams (cuda_runtime.cpp), for its kernel launches and
// its cuBLAS: work queued on a stream runs at once, in the caller's thread, or is
// recorded while the stream is being captured into a graph, to run at each launch of
// the graph.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <string>

namespace helix::cuda_emulator {

// Runs or records `work` (`what`: for errors). Returns the runtime's answer to the
// call that queued it: cudaSuccess, or an error where the real runtime refuses it
// (the legacy stream used while this thread captures, say).
cudaError_t enqueue(cudaStream_t stream, std::function<void()> work, const char* what);

// A failure inside queued work: printed at once with `why` (the runtime's codes
// carry no message) and reported by the next cudaGetLastError or synchronization.
void report_failure(cudaError_t error, const std::string& why);

}  // namespace helix::cuda_emulator
