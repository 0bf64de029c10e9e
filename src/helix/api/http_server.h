// The OpenAI-compatible HTTP server: /v1/completions and /v1/chat/completions
// (whole responses or server-sent-event streams), /v1/models, /health and
// /metrics, in front of any Backend. It owns only HTTP concerns — auth, parsing,
// JSON shapes, streaming, client disconnects, its own metrics — and hands plain
// GenerationRequests to the backend (backend.h).
//
// Every error response is OpenAI's {"error": {...}} JSON, including the ones the
// HTTP library produces itself (unknown path, oversize body) and exceptions
// escaping a handler (500).
#pragma once

#include <memory>
#include <string>

#include "helix/api/backend.h"

namespace helix::api {

class MetricsRegistry;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;      // 0: the system picks a free port (start() returns it)
  std::string api_key;  // empty: no authentication
  int max_body_bytes = 8 * 1024 * 1024;
  // Worker threads. A streaming response holds its thread until it ends, and so
  // does an idle keep-alive connection for a few seconds, so this bounds the
  // number of concurrent streams (more connections queue, they are not refused).
  int threads = 128;
};

class HttpServer {
 public:
  HttpServer(Backend& backend, HttpServerOptions options);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and serves from a background thread; returns the bound port. Throws
  // helix::Error naming host:port if it cannot bind, or if already started.
  // Ignores SIGPIPE process-wide: a client that disconnects mid-stream must be an
  // error on write, not the end of the server.
  int start();
  // Stops accepting, ends open streams (their requests are cancelled) and joins
  // the threads. Idempotent.
  void stop();
  // The bound port, 0 before start().
  int port() const;

  // The server's own metrics (shown first on /metrics). A backend may keep its
  // own registry instead and return its text from metrics_text().
  MetricsRegistry& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace helix::api
