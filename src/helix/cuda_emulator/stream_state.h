// What the emulated runtime keeps per stream, for the two files that implement
// streams (streams.h): stream_queues.cpp (queued work, its order, synchronization)
// and stream_capture.cpp (captures and graphs).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

namespace helix::cuda_emulator {

// Work queued on a stream and not yet done.
struct QueuedWork {
  std::uint64_t sequence = 0;  // issue order, over every stream
  std::function<void()> work;
  // Work of other streams to be done first: (stream, sequence of its last such
  // piece). CUDA's implicit order: the legacy stream waits for what blocking
  // streams queued before, and they for what it queued before.
  std::vector<std::pair<CUstream_st*, std::uint64_t>> after;
};

// Recording (stream_capture.cpp): the blocking stream being captured, if any; and
// `work` appended to the graph `stream` captures.
CUstream_st* captured_blocking_stream();
void record(cudaStream_t stream, std::function<void()> work);

}  // namespace helix::cuda_emulator

struct CUstream_st {
  bool blocking = true;                  // made without cudaStreamNonBlocking
  struct CUgraph_st* capture = nullptr;  // the graph being recorded, if any
  std::thread::id capturing_thread{};
  bool capture_spoiled = false;
  std::deque<helix::cuda_emulator::QueuedWork> queued;  // in sequence order
  // cudaStreamDestroy was called while work was queued: the work still runs (as a
  // GPU finishes it later), then the stream goes.
  bool destroyed = false;
};
