// A local helix cluster for integration tests: a `helix serve` coordinator and
// `helix worker` processes on fresh ports, talking over real sockets, and an
// HTTP client for the coordinator's OpenAI API (plain and streamed).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace helix::test {

inline constexpr const char* kApiKey = "test-key";

// Polls `done` every 50 ms until it is true (then true) or `timeout_s` passes.
bool wait_until(double timeout_s, const std::function<bool()>& done);

// One streamed completion, parsed from its server-sent events, with the arrival
// time of each text chunk.
struct Streamed {
  int status = 0;
  std::string text, finish_reason, error;
  bool done = false;  // saw data: [DONE]
  nlohmann::json usage;
  std::vector<std::chrono::steady_clock::time_point> chunk_times;
};

// A placement JSON over `nodes` (name, gpu, start, end) of a `num_layers` model;
// start == end: the node holds nothing ("unused").
struct PlacedNode {
  std::string name, gpu;
  int start = 0, end = 0;
};
std::string placement_json(const std::string& cluster, int num_layers, const std::vector<PlacedNode>& nodes);

// A cluster file (helix-cluster/1) named `name` of equal CPU "machines" on loopback,
// one per node name.
std::string loopback_cluster_yaml(const std::string& name, const std::vector<std::string>& nodes);

class LocalCluster {
 public:
  // `workers`: node names, or "node:slowdown". `cluster`: a built-in name or a file.
  LocalCluster(const TempDir& dir, const std::filesystem::path& model, const std::string& placement,
               const std::vector<std::string>& workers, const std::vector<std::string>& extra_serve_args = {},
               const std::string& cluster = "local3", const std::string& model_id = "tiny");

  std::string control() const;
  void kill_coordinator();
  // Starts the coordinator again with the same arguments (after kill_coordinator);
  // its log goes to serve.2.log, ... and log() reads the newest.
  void restart_coordinator();
  ChildProcess& worker(std::size_t i) { return *workers_.at(i); }
  // Starts a worker for `spec` ("node" or "node:slowdown") from `binary` (default:
  // the helix binary under test), with `env` ("NAME=value") added to its
  // environment; returns its index.
  std::size_t start_worker(const std::string& spec, const std::vector<std::string>& extra_args = {},
                           const std::string& binary = HELIX_BINARY, const std::vector<std::string>& env = {});
  httplib::Client client() const;
  int health() const;
  // Gives up early when the coordinator process died.
  bool wait_healthy(double timeout_s);
  std::string log() const;
  bool serve_running();
  const std::string& model_id() const { return model_id_; }
  int http_port() const { return http_port_; }

  nlohmann::json complete(const nlohmann::json& body, int* status = nullptr) const;
  // `progress`, if given, counts the text chunks as they arrive (for tests that act mid-stream).
  Streamed stream(const std::string& path, nlohmann::json body, std::atomic<int>* progress = nullptr) const;
  // The admin API: GET /admin/nodes.
  nlohmann::json nodes() const;

 private:
  const TempDir& dir_;
  std::filesystem::path model_;
  int http_port_, control_port_;
  std::filesystem::path log_;
  std::string model_id_;
  int started_workers_ = 0;
  std::vector<std::string> serve_args_;
  int coordinator_starts_ = 1;
  std::unique_ptr<ChildProcess> serve_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
};

// Greedy (or seeded) single-process reference from `helix generate`: (text, generated token count).
std::pair<std::string, int> generate(const std::filesystem::path& model, const std::string& prompt, int max_tokens,
                                     const std::string& extra_args = "");

}  // namespace helix::test
