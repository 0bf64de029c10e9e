#include "helix/api/http_server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <exception>
#include <functional>
#include <string_view>
#include <thread>

#include <sys/socket.h>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "helix/api/generation_run.h"
#include "helix/api/openai_request.h"
#include "helix/api/openai_response.h"
#include "helix/api/prometheus.h"
#include "helix/api/server_metrics.h"
#include "helix/core/error.h"

namespace helix::api {
namespace {

using nlohmann::json;

// How long a handler waits for the next event before checking whether the
// client or the server went away. Every open request's thread wakes this often,
// so with hundreds of requests open a short poll costs real CPU (measured: 50 ms
// with 480 open requests was a large part of the coordinator's CPU per token).
constexpr std::chrono::milliseconds kEventPoll{250};

constexpr std::string_view kCompletionsPath = "/v1/completions";
constexpr std::string_view kChatPath = "/v1/chat/completions";
constexpr std::string_view kModelsPath = "/v1/models";

// The method a known path serves, "" for an unknown path (404 rather than 405).
std::string_view allowed_method(std::string_view path) {
  if (path == kCompletionsPath || path == kChatPath) return "POST";
  if (path == kModelsPath || path.starts_with("/v1/models/") || path == "/health" || path == "/metrics") return "GET";
  return "";
}

// The `endpoint` label: known routes only, so that scanners probing random paths
// cannot grow the metric without bound.
std::string_view endpoint_label(std::string_view path) {
  if (path.starts_with("/v1/models/")) return kModelsPath;
  return allowed_method(path).empty() ? "other" : path;
}

ApiError make_error(int status, std::string type, std::string message, std::string param = "") {
  return ApiError{.status = status, .type = std::move(type), .message = std::move(message), .param = std::move(param)};
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(json_text(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& error) { send_json(res, error.status, error_json(error)); }

bool is_routed_method(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
    if (method == m) return true;
  return false;
}

// 404 for an unknown path, 405 (with Allow) for a known path and wrong method.
ApiError unrouted_error(const httplib::Request& req, httplib::Response& res) {
  std::string_view allowed = allowed_method(req.path);
  if (allowed.empty())
    return make_error(404, "not_found_error", fmt::format("no such endpoint: {} {}", req.method, req.path));
  res.set_header("Allow", std::string(allowed));
  return make_error(405, "invalid_request_error",
                    fmt::format("method {} is not allowed on {} (use {})", req.method, req.path, allowed));
}

// The JSON error for a status httplib set on its own (malformed request,
// oversize body, unknown method ...), which would otherwise have an empty body.
ApiError library_error(const httplib::Request& req, httplib::Response& res, std::size_t max_body) {
  int status = res.status;
  // An unparsable request line (unknown method included) leaves the path empty.
  if (status == 400 && req.path.empty())
    return make_error(400, "invalid_request_error", "malformed HTTP request line (or unsupported method)");
  if (status == 400 && !is_routed_method(req.method)) return unrouted_error(req, res);  // TRACE, CONNECT
  if (status == 404 || status == 405) return unrouted_error(req, res);
  if (status == 413)
    return make_error(413, "invalid_request_error", fmt::format("request body is larger than {} bytes", max_body));
  if (status == 414) return make_error(414, "invalid_request_error", "request URI is too long");
  if (status >= 500) return make_error(status, "server_error", fmt::format("internal server error ({})", status));
  return make_error(status, "invalid_request_error", fmt::format("malformed HTTP request ({})", status));
}

// Compares without stopping at the first difference, so response time does not
// reveal how much of a guessed key was right.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff = static_cast<unsigned char>(diff | (a[i] ^ (i < b.size() ? b[i] : 0)));
  return diff == 0;
}

bool valid_port(int port) { return port >= 0 && port <= 65535; }

// httplib 0.11 listens with a backlog of 5: a burst of clients (64 streams
// starting at once) overflows it and the kernel drops their connections. The
// listening socket is protected, not private; listen() again only raises the
// backlog of a socket that already listens.
class ListeningServer : public httplib::Server {
 public:
  bool raise_backlog() { return ::listen(svr_sock_.load(), SOMAXCONN) == 0; }
};

// httplib's default also sets SO_REUSEPORT, which lets a second server bind a
// port already in use and silently share its connections. SO_REUSEADDR alone
// still allows restarting on a port left in TIME_WAIT.
void reuse_address_only(socket_t sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

// The state a streaming response keeps between calls of its content provider.
struct StreamState {
  std::shared_ptr<GenerationRun> run;
  ResponseInfo info;
  bool include_usage = false;
  bool opened = false;  // the opening chunk (chat: the role delta) was sent
};

bool write(httplib::DataSink& sink, const std::string& data) { return sink.write(data.data(), data.size()); }

}  // namespace

struct HttpServer::Impl {
  Impl(Backend& b, HttpServerOptions o) : backend(b), options(std::move(o)), server_metrics(registry) {}

  int start();
  void stop();
  void configure(httplib::Server& server);
  void install_routes(httplib::Server& server);
  void install_error_handling(httplib::Server& server);

  void require_auth(const httplib::Request& req) const;
  void require_model(const std::string& model) const;
  void handle_generation(const httplib::Request& req, httplib::Response& res, bool chat);
  void respond_whole(httplib::Response& res, GenerationRun& run, const ResponseInfo& info);
  void respond_stream(httplib::Response& res, std::shared_ptr<GenerationRun> run, ResponseInfo info,
                      bool include_usage);
  bool stream_step(StreamState& state, httplib::DataSink& sink);
  bool finish_stream(StreamState& state, const GenerationEvent& event, httplib::DataSink& sink);
  void handle_models(const httplib::Request& req, httplib::Response& res);
  void handle_model(const httplib::Request& req, httplib::Response& res);
  void handle_health(httplib::Response& res);
  void handle_metrics(httplib::Response& res);
  void handle_admin(const httplib::Request& req, httplib::Response& res, const std::function<AdminAnswer()>& action);

  Backend& backend;
  HttpServerOptions options;
  MetricsRegistry registry;
  ServerMetrics server_metrics;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> next_serial{1};
  std::int64_t started_at = unix_seconds_now();
  std::unique_ptr<ListeningServer> server;
  std::thread listener;
  std::atomic<bool> listen_returned{false};
  int bound_port = 0;
};

int HttpServer::Impl::start() {
  if (server) fail("HTTP server on {}:{} is already started", options.host, options.port);
  if (!valid_port(options.port)) fail("HTTP server: port {} is not in 0..65535", options.port);
  if (options.threads < 1) fail("HTTP server: threads must be at least 1, got {}", options.threads);
  if (options.max_body_bytes < 1)
    fail("HTTP server: max_body_bytes must be at least 1, got {}", options.max_body_bytes);
  std::signal(SIGPIPE, SIG_IGN);

  server = std::make_unique<ListeningServer>();
  configure(*server);
  bound_port = options.port == 0 ? server->bind_to_any_port(options.host)
                                 : (server->bind_to_port(options.host, options.port) ? options.port : -1);
  if (bound_port < 0 || !server->raise_backlog()) {
    server.reset();
    bound_port = 0;
    fail("HTTP server cannot listen on {}:{} (address in use or not available)", options.host, options.port);
  }
  listener = std::thread([this] {
    server->listen_after_bind();
    listen_returned = true;
  });
  // stop() only takes effect once the accept loop runs: wait for it.
  while (!server->is_running() && !listen_returned) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return bound_port;
}

void HttpServer::Impl::stop() {
  stopping = true;
  if (!server) return;
  server->stop();
  if (listener.joinable()) listener.join();  // after the worker threads finished
}

void HttpServer::Impl::configure(httplib::Server& s) {
  s.set_tcp_nodelay(true);
  s.set_socket_options(reuse_address_only);
  s.set_payload_max_length(static_cast<std::size_t>(options.max_body_bytes));
  auto threads = static_cast<std::size_t>(options.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    server_metrics.count_http_request(endpoint_label(req.path), res.status);
  });
  install_routes(s);
  install_error_handling(s);
}

void HttpServer::Impl::install_routes(httplib::Server& s) {
  s.Post(std::string(kCompletionsPath),
         [this](const httplib::Request& req, httplib::Response& res) { handle_generation(req, res, false); });
  s.Post(std::string(kChatPath),
         [this](const httplib::Request& req, httplib::Response& res) { handle_generation(req, res, true); });
  s.Get(std::string(kModelsPath),
        [this](const httplib::Request& req, httplib::Response& res) { handle_models(req, res); });
  s.Get("/v1/models/(.+)", [this](const httplib::Request& req, httplib::Response& res) { handle_model(req, res); });
  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) { handle_health(res); });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { handle_metrics(res); });
  s.Get("/admin/nodes", [this](const httplib::Request& req, httplib::Response& res) {
    handle_admin(req, res, [&] { return backend.admin_nodes(); });
  });
  s.Post("/admin/nodes/([^/]+)/(drain|remove)", [this](const httplib::Request& req, httplib::Response& res) {
    handle_admin(req, res, [&] { return backend.admin_node(req.matches[1], req.matches[2]); });
  });
  s.Delete("/admin/nodes/([^/]+)", [this](const httplib::Request& req, httplib::Response& res) {
    handle_admin(req, res, [&] { return backend.admin_node(req.matches[1], "remove"); });
  });
  // Everything else: 404, or 405 on a known path. Registered last, so they only
  // see what the routes above did not match.
  httplib::Server::Handler unrouted = [](const httplib::Request& req, httplib::Response& res) {
    send_error(res, unrouted_error(req, res));
  };
  s.Get(".*", unrouted).Post(".*", unrouted).Put(".*", unrouted).Patch(".*", unrouted);
  s.Delete(".*", unrouted).Options(".*", unrouted);
}

