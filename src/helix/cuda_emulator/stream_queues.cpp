// The emulated runtime's stream queues (streams.h): work waits on its stream until
// the host synchronizes, then runs in an order CUDA allows, chosen to be the one
// that shows a missing synchronization. CUDA's implicit order is kept: the legacy
// stream (stream 0) waits for the work blocking streams queued before, and they for
// its earlier work; non-blocking streams wait for nothing they did not ask for.
// Copies from pageable host memory are staged at the call, as the driver stages
// them; every other copy reads and writes when it runs, so pinned memory that the
// host changes or reads before synchronizing shows it.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "helix/cuda_emulator/device_memory.h"
#include "helix/cuda_emulator/runtime_errors.h"
#include "helix/cuda_emulator/stream_state.h"
#include "helix/cuda_emulator/streams.h"

namespace helix::cuda_emulator {
namespace {

constexpr std::uint64_t kEverything = std::numeric_limits<std::uint64_t>::max();

// Held while queued work runs: no piece of work (kernel, copy, GEMM, event stamp,
// graph replay) calls back into the runtime.
struct Queues {
  std::mutex mutex;
  std::uint64_t issued = 0;
  CUstream_st legacy;                 // stream 0
  std::vector<CUstream_st*> streams;  // made and not destroyed
};

Queues& queues() {
  static Queues q;
  return q;
}

CUstream_st* stream_of(Queues& q, cudaStream_t s) { return s == nullptr ? &q.legacy : s; }

// Made and not yet gone (a destroyed stream stays until its queued work has run).
bool is_live(const Queues& q, const CUstream_st* s) {
  return s == &q.legacy || std::find(q.streams.begin(), q.streams.end(), s) != q.streams.end();
}

// Destroyed streams whose work has all run go.
void forget_finished(Queues& q) {
  std::erase_if(q.streams, [](CUstream_st* s) {
    if (!s->destroyed || !s->queued.empty()) return false;
    delete s;
    return true;
  });
}

// What `s`'s next work must wait for, besides its own stream's earlier work.
std::vector<std::pair<CUstream_st*, std::uint64_t>> implicit_order(Queues& q, const CUstream_st* s) {
  std::vector<std::pair<CUstream_st*, std::uint64_t>> after;
  if (s == &q.legacy) {
    for (CUstream_st* other : q.streams) {
      if (other->blocking && !other->queued.empty()) after.emplace_back(other, other->queued.back().sequence);
    }
  } else if (s->blocking && !q.legacy.queued.empty()) {
    after.emplace_back(&q.legacy, q.legacy.queued.back().sequence);
  }
  return after;
}

// Runs `s`'s queued work up to sequence `last`, each piece after the other streams'
// work it waits for. Pieces are taken off the queue before they run: whatever they
// wait for was queued earlier, so nothing loops back to them. Once a kernel has
// failed, pieces are dropped unrun: a broken device runs nothing more.
void run_through(Queues& q, CUstream_st* s, std::uint64_t last) {
  while (!s->queued.empty() && s->queued.front().sequence <= last) {
    QueuedWork piece = std::move(s->queued.front());
    s->queued.pop_front();
    for (const auto& [other, through] : piece.after) {
      if (is_live(q, other)) run_through(q, other, through);
    }
    if (sticky_error() == cudaSuccess) piece.work();
  }
}

}  // namespace

cudaError_t enqueue(cudaStream_t stream, std::function<void()> work, const char* what, std::uint64_t* sequence) {
  if (sequence != nullptr) *sequence = 0;
  if (const cudaError_t e = sticky_error(); e != cudaSuccess) return failed(e);
  if (stream == nullptr) {
    if (CUstream_st* s = captured_blocking_stream()) {
      s->capture_spoiled = true;
      std::fprintf(stderr, "helix CUDA emulator: %s on the legacy stream while a blocking stream is captured\n", what);
      return failed(cudaErrorStreamCaptureImplicit);
    }
  } else if (stream->capture != nullptr) {
    record(stream, std::move(work));
    return cudaSuccess;
  }
  Queues& q = queues();
  const std::lock_guard<std::mutex> lock(q.mutex);
  CUstream_st* s = stream_of(q, stream);
  s->queued.push_back(QueuedWork{++q.issued, std::move(work), implicit_order(q, s)});
  if (sequence != nullptr) *sequence = q.issued;
  return cudaSuccess;
}

cudaError_t enqueue_copy(cudaStream_t stream, void* to, const void* from, std::size_t bytes, MemoryKind source) {
  if (bytes == 0) return enqueue(stream, [] {}, "a copy");
  if (source == MemoryKind::pageable && (stream == nullptr || stream->capture == nullptr)) {
    const auto* first = static_cast<const std::byte*>(from);
    auto staged = std::make_shared<const std::vector<std::byte>>(first, first + bytes);
    return enqueue(stream, [to, staged] { std::memcpy(to, staged->data(), staged->size()); }, "a copy");
  }
  return enqueue(stream, [to, from, bytes] { std::memcpy(to, from, bytes); }, "a copy");
}

void run_queued(cudaStream_t stream) {
  Queues& q = queues();
  const std::lock_guard<std::mutex> lock(q.mutex);
  CUstream_st* s = stream_of(q, stream);
  if (s->queued.empty()) return;  // what it waits for came before its own work
  const DeviceAccess access;
  run_through(q, s, kEverything);
  forget_finished(q);
}

void run_queued_through(cudaStream_t stream, std::uint64_t sequence) {
  Queues& q = queues();
  const std::lock_guard<std::mutex> lock(q.mutex);
  CUstream_st* s = stream_of(q, stream);
  if (!is_live(q, s) || s->queued.empty() || s->queued.front().sequence > sequence) return;
  const DeviceAccess access;
  run_through(q, s, sequence);
  forget_finished(q);
}

void run_all_queued() {
  Queues& q = queues();
  const std::lock_guard<std::mutex> lock(q.mutex);
  const bool idle = q.legacy.queued.empty() &&
                    std::all_of(q.streams.begin(), q.streams.end(), [](const CUstream_st* s) { return s->queued.empty(); });
  if (idle) return;
  const DeviceAccess access;
  for (CUstream_st* s : q.streams) run_through(q, s, kEverything);
  run_through(q, &q.legacy, kEverything);
  forget_finished(q);
}

}  // namespace helix::cuda_emulator

