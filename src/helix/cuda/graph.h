// A CUDA graph: the kernels one piece of host code queues on a stream, recorded
// once and then replayed with one launch. A steady decode step (the same batch
// size, the same buffers) is worth capturing: its dozens of small kernels then cost
// the host one launch instead of one each, which at batch 1 on a fast GPU is the
// difference between the GPU waiting on the host and the host waiting on the GPU.
//
// What is captured must queue only stream work (kernels, cuBLAS calls with their own
// workspace, async copies between device buffers): no allocation, no synchronous
// copy. A replay reads whatever its buffers hold at that time, so a caller refills
// its inputs in place and replays.
#pragma once

#include <functional>
#include <utility>

#include "helix/cuda/stream.h"

namespace helix::cuda {

class Graph {
 public:
  Graph() = default;
  ~Graph();
  Graph(Graph&& other) noexcept : exec_(std::exchange(other.exec_, nullptr)) {}
  Graph& operator=(Graph&& other) noexcept {
    std::swap(exec_, other.exec_);
    return *this;
  }
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Records what `work` queues on `stream` (made the launch stream meanwhile); the
  // work does not run. Throws Error when the capture or the instantiation fails
  // (then the stream is no longer capturing).
  static Graph capture(const Stream& stream, const std::function<void()>& work);

  // Queues one replay on `stream`.
  void launch(const Stream& stream) const;

 private:
  void* exec_ = nullptr;  // a cudaGraphExec_t
};

}  // namespace helix::cuda
