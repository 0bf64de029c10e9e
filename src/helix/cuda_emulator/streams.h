// The emulated runtime's streams (stream_queues.cpp, stream_capture.cpp), for its
// kernel launches, its memory functions and its cuBLAS. Work queued on a stream is
// not done when its call returns: it waits in the stream's queue until the host
// synchronizes with it (cudaStreamSynchronize, cudaDeviceSynchronize, a synchronous
// cudaMemcpy, cudaFree), and then runs in CUDA's order, in the synchronizing
// thread. So a host that reads a result before synchronizing reads what was there
// before, as it may on a GPU, but here every time (work is done no earlier than
// a synchronization asks, nor after a kernel failed and broke the device); and a
// stream that CUDA does not
// order after another (a non-blocking stream after the legacy stream's uploads)
// runs before it if it is synchronized first. While a stream is being captured
// into a graph its work is recorded instead, to be queued at each launch of the
// graph.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "helix/cuda_emulator/device_memory.h"

namespace helix::cuda_emulator {

// Queues or records `work` (`what`: for errors). Returns the runtime's answer to
// the call that queued it: cudaSuccess, the sticky error of an earlier failed
// kernel, or an error where the real runtime refuses it (the legacy stream used
// while a blocking stream is captured). `sequence`, if given, gets the queued
// work's place in issue order (0 where it was recorded into a capture).
cudaError_t enqueue(cudaStream_t stream, std::function<void()> work, const char* what,
                    std::uint64_t* sequence = nullptr);

// Queues a copy: from pageable host memory (`source`) staged now, as the driver
// stages it; from device or pinned memory read when it runs.
cudaError_t enqueue_copy(cudaStream_t stream, void* to, const void* from, std::size_t bytes, MemoryKind source);

// Does what `stream` (nullptr: the legacy stream) has queued, after the work of
// other streams CUDA orders before it: what a synchronization with it waits for.
void run_queued(cudaStream_t stream);
// The same up to the work of `sequence` (enqueue's) only: what an event waits for.
// Nothing where the stream is gone (its work has run).
void run_queued_through(cudaStream_t stream, std::uint64_t sequence);
// Does all queued work: what cudaDeviceSynchronize waits for.
void run_all_queued();

// True (and the last error set, and the capture spoiled) where the calling thread
// captures a stream: the calls that may synchronize with the device are refused then.
bool refused_during_capture();

}  // namespace helix::cuda_emulator
