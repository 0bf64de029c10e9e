// The emulated runtime's streams (stream_capture.cpp), for its kernel launches, its
// memory functions and its cuBLAS: work queued on a stream runs at once, in the
// caller's thread, or is recorded while the stream is being captured into a graph,
// to run at each launch of the graph. So work is done when its call returns, where
// on a GPU it is done only at a synchronization: a host that reads a result before
// synchronizing is not caught here.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>

namespace helix::cuda_emulator {

// Runs or records `work` (`what`: for errors). Returns the runtime's answer to the
// call that queued it: cudaSuccess, or an error where the real runtime refuses it
// (the legacy stream used while a blocking stream is captured).
cudaError_t enqueue(cudaStream_t stream, std::function<void()> work, const char* what);

// True (and the last error set, and the capture spoiled) where the calling thread
// captures a stream: the calls that may synchronize with the device are refused then.
bool refused_during_capture();

}  // namespace helix::cuda_emulator
