// The CUDA runtime's stream captures and graphs for the emulated device
// (streams.h). Where the real runtime refuses a call during a capture, so does this:
// a call that may synchronize (cudaMalloc, cudaMemcpy, a synchronization) from the
// capturing thread, which also spoils the capture, and work on the legacy stream
// while a blocking stream (one made without cudaStreamNonBlocking) is captured.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "helix/cuda_emulator/runtime_errors.h"
#include "helix/cuda_emulator/stream_state.h"
#include "helix/cuda_emulator/streams.h"

struct CUgraph_st {
  std::vector<std::function<void()>> work;
};

// Shared with the launches still queued: a graph destroyed while launched is
// freed when its last launch is done, as CUDA frees it.
struct CUgraphExec_st {
  std::shared_ptr<const std::vector<std::function<void()>>> work;
};

namespace helix::cuda_emulator {
namespace {

struct Captures {
  std::mutex mutex;
  std::vector<CUstream_st*> streams;  // being captured
};

Captures& captures() {
  static Captures c;
  return c;
}

CUstream_st* captured_by_this_thread() {
  Captures& c = captures();
  const std::lock_guard<std::mutex> lock(c.mutex);
  for (CUstream_st* s : c.streams) {
    if (s->capturing_thread == std::this_thread::get_id()) return s;
  }
  return nullptr;
}

void stop_capturing(CUstream_st* stream) {
  Captures& c = captures();
  const std::lock_guard<std::mutex> lock(c.mutex);
  std::erase(c.streams, stream);
}

}  // namespace

CUstream_st* captured_blocking_stream() {
  Captures& c = captures();
  const std::lock_guard<std::mutex> lock(c.mutex);
  for (CUstream_st* s : c.streams) {
    if (s->blocking) return s;
  }
  return nullptr;
}

void record(cudaStream_t stream, std::function<void()> work) { stream->capture->work.push_back(std::move(work)); }

bool refused_during_capture() {
  CUstream_st* s = captured_by_this_thread();
  if (s == nullptr) return false;
  s->capture_spoiled = true;
  failed(cudaErrorStreamCaptureUnsupported);
  return true;
}

}  // namespace helix::cuda_emulator

namespace emu = helix::cuda_emulator;

extern "C" {

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  if (stream == nullptr || stream->capture != nullptr) return emu::failed(cudaErrorIllegalState);
  stream->capture = new CUgraph_st;
  stream->capturing_thread = std::this_thread::get_id();
  stream->capture_spoiled = false;
  emu::Captures& c = emu::captures();
  const std::lock_guard<std::mutex> lock(c.mutex);
  c.streams.push_back(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  *graph = nullptr;
  if (stream == nullptr || stream->capture == nullptr) return emu::failed(cudaErrorIllegalState);
  emu::stop_capturing(stream);
  std::unique_ptr<CUgraph_st> recorded(stream->capture);
  stream->capture = nullptr;
  if (stream->capture_spoiled) return emu::failed(cudaErrorStreamCaptureInvalidated);
  *graph = recorded.release();
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (graph == nullptr) return emu::failed(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{std::make_shared<const std::vector<std::function<void()>>>(graph->work)};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return emu::failed(cudaErrorInvalidValue);
  return emu::enqueue(
      stream,
      [work = exec->work] {
        for (const auto& piece : *work) {
          if (emu::sticky_error() != cudaSuccess) return;  // a kernel of the graph failed: nothing more runs
          piece();
        }
      },
      "cudaGraphLaunch");
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

}  // extern "C"