namespace emu = helix::cuda_emulator;

extern "C" {

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  auto made = std::make_unique<CUstream_st>();
  made->blocking = (flags & cudaStreamNonBlocking) == 0;
  emu::Queues& q = emu::queues();
  const std::lock_guard<std::mutex> lock(q.mutex);
  q.streams.push_back(made.get());
  *stream = made.release();
  return cudaSuccess;
}

// The stream's queued work is still done, as a GPU finishes it after the call:
// when a synchronization (the device's, or another stream's that waits for it)
// runs it, not at once.
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return emu::failed(cudaErrorInvalidValue);
  if (stream->capture != nullptr) return emu::failed(cudaErrorIllegalState);  // end its capture first
  emu::Queues& q = emu::queues();
  const std::lock_guard<std::mutex> lock(q.mutex);
  stream->destroyed = true;
  emu::forget_finished(q);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (stream != nullptr && stream->capture != nullptr) {
    stream->capture_spoiled = true;
    return emu::failed(cudaErrorStreamCaptureUnsupported);
  }
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  emu::run_queued(stream);
  return emu::take_last_error();
}

cudaError_t cudaDeviceSynchronize() {
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  emu::run_all_queued();
  return emu::take_last_error();
}

cudaError_t cudaMemcpyAsync(void* to, const void* from, size_t bytes, cudaMemcpyKind, cudaStream_t stream) {
  return emu::enqueue_copy(stream, to, from, bytes, emu::kind_of(from));
}

}  // extern "C"
