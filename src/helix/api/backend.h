// Backend: what the OpenAI-compatible HTTP server (api/http_server.h) needs from
// whatever generates text — the distributed coordinator in production, a fake in
// tests. Plain data in, a thread-safe stream of events out, so the HTTP layer
// knows nothing about routing, workers or engines (ARCHITECTURE.md: "API entry
// points as separate layers talking through plain data").
//
// Threading contract: submit() is called from HTTP handler threads, concurrently.
// The backend pushes events into the returned GenerationStream from its own
// thread(s); the handler thread pops them. A stream ends with exactly one Finish
// or Error event, and every accepted request (submit() returned) gets one: that
// is how "no accepted request is lost" is kept and counted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace helix::api {

// An OpenAI-style error: HTTP status, `type` (invalid_request_error,
// authentication_error, not_found_error, server_error, overloaded_error) and the
// offending field (`param`), serialised as {"error": {...}}.
struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string message;
  std::string param;  // the request field at fault, "" if none
};

// Thrown by Backend::submit() (and by the request parser) to refuse a request.
class ApiException : public std::exception {
 public:
  explicit ApiException(ApiError error) : error_(std::move(error)) {}
  const ApiError& error() const { return error_; }
  const char* what() const noexcept override { return error_.message.c_str(); }

 private:
  ApiError error_;
};

struct ChatMessage {
  std::string role;  // system, user, assistant
  std::string content;
};

// A validated /v1/completions or /v1/chat/completions request.
struct GenerationRequest {
  std::string model;
  bool chat = false;
  std::vector<ChatMessage> messages;        // chat only
  std::string prompt;                       // completions: the prompt text (chat: empty)
  std::vector<std::int32_t> prompt_tokens;  // completions given as an array of token ids
  int max_tokens = 16;                      // >= 1
  double temperature = 1.0;                 // >= 0; 0 = greedy
  double top_p = 1.0;                       // (0, 1]
  std::optional<std::uint64_t> seed;
  std::vector<std::string> stop;  // up to 4 non-empty strings
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool ignore_eos = false;     // extension (as vLLM): do not stop at the EOS token
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

// One event of a generation. Text deltas are UTF-8 (the backend holds back
// incomplete characters and possible stop-string prefixes).
struct GenerationEvent {
  enum class Kind { Text, Finish, Error };
  Kind kind = Kind::Text;
  std::string text;             // Text: the new text
  int tokens = 0;               // Text: how many tokens produced this delta (>= 1)
  std::string finish_reason;    // Finish: "stop" or "length" ("cancelled" after cancel())
  Usage usage;                  // Finish
  ApiError error;               // Error
};

// A single-producer single-consumer queue of events with cancellation.
class GenerationStream {
 public:
  // Backend side.
  void push(GenerationEvent event) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(std::move(event));
    }
    ready_.notify_one();
  }
  // Set by the consumer when the client went away; the backend polls it and
  // then ends the stream with a Finish or Error event as usual.
  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cancelled_;
  }

  // HTTP side: the next event, or nothing after `timeout`.
  std::optional<GenerationEvent> pop(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
    GenerationEvent event = std::move(events_.front());
    events_.pop_front();
    return event;
  }
  void cancel() {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<GenerationEvent> events_;
  bool cancelled_ = false;
};

// An answer of the admin API: an HTTP status and a JSON body (or, for >= 400, a
// message that the HTTP layer wraps in its error object).
struct AdminAnswer {
  int status = 404;
  std::string body = "this server has no admin API";
};

class Backend {
 public:
  virtual ~Backend() = default;
  // The admin API (same API key): GET /admin/nodes lists the nodes; POST
  // /admin/nodes/NAME/drain and DELETE /admin/nodes/NAME act on one. The default:
  // no admin API (404).
  virtual AdminAnswer admin_nodes() const { return {}; }
  virtual AdminAnswer admin_node(const std::string& /*node*/, const std::string& /*action*/) { return {}; }
  // The model ids GET /v1/models lists; a request naming another is a 404.
  virtual std::vector<std::string> model_ids() const = 0;
  // Accepts a request or throws ApiException (oversize prompt: 400 with param
  // "prompt"/"messages"; not ready: 503). After it returns, the stream will end
  // with exactly one Finish or Error event.
  virtual std::shared_ptr<GenerationStream> submit(const GenerationRequest& request) = 0;
  // GET /health: true when the backend can serve; `detail` is a JSON object text
  // merged into the response (e.g. workers joined).
  virtual bool healthy(std::string& detail_json) const = 0;
  // Prometheus text appended to /metrics (the backend's own families: per-node
  // queues and KV use, planned vs actual flow per edge, ...).
  virtual std::string metrics_text() const = 0;
};

}  // namespace helix::api
