// The metric families the HTTP server keeps itself (shown on /metrics before the
// backend's): HTTP requests by endpoint and status, finished generations by
// finish reason, prompt and generated tokens, time to first token and
// inter-token latency as the client sees them (event arrival times at the
// server), and generations in flight. Names follow vLLM's where they overlap.
#pragma once

#include <string_view>
#include <vector>

#include "helix/api/prometheus.h"

namespace helix::api {

// Latency histogram bounds in seconds, 1 ms to 60 s.
std::vector<double> latency_buckets();

class ServerMetrics {
 public:
  explicit ServerMetrics(MetricsRegistry& registry);

  // helix_http_requests_total{endpoint, status}.
  void count_http_request(std::string_view endpoint, int status);
  // helix_requests_finished_total{finish_reason}: "stop", "length", "error" or
  // "abort" (the client went away).
  void count_finished(std::string_view finish_reason);

  MetricsRegistry& registry() { return registry_; }
  Counter& prompt_tokens;          // helix_prompt_tokens_total
  Counter& generation_tokens;      // helix_generation_tokens_total
  Histogram& time_to_first_token;  // helix_time_to_first_token_seconds
  Histogram& inter_token_latency;  // helix_inter_token_latency_seconds
  Gauge& requests_running;         // helix_requests_running

 private:
  MetricsRegistry& registry_;
};

}  // namespace helix::api
