// The CUDA runtime's streams, captures and graphs for the emulated device
// (streams.h). Where the real runtime refuses a call during a capture, so does this:
// a call that may synchronize (cudaMalloc, cudaMemcpy, a synchronization) from the
// capturing thread, which also spoils the capture, and work on the legacy stream
// while a blocking stream (one made without cudaStreamNonBlocking) is captured.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "helix/cuda_emulator/runtime_errors.h"
#include "helix/cuda_emulator/streams.h"

struct CUstream_st {
  bool blocking = true;                  // made without cudaStreamNonBlocking
  struct CUgraph_st* capture = nullptr;  // the graph being recorded, if any
  std::thread::id capturing_thread{};
  bool capture_spoiled = false;
};

struct CUgraph_st {
  std::vector<std::function<void()>> work;
};

struct CUgraphExec_st {
  std::vector<std::function<void()>> work;
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

CUstream_st* captured_blocking_stream() {
  Captures& c = captures();
  const std::lock_guard<std::mutex> lock(c.mutex);
  for (CUstream_st* s : c.streams) {
    if (s->blocking) return s;
  }
  return nullptr;
}

void stop_capturing(CUstream_st* stream) {
  Captures& c = captures();
  const std::lock_guard<std::mutex> lock(c.mutex);
  std::erase(c.streams, stream);
}

}  // namespace

cudaError_t enqueue(cudaStream_t stream, std::function<void()> work, const char* what) {
  if (stream == nullptr) {
    if (CUstream_st* s = captured_blocking_stream()) {
      s->capture_spoiled = true;
      std::fprintf(stderr, "helix CUDA emulator: %s on the legacy stream while a blocking stream is captured\n", what);
      return failed(cudaErrorStreamCaptureImplicit);
    }
  } else if (stream->capture != nullptr) {
    stream->capture->work.push_back(std::move(work));
    return cudaSuccess;
  }
  work();
  return cudaSuccess;
}

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

cudaError_t cudaMemcpyAsync(void* to, const void* from, size_t bytes, cudaMemcpyKind, cudaStream_t stream) {
  return emu::enqueue(stream, [to, from, bytes] { if (bytes > 0) std::memcpy(to, from, bytes); }, "cudaMemcpyAsync");
}

cudaError_t cudaDeviceSynchronize() {
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  return emu::take_last_error();
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  *stream = new CUstream_st;
  (*stream)->blocking = (flags & cudaStreamNonBlocking) == 0;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return emu::failed(cudaErrorInvalidValue);
  if (stream->capture != nullptr) return emu::failed(cudaErrorIllegalState);  // end its capture first
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (stream != nullptr && stream->capture != nullptr) {
    stream->capture_spoiled = true;
    return emu::failed(cudaErrorStreamCaptureUnsupported);
  }
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  return emu::take_last_error();
}

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
  *exec = new CUgraphExec_st{graph->work};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return emu::failed(cudaErrorInvalidValue);
  return emu::enqueue(
      stream,
      [exec] {
        for (const auto& work : exec->work) work();
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
