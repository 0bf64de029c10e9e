// A Backend for the HTTP server tests: answers every request from its own thread
// with a few Text events and a Finish, honours cancel(), and can be told to
// refuse, throw, fail mid-stream, stream without end, or hold back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "helix/api/backend.h"
#include "helix/api/openai_request.h"

namespace helix::api::test {

class FakeBackend : public Backend {
 public:
  using Clock = std::chrono::steady_clock;

  ~FakeBackend() override {
    release();
    std::lock_guard<std::mutex> lock(threads_mutex_);
    for (auto& thread : threads_) thread.join();
  }

  // --- what to do (set before requests are sent) ---
  std::vector<std::string> pieces{"Hel", "lo", " world"};
  std::chrono::milliseconds gap{1};
  std::string finish_reason = "length";
  bool endless = false;                     // produce until cancelled (at most 10 s)
  std::optional<ApiError> refuse;           // submit() throws ApiException
  bool explode = false;                     // submit() throws std::runtime_error
  std::optional<ApiError> fail_after_text;  // an Error event instead of Finish
  bool gate_after_first = false;            // hold after the first piece until release()
  int hold_until_submitted = 0;             // start producing once this many were submitted
  std::atomic<bool> is_healthy{true};

  // --- what happened ---
  std::atomic<int> submitted{0};
  std::atomic<int> cancels_seen{0};
  std::atomic<int> streams_ended{0};
  std::atomic<bool> wait_timed_out{false};

  void release() {
    {
      std::lock_guard<std::mutex> lock(gate_mutex_);
      released_ = true;
    }
    gate_.notify_all();
  }
  GenerationRequest last_request() const {
    std::lock_guard<std::mutex> lock(gate_mutex_);
    return last_request_;
  }

  std::vector<std::string> model_ids() const override { return {"fake-model", "other-model"}; }

  std::shared_ptr<GenerationStream> submit(const GenerationRequest& request) override {
    if (refuse) throw ApiException(*refuse);
    if (explode) throw std::runtime_error("backend exploded");
    {
      std::lock_guard<std::mutex> lock(gate_mutex_);
      last_request_ = request;
      ++submitted;
    }
    gate_.notify_all();
    auto stream = std::make_shared<GenerationStream>();
    int prompt_tokens = static_cast<int>(request.chat ? render_chat_prompt(request.messages).size()
                                                      : request.prompt.size() + request.prompt_tokens.size());
    std::lock_guard<std::mutex> lock(threads_mutex_);
    threads_.emplace_back([this, stream, prompt_tokens] { produce(*stream, prompt_tokens); });
    return stream;
  }

  bool healthy(std::string& detail_json) const override {
    detail_json = R"({"workers": 2})";
    return is_healthy;
  }

  std::string metrics_text() const override { return "# TYPE fake_backend_up gauge\nfake_backend_up 1\n"; }

 private:
  // Waits for `ready` under the gate mutex, at most 3 s.
  template <typename Ready>
  void wait_for(Ready ready) {
    std::unique_lock<std::mutex> lock(gate_mutex_);
    if (!gate_.wait_for(lock, std::chrono::seconds(3), ready)) wait_timed_out = true;
  }

  void produce(GenerationStream& stream, int prompt_tokens) {
    if (hold_until_submitted > 0) wait_for([&] { return submitted >= hold_until_submitted || released_; });
    int produced = 0;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    for (std::size_t i = 0; endless ? Clock::now() < deadline : i < pieces.size(); ++i) {
      if (stream.cancelled()) {
        ++cancels_seen;
        finish(stream, "stop", prompt_tokens, produced);
        return;
      }
      std::this_thread::sleep_for(gap);
      stream.push(GenerationEvent{.kind = GenerationEvent::Kind::Text,
                                  .text = pieces[i % pieces.size()],
                                  .tokens = 1,
                                  .finish_reason = "",
                                  .usage = {},
                                  .error = {}});
      ++produced;
      if (i == 0 && gate_after_first) wait_for([&] { return released_; });
    }
    if (fail_after_text) {
      stream.push(GenerationEvent{.kind = GenerationEvent::Kind::Error,
                                  .text = "",
                                  .tokens = 0,
                                  .finish_reason = "",
                                  .usage = {},
                                  .error = *fail_after_text});
      ++streams_ended;
      return;
    }
    finish(stream, finish_reason, prompt_tokens, produced);
  }

  void finish(GenerationStream& stream, const std::string& reason, int prompt_tokens, int produced) {
    stream.push(GenerationEvent{.kind = GenerationEvent::Kind::Finish,
                                .text = "",
                                .tokens = 0,
                                .finish_reason = reason,
                                .usage = Usage{.prompt_tokens = prompt_tokens, .completion_tokens = produced},
                                .error = {}});
    ++streams_ended;
  }

  mutable std::mutex gate_mutex_;
  std::condition_variable gate_;
  bool released_ = false;
  GenerationRequest last_request_;
  std::mutex threads_mutex_;
  std::vector<std::thread> threads_;
};

}  // namespace helix::api::test