void HttpServer::Impl::install_error_handling(httplib::Server& s) {
  auto max_body = static_cast<std::size_t>(options.max_body_bytes);
  // Called for every response >= 400; ours already carry a JSON body.
  httplib::Server::HandlerWithResponse on_error = [max_body](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, library_error(req, res, max_body));
    return httplib::Server::HandlerResponse::Handled;
  };
  s.set_error_handler(on_error);
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr thrown) {
    try {
      std::rethrow_exception(thrown);
    } catch (const ApiException& e) {
      send_error(res, e.error());
    } catch (const std::exception& e) {
      send_error(res, make_error(500, "server_error", fmt::format("internal server error: {}", e.what())));
    } catch (...) {
      send_error(res, make_error(500, "server_error", "internal server error"));
    }
  });
}

void HttpServer::Impl::require_auth(const httplib::Request& req) const {
  if (options.api_key.empty()) return;
  std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  bool has_scheme =
      header.size() >= kScheme.size() && std::equal(kScheme.begin(), kScheme.end(), header.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      });
  if (has_scheme && same_secret(std::string_view(header).substr(kScheme.size()), options.api_key)) return;
  throw ApiException(
      make_error(401, "authentication_error",
                 header.empty() ? "missing API key: send 'Authorization: Bearer <key>'" : "invalid API key"));
}

