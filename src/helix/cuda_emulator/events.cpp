// CUDA events for the emulated device: an event recorded on a stream is queued
// there and stamped with the host's clock when the work before it has run, so the
// time between two events is the emulator's time for the work between them (a CPU
// running a GPU's code: no GPU figure). Synchronizing with an event waits for its
// stream.
#include <cuda_runtime_api.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include "helix/cuda_emulator/runtime_errors.h"
#include "helix/cuda_emulator/streams.h"

struct CUevent_st {
  std::mutex mutex;
  cudaStream_t stream = nullptr;  // of its last record
  bool recorded = false;
  std::optional<std::chrono::steady_clock::time_point> reached;  // once its work ran
};

namespace emu = helix::cuda_emulator;

extern "C" {

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr) return emu::failed(cudaErrorInvalidValue);
  emu::run_all_queued();  // a queued record still refers to it
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (event == nullptr) return emu::failed(cudaErrorInvalidValue);
  {
    const std::lock_guard<std::mutex> lock(event->mutex);
    event->stream = stream;
    event->recorded = true;
    event->reached.reset();
  }
  return emu::enqueue(
      stream,
      [event] {
        const std::lock_guard<std::mutex> lock(event->mutex);
        event->reached = std::chrono::steady_clock::now();
      },
      "cudaEventRecord");
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) return emu::failed(cudaErrorInvalidValue);
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  cudaStream_t stream = nullptr;
  {
    const std::lock_guard<std::mutex> lock(event->mutex);
    if (!event->recorded) return cudaSuccess;  // nothing to wait for, as CUDA has it
    stream = event->stream;
  }
  emu::run_queued(stream);
  return emu::take_last_error();
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (ms == nullptr || start == nullptr || end == nullptr) return emu::failed(cudaErrorInvalidValue);
  std::optional<std::chrono::steady_clock::time_point> from, to;
  {
    const std::lock_guard<std::mutex> lock(start->mutex);
    if (!start->recorded) return emu::failed(cudaErrorInvalidResourceHandle);
    from = start->reached;
  }
  {
    const std::lock_guard<std::mutex> lock(end->mutex);
    if (!end->recorded) return emu::failed(cudaErrorInvalidResourceHandle);
    to = end->reached;
  }
  if (!from || !to) return emu::failed(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(*to - *from).count();
  return cudaSuccess;
}

}  // extern "C"
