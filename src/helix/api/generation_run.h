// One accepted generation as the HTTP layer consumes it: pops the backend's
// events, times them (time to first token, inter-token latency) and, on the
// final Finish or Error event, counts the request as finished. A run whose
// client went away is abandoned: the stream is cancelled and drained to its
// final event, so the backend's bookkeeping and the metrics both stay whole.
//
// Not thread-safe: one handler thread owns a run at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

#include "helix/api/backend.h"
#include "helix/api/server_metrics.h"

namespace helix::api {

class GenerationRun {
 public:
  using Clock = std::chrono::steady_clock;

  // `arrival`: when the HTTP request came in (time to first token counts from it).
  GenerationRun(ServerMetrics& metrics, std::shared_ptr<GenerationStream> stream, Clock::time_point arrival);
  // A run dropped before its final event is cancelled and counted as aborted,
  // without waiting for the backend.
  ~GenerationRun();
  GenerationRun(const GenerationRun&) = delete;
  GenerationRun& operator=(const GenerationRun&) = delete;

  // The next event, or nothing within `timeout` (or after the final event).
  std::optional<GenerationEvent> next(std::chrono::milliseconds timeout);
  // True once the final Finish or Error event was popped.
  bool ended() const { return ended_; }

  // The client is gone: cancel, then pop until the final event arrives or
  // `stopping` is set (the server shutting down does not wait for backends).
  void abandon(const std::atomic<bool>& stopping);

 private:
  void record_text(const GenerationEvent& event);
  void end(const GenerationEvent* final_event);

  ServerMetrics& metrics_;
  std::shared_ptr<GenerationStream> stream_;
  Clock::time_point arrival_;
  std::optional<Clock::time_point> last_text_;
  bool ended_ = false;
  bool abandoned_ = false;
};

}  // namespace helix::api
