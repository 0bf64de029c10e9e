#include "support/local_cluster.h"

#include <csignal>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace helix::test {

using nlohmann::json;

bool wait_until(double timeout_s, const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string loopback_cluster_yaml(const std::string& name, const std::vector<std::string>& nodes) {
  std::string yaml = "format: helix-cluster/1\nname: " + name +
                     "\ngpu_types:\n"
                     "  cpu: {vram: 16 GB, memory_bandwidth: 10 GB/s, peak_flops: 200 GFLOP/s, nic: 10 Gbps, profile: none}\n"
                     "coordinator:\n  nic: 10 Gbps\nnetwork:\n  in_region: {bandwidth: 10 Gbps, latency: 0.05 ms}\nnodes:\n";
  for (const std::string& node : nodes) yaml += "  - {name: " + node + ", gpu: cpu}\n";
  return yaml;
}

std::string placement_json(const std::string& cluster, int num_layers, const std::vector<PlacedNode>& placed) {
  json nodes = json::array();
  for (const PlacedNode& n : placed) {
    if (n.start == n.end) nodes.push_back({{"name", n.name}, {"gpu", n.gpu}, {"unused", true}});
    else nodes.push_back({{"name", n.name}, {"gpu", n.gpu}, {"start", n.start}, {"end", n.end}});
  }
  return json{{"format", "helix-placement"}, {"version", 1}, {"cluster", cluster}, {"model", "llama"},
              {"method", "manual"}, {"num_layers", num_layers}, {"nodes", nodes}}
      .dump();
}

LocalCluster::LocalCluster(const TempDir& dir, const std::filesystem::path& model, const std::string& placement,
                           const std::vector<std::string>& workers, const std::vector<std::string>& extra_serve_args,
                           const std::string& cluster, const std::string& model_id)
    : dir_(dir),
      model_(model),
      http_port_(free_tcp_port()),
      control_port_(free_tcp_port()),
      log_(dir.path() / "serve.log"),
      model_id_(model_id) {
  const auto placement_file = dir.write("placement.json", placement);
  std::vector<std::string> serve = {HELIX_BINARY, "serve", "--cluster", cluster, "--placement", placement_file.string(),
                                    "--model", model.string(), "--listen", fmt::format("127.0.0.1:{}", http_port_),
                                    "--control", control(), "--api-key", kApiKey, "--model-id", model_id};
  serve.insert(serve.end(), extra_serve_args.begin(), extra_serve_args.end());
  serve_args_ = serve;
  serve_ = std::make_unique<ChildProcess>(serve, log_);
  for (const std::string& spec : workers) start_worker(spec);
}

std::size_t LocalCluster::start_worker(const std::string& spec, const std::vector<std::string>& extra_args,
                                       const std::string& binary, const std::vector<std::string>& env) {
  const std::string node = spec.substr(0, spec.find(':'));
  std::vector<std::string> args = {binary, "worker", "--coordinator", control(), "--node", node, "--model",
                                   model_.string(), "--threads", "1"};
  if (spec.find(':') != std::string::npos) args.insert(args.end(), {"--slowdown", spec.substr(spec.find(':') + 1)});
  args.insert(args.end(), {"--coordinator-timeout", "3"});
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  // A restarted node logs to a new file: node.log, node.2.log, ...
  std::string log = node + ".log";
  for (int k = 2; std::filesystem::exists(dir_.path() / log); ++k) log = fmt::format("{}.{}.log", node, k);
  workers_.push_back(std::make_unique<ChildProcess>(args, dir_.path() / log, env));
  ++started_workers_;
  return workers_.size() - 1;
}

std::string LocalCluster::control() const { return fmt::format("tcp://127.0.0.1:{}", control_port_); }
void LocalCluster::kill_coordinator() { serve_->signal(SIGKILL); }

void LocalCluster::restart_coordinator() {
  serve_->wait(10);
  log_ = dir_.path() / fmt::format("serve.{}.log", ++coordinator_starts_);
  serve_ = std::make_unique<ChildProcess>(serve_args_, log_);
}

httplib::Client LocalCluster::client() const {
  httplib::Client c("127.0.0.1", http_port_);
  c.set_read_timeout(120, 0);
  c.set_bearer_token_auth(kApiKey);
  return c;
}

int LocalCluster::health() const {
  auto res = client().Get("/health");
  return res ? res->status : 0;
}

bool LocalCluster::wait_healthy(double timeout_s) {
  return wait_until(timeout_s, [&] { return health() == 200 || !serve_->running(); }) && health() == 200;
}

std::string LocalCluster::log() const { return read_file(log_); }
bool LocalCluster::serve_running() { return serve_->running(); }

json LocalCluster::complete(const json& body, int* status) const {
  auto res = client().Post("/v1/completions", body.dump(), "application/json");
  if (!res) return json{{"transport_error", httplib::to_string(res.error())}};
  if (status) *status = res->status;
  return json::parse(res->body, nullptr, false);
}

json LocalCluster::nodes() const {
  auto res = client().Get("/admin/nodes");
  if (!res) return json{{"transport_error", httplib::to_string(res.error())}};
  return json::parse(res->body, nullptr, false);
}

Streamed LocalCluster::stream(const std::string& path, json body, std::atomic<int>* progress) const {
  body["stream"] = true;
  Streamed s;
  std::string buffer;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.set_header("Content-Type", "application/json");
  req.set_header("Authorization", std::string("Bearer ") + kApiKey);
  req.body = body.dump();
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    buffer.append(data, n);
    for (std::size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
      const std::string event = buffer.substr(0, end);
      if (event == "data: [DONE]") {
        s.done = true;
        continue;
      }
      json j = json::parse(event.substr(6), nullptr, false);
      if (j.contains("error")) s.error = j["error"].value("message", "?");
      if (j.contains("usage") && !j["usage"].is_null()) s.usage = j["usage"];
      if (!j.contains("choices") || j["choices"].empty()) continue;
      const json& c = j["choices"][0];
      std::string text;
      if (c.contains("text")) text = c["text"].get<std::string>();
      if (c.contains("delta") && c["delta"].contains("content")) text = c["delta"]["content"].get<std::string>();
      if (!text.empty()) {
        s.text += text;
        s.chunk_times.push_back(std::chrono::steady_clock::now());
        if (progress) ++*progress;
      }
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) s.finish_reason = c["finish_reason"];
    }
    return true;
  };
  auto res = client().send(req);
  s.status = res ? res->status : 0;
  return s;
}

std::pair<std::string, int> generate(const std::filesystem::path& model, const std::string& prompt, int max_tokens,
                                     const std::string& extra_args) {
  auto r = run_command(fmt::format("{} generate --model {} --prompt '{}' --max-tokens {} --json {}", HELIX_BINARY,
                                   model.string(), prompt, max_tokens, extra_args));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  return {j["text"].get<std::string>(), static_cast<int>(j["tokens"].size())};
}

}  // namespace helix::test