void HttpServer::Impl::require_model(const std::string& model) const {
  std::vector<std::string> ids = backend.model_ids();
  if (std::find(ids.begin(), ids.end(), model) != ids.end()) return;
  throw ApiException(make_error(404, "not_found_error", fmt::format("the model '{}' does not exist", model), "model"));
}

void HttpServer::Impl::handle_admin(const httplib::Request& req, httplib::Response& res,
                                    const std::function<AdminAnswer()>& action) {
  try {
    require_auth(req);
    AdminAnswer a = action();
    if (a.status >= 400) {
      const char* type = a.status == 404 ? "not_found_error" : a.status == 409 ? "conflict_error" : "server_error";
      return send_error(res, make_error(a.status, type, a.body));
    }
    res.status = a.status;
    res.set_content(a.body, "application/json");
  } catch (const ApiException& e) {
    send_error(res, e.error());
  }
}

void HttpServer::Impl::handle_generation(const httplib::Request& req, httplib::Response& res, bool chat) {
  auto arrival = GenerationRun::Clock::now();
  try {
    require_auth(req);
    // httplib only limits bodies sent with Content-Length; chunked ones end here.
    if (req.body.size() > static_cast<std::size_t>(options.max_body_bytes))
      throw ApiException(make_error(413, "invalid_request_error",
                                    fmt::format("request body is larger than {} bytes", options.max_body_bytes)));
    GenerationRequest request = chat ? parse_chat_request(req.body) : parse_completion_request(req.body);
    require_model(request.model);
    ResponseInfo info{
        .id = response_id(chat, next_serial++), .model = request.model, .created = unix_seconds_now(), .chat = chat};
    auto run = std::make_shared<GenerationRun>(server_metrics, backend.submit(request), arrival);
    if (request.stream) {
      respond_stream(res, std::move(run), std::move(info), request.include_usage);
    } else {
      respond_whole(res, *run, info);
    }
  } catch (const ApiException& e) {
    send_error(res, e.error());
  }
}

