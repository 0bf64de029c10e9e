#include "helix/api/generation_run.h"

#include <algorithm>
#include <stdexcept>

namespace helix::api {
namespace {

constexpr std::chrono::milliseconds kDrainPoll{20};

double seconds_between(GenerationRun::Clock::time_point from, GenerationRun::Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

GenerationRun::GenerationRun(ServerMetrics& metrics, std::shared_ptr<GenerationStream> stream,
                             Clock::time_point arrival)
    : metrics_(metrics), stream_(std::move(stream)), arrival_(arrival) {
  if (!stream_) throw std::logic_error("Backend::submit() returned no stream");
  metrics_.requests_running.inc();
}

GenerationRun::~GenerationRun() {
  if (ended_) return;
  stream_->cancel();
  abandoned_ = true;
  end(nullptr);
}

std::optional<GenerationEvent> GenerationRun::next(std::chrono::milliseconds timeout) {
  if (ended_) return std::nullopt;
  std::optional<GenerationEvent> event = stream_->pop(timeout);
  if (!event) return event;
  if (event->kind == GenerationEvent::Kind::Text) {
    record_text(*event);
  } else {
    end(&*event);
  }
  return event;
}

void GenerationRun::abandon(const std::atomic<bool>& stopping) {
  if (ended_) return;
  stream_->cancel();
  abandoned_ = true;
  while (!ended_ && !stopping.load()) next(kDrainPoll);
  if (!ended_) end(nullptr);
}

// The first text gives the time to first token; later ones the gap since the
// previous delta, shared by the tokens that produced it.
void GenerationRun::record_text(const GenerationEvent& event) {
  Clock::time_point now = Clock::now();
  if (!last_text_) {
    metrics_.time_to_first_token.observe(seconds_between(arrival_, now));
  } else {
    auto tokens = static_cast<std::uint64_t>(std::max(event.tokens, 1));
    metrics_.inter_token_latency.observe(seconds_between(*last_text_, now) / static_cast<double>(tokens), tokens);
  }
  last_text_ = now;
}

void GenerationRun::end(const GenerationEvent* final_event) {
  ended_ = true;
  metrics_.requests_running.dec();
  if (final_event != nullptr && final_event->kind == GenerationEvent::Kind::Finish) {
    metrics_.prompt_tokens.inc(std::max(final_event->usage.prompt_tokens, 0));
    metrics_.generation_tokens.inc(std::max(final_event->usage.completion_tokens, 0));
  }
  if (abandoned_) {
    metrics_.count_finished("abort");
  } else if (final_event != nullptr && final_event->kind == GenerationEvent::Kind::Finish) {
    metrics_.count_finished(final_event->finish_reason.empty() ? "stop" : final_event->finish_reason);
  } else {
    metrics_.count_finished("error");
  }
}

}  // namespace helix::api
