// CUDA events for the emulated device: an event recorded on a stream is queued
// there and stamped with the host's clock when the work before it has run, so the
// time between two events is the emulator's time for the work between them (a CPU
// running a GPU's code: no GPU figure). Synchronizing with an event runs its stream
// up to the record, no further.
#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "helix/cuda_emulator/runtime_errors.h"
#include "helix/cuda_emulator/streams.h"

namespace {

// Shared with the records still queued or captured into graphs, so that an event
// destroyed before they run leaves them something to stamp.
struct EventState {
  std::mutex mutex;
  bool recorded = false;
  cudaStream_t stream = nullptr;  // of its last record
  std::uint64_t sequence = 0;     // the record's place in the stream (0: captured into a graph)
  std::optional<std::chrono::steady_clock::time_point> reached;  // once the work before it ran
};

}  // namespace

struct CUevent_st {
  std::shared_ptr<EventState> state = std::make_shared<EventState>();
};

namespace emu = helix::cuda_emulator;

extern "C" {

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr) return emu::failed(cudaErrorInvalidValue);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (event == nullptr) return emu::failed(cudaErrorInvalidValue);
  const std::shared_ptr<EventState> state = event->state;
  std::uint64_t sequence = 0;
  const cudaError_t queued = emu::enqueue(
      stream,
      [state] {
        const std::lock_guard<std::mutex> lock(state->mutex);
        state->reached = std::chrono::steady_clock::now();
      },
      "cudaEventRecord", &sequence);
  if (queued != cudaSuccess) return queued;
  const std::lock_guard<std::mutex> lock(state->mutex);
  state->recorded = true;
  state->stream = stream;
  state->sequence = sequence;
  state->reached.reset();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) return emu::failed(cudaErrorInvalidValue);
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  cudaStream_t stream = nullptr;
  std::uint64_t sequence = 0;
  {
    const std::lock_guard<std::mutex> lock(event->state->mutex);
    if (!event->state->recorded) return cudaSuccess;  // nothing to wait for, as CUDA has it
    stream = event->state->stream;
    sequence = event->state->sequence;
  }
  if (sequence == 0) {
    emu::run_all_queued();  // recorded into a graph: waits for whatever launched it
  } else {
    emu::run_queued_through(stream, sequence);
  }
  return emu::take_last_error();
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (ms == nullptr || start == nullptr || end == nullptr) return emu::failed(cudaErrorInvalidValue);
  std::optional<std::chrono::steady_clock::time_point> from, to;
  {
    const std::lock_guard<std::mutex> lock(start->state->mutex);
    if (!start->state->recorded) return emu::failed(cudaErrorInvalidResourceHandle);
    from = start->state->reached;
  }
  {
    const std::lock_guard<std::mutex> lock(end->state->mutex);
    if (!end->state->recorded) return emu::failed(cudaErrorInvalidResourceHandle);
    to = end->state->reached;
  }
  if (!from || !to) return emu::failed(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(*to - *from).count();
  return cudaSuccess;
}

}  // extern "C"