void HttpServer::Impl::respond_whole(httplib::Response& res, GenerationRun& run, const ResponseInfo& info) {
  std::string text;
  while (!stopping) {
    std::optional<GenerationEvent> event = run.next(kEventPoll);
    if (!event) continue;
    if (event->kind == GenerationEvent::Kind::Text) {
      text += event->text;
    } else if (event->kind == GenerationEvent::Kind::Finish) {
      send_json(res, 200, completion_response_json(info, text, event->finish_reason, event->usage));
      return;
    } else {
      send_error(res, event->error);
      return;
    }
  }
  run.abandon(stopping);
  send_error(res, make_error(503, "server_error", "the server is shutting down"));
}

void HttpServer::Impl::respond_stream(httplib::Response& res, std::shared_ptr<GenerationRun> run, ResponseInfo info,
                                      bool include_usage) {
  auto state = std::make_shared<StreamState>(
      StreamState{.run = std::move(run), .info = std::move(info), .include_usage = include_usage, .opened = false});
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [this, state](std::size_t, httplib::DataSink& sink) { return stream_step(*state, sink); },
      // Runs however the response ended (also when the provider never ran
      // because the headers could not be sent): nothing is left undrained.
      [this, state](bool) { state->run->abandon(stopping); });
}

// One call of the content provider: at most one event is sent. Returning false
// ends the response (the client is gone or the server stops).
bool HttpServer::Impl::stream_step(StreamState& state, httplib::DataSink& sink) {
  try {
    if (!state.opened) {
      state.opened = true;
      // Chat streams open with the role; it also gets the stream to the client
      // before the first token.
      if (state.info.chat && !write(sink, sse_event(role_chunk_json(state.info)))) return false;
    }
    if (stopping) return false;
    std::optional<GenerationEvent> event = state.run->next(kEventPoll);
    if (!event) return sink.is_writable();
    if (event->kind != GenerationEvent::Kind::Text) return finish_stream(state, *event, sink);
    // An empty write would tell httplib the content is over.
    if (event->text.empty()) return true;
    return write(sink, sse_event(text_chunk_json(state.info, event->text)));
  } catch (...) {
    return false;  // the releaser abandons the run; an exception must not leave the worker thread
  }
}

bool HttpServer::Impl::finish_stream(StreamState& state, const GenerationEvent& event, httplib::DataSink& sink) {
  std::string tail;
  if (event.kind == GenerationEvent::Kind::Finish) {
    tail = sse_event(finish_chunk_json(state.info, event.finish_reason));
    if (state.include_usage) tail += sse_event(usage_chunk_json(state.info, event.usage));
  } else {
    tail = sse_event(error_json(event.error));
  }
  tail += kSseDone;
  if (!write(sink, tail)) return false;
  sink.done();
  return true;
}

void HttpServer::Impl::handle_models(const httplib::Request& req, httplib::Response& res) {
  try {
    require_auth(req);
    send_json(res, 200, models_json(backend.model_ids(), started_at));
  } catch (const ApiException& e) {
    send_error(res, e.error());
  }
}

void HttpServer::Impl::handle_model(const httplib::Request& req, httplib::Response& res) {
  try {
    require_auth(req);
    std::string id = req.matches[1];
    require_model(id);
    send_json(res, 200, models_json({id}, started_at)["data"][0]);
  } catch (const ApiException& e) {
    send_error(res, e.error());
  }
}

// {"status": "ok" | "unavailable"} plus the backend's detail object's fields.
void HttpServer::Impl::handle_health(httplib::Response& res) {
  std::string detail;
  bool healthy = false;
  json body = json::object();
  try {
    healthy = backend.healthy(detail);
  } catch (const std::exception& e) {
    body["error"] = e.what();
  }
  json parsed = detail.empty() ? json::object() : json::parse(detail, nullptr, false);
  if (parsed.is_object()) {
    body.update(parsed);
  } else {
    body["detail"] = detail;  // not an object: passed on as text
  }
  body["status"] = healthy ? "ok" : "unavailable";
  send_json(res, healthy ? 200 : 503, body);
}

void HttpServer::Impl::handle_metrics(httplib::Response& res) {
  std::string text = registry.render();
  std::string backend_text = backend.metrics_text();
  text += backend_text;
  if (!backend_text.empty() && backend_text.back() != '\n') text += '\n';
  res.status = 200;
  res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
}

HttpServer::HttpServer(Backend& backend, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(backend, std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

int HttpServer::start() { return impl_->start(); }

void HttpServer::stop() { impl_->stop(); }

int HttpServer::port() const { return impl_->bound_port; }

MetricsRegistry& HttpServer::metrics() { return impl_->registry; }

}  // namespace helix::api
