// `helix serve` (the coordinator with its HTTP API), `helix worker` (one compute
// node) and `helix up` (a coordinator plus a worker process per placed node on
// this machine, stopped together on Ctrl-C).
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli_common.h"
#include "commands.h"
#include "kv_options.h"
#include "planned_model.h"
#include "stage_device.h"
#include "helix/api/http_server.h"
#include "helix/core/error.h"
#include "helix/engine/llama_config.h"
#include "helix/engine/model_files.h"
#include "helix/engine/random_model.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/planner.h"
#include "helix/runtime/coordinator.h"
#include "helix/runtime/worker.h"
#include "helix/security/curve_auth.h"
#include "helix/security/curve_keys.h"
#include "helix/sim/sim_cluster.h"
#include "helix/tokenize/byte_tokenizer.h"
#include "helix/engine/model_tokenizer.h"
#include "helix/tokenize/load_tokenizer.h"

namespace helix::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

void catch_stop_signals() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

// Runtime logs go to stderr, so that stdout carries only answers.
void log_to_stderr() {
  static bool done = false;
  if (done) return;
  done = true;
  auto logger = spdlog::stderr_color_mt("helix");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%H:%M:%S.%e] %^%l%$ %v");
}

struct ServeOptions {
  std::string cluster = "local3";
  std::string placement;
  bool plan = false;
  std::string method = "helix";
  std::string model;
  std::string engine = "real";
  std::string listen = "127.0.0.1:8000";
  std::string control = "tcp://127.0.0.1:5555";
  std::string api_key;
  std::string model_id;
  int context = 0;
  long long kv_tokens = 0;
  std::string kv_dtype = "f32";  // what the real workers' KV caches store: planned with, and up gives its workers
  std::string activations = "f32";  // what real workers send hidden states as: planned with, and in their Assign
  double ready_timeout = 120;
  int http_threads = 128;
  double kv_hwm = 0.9;           // the paper's online settings by default
  double kv_output_ratio = 0.6;
  int gather_us = 1000;
  bool real_activations = false;
  double worker_timeout = 2;
  std::string key, trusted;  // CurveZMQ: the coordinator's .key file, the workers' public keys
  bool insecure = false;
  double move_penalty = -1;
  long replan_evaluations = 100;
  int max_requests = 0;
};

std::pair<std::string, int> host_port(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) fail("--listen {}: expected HOST:PORT", listen);
  int port = 0;
  try {
    std::size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    fail("--listen {}: the port '{}' is not a number", listen, listen.substr(colon + 1));
  }
  if (port < 0 || port > 65535) fail("--listen {}: port {} is outside 0-65535", listen, port);
  return {listen.substr(0, colon), port};
}

// What the coordinator serves: the model's sizes for planning, its tokenizer and context.
struct ServedModel {
  ModelSpec spec;
  std::unique_ptr<Tokenizer> tokenizer;
  api::ChatPrompt chat_prompt;  // the model's chat template, else the plain one
  int context = 0;
  std::string id;
};

ServedModel served_model(const ServeOptions& o) {
  ServedModel m;
  if (o.engine == "real") {
    if (o.model.empty()) fail("--model DIR is required with the real engine");
    ModelFiles files = open_model(o.model);
    // Planned as the workers serve it: stored weight bytes, their KV and activation dtypes.
    m.spec = served_model_spec(files, WorkerDtypes{o.kv_dtype, o.activations});
    m.tokenizer = load_model_tokenizer(o.model);
    if (const auto chat = load_model_chat_template(o.model)) {
      m.chat_prompt = api::ChatPrompt(api::ChatFormat{chat->text, chat->bos_token, chat->eos_token, chat->source});
      spdlog::info("serve: chat requests use the model's template ({})", chat->source);
    }
    m.context = files.config.max_position_embeddings;
    m.id = std::filesystem::path(o.model).filename().string();
  } else if (o.engine == "emulated") {
    if (runtime::parse_activation_dtype(o.activations, "--activations") != runtime::ActivationDtype::F32) {
      fail("--activations {}: needs --engine real (emulated workers send placeholder rows)", o.activations);
    }
    require_real_engine_for(KvCacheOptions{.dtype = parse_kv_dtype(o.kv_dtype, "--kv-dtype")}, o.engine);
    m.spec = resolve_model(o.model.empty() ? std::string(kDefaultModel) : o.model);
    m.tokenizer = make_byte_tokenizer();
    m.context = 4096;
    m.id = o.model.empty() ? std::string(kDefaultModel) : o.model;
  } else {
    fail("--engine must be real or emulated, not '{}'", o.engine);
  }
  if (o.context > 0) m.context = std::min(m.context, o.context);
  if (!o.model_id.empty()) m.id = o.model_id;
  return m;
}

Placement placement_for(const ServeOptions& o, const ClusterSpec& cluster, const ModelSpec& model) {
  if (!o.placement.empty() && o.plan) fail("give --placement FILE or --plan, not both");
  if (!o.placement.empty()) return load_placement(o.placement, cluster, model.num_layers);
  const PerfModel perf = PerfModel::build(cluster, model);
  PlanContext ctx{cluster, model, perf, 0};
  ctx.time_limit_s = 10;
  Placement p = plan_and_evaluate(*make_planner(o.method), ctx);
  p.method = o.method;
  spdlog::info("planned with {}: {:.1f} tokens/s (planner semantics)", o.method, p.objective_tps);
  return p;
}

std::string placement_summary(const sim::SimCluster& s) {
  std::string out;
  for (int i = 0; i < s.cluster.num_nodes(); ++i) {
    const LayerRange& r = s.ranges[static_cast<std::size_t>(i)];
    if (r.empty()) continue;
    out += fmt::format("{}{} [{}, {})", out.empty() ? "" : ", ", s.cluster.nodes[static_cast<std::size_t>(i)].name, r.start, r.end);
  }
  return out;
}

// CurveZMQ on the control socket (and so on every data connection), or plain
// ZeroMQ where that is safe: loopback, or the operator said --insecure.
void secure_control(const ServeOptions& o, runtime::CoordinatorOptions& co) {
  if (o.key.empty() != o.trusted.empty()) fail("--key and --trusted go together (make them with `helix keys`)");
  if (!o.key.empty()) {
    co.keys = security::load_keypair(o.key);
    co.trusted_workers = security::load_trusted(o.trusted);
    return;
  }
  if (!security::is_loopback_endpoint(o.control) && !o.insecure) {
    fail("--control {} is reachable from other machines: give --key and --trusted (see `helix keys`) so that only "
         "trusted workers join and traffic is encrypted, or --insecure",
         o.control);
  }
}

// A coordinator and its HTTP server, running until stop().
class Service {
 public:
  explicit Service(const ServeOptions& o) {
    LoadedCluster loaded = load_cluster_arg(o.cluster, "");
    ServedModel m = served_model(o);
    Placement placement = placement_for(o, loaded.cluster, m.spec);
    serving_ = sim::sim_cluster_from_placement(loaded.cluster, m.spec, placement, placement.method == "petals");
    runtime::CoordinatorOptions co;
    co.control_endpoint = o.control;
    co.model_id = m.id;
    co.emulated = o.engine == "emulated";
    co.context_length = m.context;
    co.chat_prompt = m.chat_prompt;
    co.worker_kv_tokens = o.kv_tokens;
    if (!(o.kv_hwm > 0 && o.kv_hwm <= 1)) fail("--kv-hwm {}: expected a share in (0, 1]", o.kv_hwm);
    if (!(o.kv_output_ratio > 0)) fail("--kv-output-ratio {}: must be positive", o.kv_output_ratio);
    co.kv = sched::KvParameters{o.kv_hwm, o.kv_output_ratio};
    if (o.gather_us < 0 || o.gather_us > 1'000'000) fail("--gather-us {}: expected 0 to 1000000 microseconds", o.gather_us);
    co.gather_us = o.gather_us;
    co.emulated_real_activations = o.real_activations;
    co.activations = runtime::parse_activation_dtype(o.activations, "--activations");
    if (!(o.worker_timeout > 0)) fail("--worker-timeout {}: must be positive seconds", o.worker_timeout);
    co.worker_timeout_s = o.worker_timeout;
    co.move_penalty_tps = o.move_penalty;
    if (o.replan_evaluations < 1) fail("--replan-evaluations {}: must be at least 1", o.replan_evaluations);
    co.replan_evaluations = o.replan_evaluations;
    if (o.max_requests < 0) fail("--max-requests {}: must be 0 (no limit) or more", o.max_requests);
    co.max_requests = o.max_requests;
    co.partial_inference = placement.method == "petals";
    secure_control(o, co);
    coordinator_ = std::make_unique<runtime::Coordinator>(serving_, co, std::move(m.tokenizer));
    coordinator_->start();
    auto [host, port] = host_port(o.listen);
    api::HttpServerOptions ho;
    ho.host = host;
    ho.port = port;
    ho.api_key = o.api_key;
    ho.threads = o.http_threads;
    http_ = std::make_unique<api::HttpServer>(*coordinator_, ho);
    port_ = http_->start();
    host_ = host;
    spdlog::info("coordinator: model '{}' on {}: {}", m.id, loaded.source, placement_summary(serving_));
    spdlog::info("coordinator: workers join at {}; OpenAI API at http://{}:{}/v1", coordinator_->control_endpoint(), host, port_);
  }
  ~Service() { stop(); }

  void stop() {
    if (http_) http_->stop();
    if (coordinator_) coordinator_->stop();
  }
  runtime::Coordinator& coordinator() { return *coordinator_; }
  const sim::SimCluster& serving() const { return serving_; }
  int port() const { return port_; }
  const std::string& host() const { return host_; }

 private:
  sim::SimCluster serving_;
  std::unique_ptr<runtime::Coordinator> coordinator_;
  std::unique_ptr<api::HttpServer> http_;
  int port_ = 0;
  std::string host_;
};

void wait_for_stop() {
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

void run_serve(const ServeOptions& o) {
  log_to_stderr();
  catch_stop_signals();
  Service service(o);
  wait_for_stop();
  spdlog::info("coordinator: stopping");
  service.stop();
}

void add_serve_options(CLI::App* cmd, ServeOptions& o) {
  cmd->add_option("--cluster", o.cluster, "Cluster file or built-in cluster name")->capture_default_str();
  cmd->add_option("--placement", o.placement, "Placement file (helix JSON or the paper's *_sol.ini)");
  cmd->add_flag("--plan", o.plan, "Plan the placement now (the default when --placement is not given)");
  cmd->add_option("--method", o.method, "Placement method for --plan")->capture_default_str();
  cmd->add_option("--model", o.model, "Model directory (real engine) or model name (emulated: llama2-70b, ...)");
  cmd->add_option("--engine", o.engine, "real | emulated (workers sleep per their GPU profile)")->capture_default_str();
  cmd->add_option("--listen", o.listen, "HTTP address HOST:PORT")->capture_default_str();
  cmd->add_option("--control", o.control, "Where workers connect (tcp://HOST:PORT)")->capture_default_str();
  cmd->add_option("--api-key", o.api_key, "Require 'Authorization: Bearer KEY'");
  cmd->add_option("--model-id", o.model_id, "Model name in the API (default: the model directory's name)");
  cmd->add_option("--context", o.context, "Cap the context length (tokens)");
  cmd->add_option("--kv-tokens", o.kv_tokens,
                  "KV-cache tokens each real worker allocates (default: what the weights leave of 90% of a GPU's "
                  "memory, 4096 on a cpu)");
  cmd->add_option("--activations", o.activations,
                  "What real workers send hidden states as: f32 (a pipeline gives one process's bits) or f16 (half "
                  "the bytes on every link between workers); the plan counts its bytes")
      ->capture_default_str();
  cmd->add_option("--kv-dtype", o.kv_dtype,
                  "What the real workers' KV caches store (f32 or f16): the plan counts its bytes (up gives it to "
                  "its workers; give `helix worker` the same)")
      ->capture_default_str();
  cmd->add_option("--http-threads", o.http_threads, "HTTP threads: the most requests served at once (more queue)")
      ->capture_default_str();
  cmd->add_option("--kv-hwm", o.kv_hwm, "Helix router: a node takes a prompt while its expected KV use stays below this share")
      ->capture_default_str();
  cmd->add_option("--kv-output-ratio", o.kv_output_ratio, "Helix router: expected output = this x 240 tokens")
      ->capture_default_str();
  cmd->add_flag("--real-activations", o.real_activations,
                "Emulated engine: send activation rows of the model's real size (default: one float per token)");
  cmd->add_option("--gather-us", o.gather_us,
                  "An idle worker waits this long (microseconds) for the rest of a batch before it steps")
      ->capture_default_str();
  cmd->add_option("--worker-timeout", o.worker_timeout,
                  "Seconds of silence (heartbeats every 0.5 s) before a worker is taken as lost; a closed connection is seen at once")
      ->capture_default_str();
  cmd->add_option("--move-penalty", o.move_penalty,
                  "Re-planning: tokens/s charged per layer a node must newly load (default: 1% of the first placement's max flow)");
  cmd->add_option("--replan-evaluations", o.replan_evaluations, "Re-planning: the helix planner's evaluation budget")
      ->capture_default_str();
  cmd->add_option("--max-requests", o.max_requests,
                  "Requests open at once (routed or waiting); more get a 503 at once instead of joining a backlog (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--key", o.key, "CurveZMQ: the coordinator's secret key file (helix keys coordinator)");
  cmd->add_option("--trusted", o.trusted, "CurveZMQ: the workers' public keys: a folder of NODE.pub or a 'NODE KEY' list");
  cmd->add_flag("--insecure", o.insecure, "Allow a non-loopback --control without keys (anyone who reaches it can join)");
  cmd->add_option("--ready-timeout", o.ready_timeout, "Seconds to wait for the workers (up)")->capture_default_str();
}

// ---------------------------------------------------------------- worker

struct WorkerCli {
  runtime::WorkerOptions worker;
  std::string key, coordinator_key;  // CurveZMQ: its .key file, the coordinator's .pub file
  bool insecure = false;
  std::string device;  // the real engine's: cpu or cuda:N; "": the cluster file's, else cpu
  KvCli kv;
};

void run_worker_command(const WorkerCli& cli) {
  log_to_stderr();
  catch_stop_signals();
  runtime::WorkerOptions o = cli.worker;
  const KvCacheOptions kv = parse_kv_options(cli.kv);
  o.kv = kv;
  require_real_engine_for(kv, o.engine);
  if (!cli.device.empty()) {
    o.device = parse_stage_device(cli.device);
    check_stage_device(*o.device);  // here, not after joining
  }
  // The device the Assign names is checked as the layers load: a GPU missing here
  // then ends the worker with the reason.
  o.make_stage = [](ModelFiles model, LayerRange layers, const EngineOptions& options, const DeviceName& device) {
    check_stage_device(device, "");  // the worker's message names the device
    return make_stage(std::move(model), layers, options, device);
  };
  if (cli.key.empty() != cli.coordinator_key.empty()) fail("--key and --coordinator-key go together (see `helix keys`)");
  if (!cli.key.empty()) {
    o.keys = security::load_keypair(cli.key);
    o.coordinator_key = security::load_public_key(cli.coordinator_key);
  } else if (!security::is_loopback_endpoint("tcp://" + o.listen_host + ":0") && !cli.insecure) {
    fail("--listen {} is reachable from other machines: give --key and --coordinator-key (see `helix keys`) so that "
         "only the coordinator and trusted peers can send it work, or --insecure",
         o.listen_host);
  }
  runtime::run_worker(o, g_stop);
}

// ---------------------------------------------------------------- up

struct UpOptions {
  ServeOptions serve;
  std::vector<std::string> slowdowns;  // NODE=X
  std::vector<std::string> devices;    // NODE=cpu|cuda:N
  std::string kv_memory;               // every real worker's KV capacity, a size or a share ("": serve's --kv-tokens)
  int threads = 1;
  std::string prompt;
  int max_tokens = 32;
  bool serve_after = false;
  std::string log_dir;
};

std::map<std::string, double> parse_slowdowns(const std::vector<std::string>& items) {
  std::map<std::string, double> out;
  for (const std::string& s : items) {
    const auto eq = s.find('=');
    if (eq == std::string::npos) fail("--slowdown {}: expected NODE=FACTOR", s);
    try {
      out[s.substr(0, eq)] = std::stod(s.substr(eq + 1));
    } catch (const std::exception&) {
      fail("--slowdown {}: '{}' is not a number", s, s.substr(eq + 1));
    }
  }
  return out;
}

// NODE=DEVICE items: each device checked here, before any worker starts (a GPU
// this machine does not have is refused with the reason, not left to a worker's log).
std::map<std::string, StageDevice> parse_node_devices(const std::vector<std::string>& items) {
  std::map<std::string, StageDevice> out;
  for (const std::string& s : items) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) fail("--device {}: expected NODE=cpu or NODE=cuda:N", s);
    const StageDevice device = parse_stage_device(s.substr(eq + 1));
    check_stage_device(device);
    out[s.substr(0, eq)] = device;
  }
  return out;
}

// Worker processes started with posix_spawn; stopped (and reaped) on destruction.
class WorkerProcesses {
 public:
  ~WorkerProcesses() { stop(); }
  // fork + exec rather than posix_spawn: the child asks to be killed when this
  // process dies (PR_SET_PDEATHSIG), so a killed `helix up` leaves no workers behind.
  void spawn(const std::vector<std::string>& args, const std::string& log_file) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) fail("cannot start a worker process: {}", std::strerror(errno));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(1);  // the parent is already gone
      if (!log_file.empty()) {
        const int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2);
      }
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    pids_.push_back(pid);
  }
  // Exited workers (a worker that fails to load ends up here).
  std::vector<pid_t> exited() {
    std::vector<pid_t> gone;
    for (pid_t& p : pids_) {
      int status = 0;
      if (p > 0 && waitpid(p, &status, WNOHANG) == p) {
        gone.push_back(p);
        p = -1;
      }
    }
    return gone;
  }
  // Workers normally leave on the coordinator's Shutdown; SIGTERM, then SIGKILL, for the rest.
  void stop() {
    for (int round = 0; round < 3; ++round) {
      bool alive = false;
      for (pid_t& p : pids_) {
        if (p <= 0) continue;
        int status = 0;
        if (waitpid(p, &status, WNOHANG) == p) p = -1;
        else alive = true;
      }
      if (!alive) break;
      if (round == 0) std::this_thread::sleep_for(std::chrono::seconds(2));
      for (pid_t p : pids_) {
        if (p > 0) kill(p, round == 0 ? SIGTERM : SIGKILL);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    for (pid_t& p : pids_) {
      if (p > 0) waitpid(p, nullptr, 0);
      p = -1;
    }
  }

 private:
  std::vector<pid_t> pids_;
};

// Makes the built-in demo model on first use: a small random-weight LLaMA.
std::string demo_model() {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "helix-demo-model";
  if (!std::filesystem::exists(dir / "config.json")) {
    spdlog::info("up: writing the demo model (random weights, preset 'tiny') to {}", dir.string());
    RandomModelOptions ro;
    ro.config = random_model_preset("tiny");
    write_random_model(ro, dir);
  }
  return dir.string();
}

// Streams one completion from our own API to stdout, as a client would.
void stream_prompt(const std::string& host, int port, const std::string& model, const std::string& prompt, int max_tokens,
                   const std::string& api_key) {
  httplib::Client client(host, port);
  client.set_read_timeout(120, 0);
  nlohmann::json body = {{"model", model}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"stream", true}, {"temperature", 0}};
  httplib::Headers headers;
  if (!api_key.empty()) headers.emplace("Authorization", "Bearer " + api_key);
  std::string buffer;
  std::fprintf(stdout, "%s", prompt.c_str());
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.headers = headers;
  req.set_header("Content-Type", "application/json");
  req.body = body.dump();
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    if (g_stop) return false;  // Ctrl-C: stop reading, the server cancels the request
    buffer.append(data, n);
    for (std::size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
      const std::string event = buffer.substr(0, end);
      if (!event.starts_with("data: ") || event == "data: [DONE]") continue;
      auto j = nlohmann::json::parse(event.substr(6), nullptr, false);
      if (j.is_discarded()) continue;
      if (j.contains("error")) fail("up: the request failed: {}", j["error"].value("message", ""));
      if (j.contains("choices") && !j["choices"].empty()) std::fprintf(stdout, "%s", j["choices"][0].value("text", "").c_str());
      std::fflush(stdout);
    }
    return true;
  };
  httplib::Result res = client.send(req);
  std::fprintf(stdout, "\n");
  if (!res && g_stop) return;  // interrupted by Ctrl-C
  if (!res) fail("up: the request to http://{}:{} failed: {}", host, port, httplib::to_string(res.error()));
  if (res->status != 200) fail("up: the server answered {}: {}", res->status, buffer + res->body);
}

// The weights a stage of `range` holds, by the model's spec: its layers, and the
// embedding table (first stage) or the LM head (last stage), each vocab x hidden.
double stage_weight_bytes(const ModelSpec& m, const LayerRange& range) {
  const double table = static_cast<double>(m.vocab_size) * m.hidden_size * m.dtype_bytes;
  return range.size() * m.layer_param_bytes + (range.start == 0 ? table : 0.0) +
         (range.end == m.num_layers ? table : 0.0);
}

// The --kv-memory of each worker that shares its GPU with other workers of this
// `up` (runtime::shared_gpu_shares: "30%" and "60%" for workers of 1 and 2 GB of
// weights on cuda:0). A node's device: its --device, else the cluster file's.
std::map<std::string, std::string> shared_gpu_kv_memory(const sim::SimCluster& s,
                                                        const std::map<std::string, StageDevice>& devices) {
  std::vector<runtime::PlacedWorker> placed;
  for (int i = 0; i < s.cluster.num_nodes(); ++i) {
    const ComputeNode& n = s.cluster.nodes[static_cast<std::size_t>(i)];
    const LayerRange& range = s.ranges[static_cast<std::size_t>(i)];
    if (range.empty()) continue;
    const auto given = devices.find(n.name);
    if (given != devices.end()) {
      placed.push_back({n.name, given->second, stage_weight_bytes(s.model, range)});
    } else if (n.device) {
      placed.push_back({n.name, *n.device, stage_weight_bytes(s.model, range)});
    }
  }
  std::map<std::string, std::string> memory;
  for (const auto& [node, share] : runtime::shared_gpu_shares(placed)) {
    memory[node] = fmt::format("{:g}%", 100 * share);
    spdlog::info("up: worker {} shares its GPU: --kv-memory {}", node, memory[node]);
  }
  return memory;
}

void run_up(UpOptions o) {
  log_to_stderr();
  catch_stop_signals();
  // The options first: a bad one is refused before the demo model is written.
  const auto slowdowns = parse_slowdowns(o.slowdowns);
  const auto devices = parse_node_devices(o.devices);
  if (!devices.empty() && o.serve.engine != "real") fail("--device needs --engine real (emulated workers run no model)");
  // Checked here; the workers get --kv-dtype and --kv-memory as given, the coordinator --kv-tokens.
  const KvCacheOptions kv = parse_kv_options(KvCli{o.serve.kv_tokens, o.kv_memory, o.serve.kv_dtype});
  require_real_engine_for(kv, o.serve.engine);
  if (o.serve.engine == "real" && o.serve.model.empty()) o.serve.model = demo_model();
  Service service(o.serve);
  const sim::SimCluster& s = service.serving();
  const auto require_node = [&](const std::string& option, const std::string& node) {
    bool found = false;
    for (const ComputeNode& n : s.cluster.nodes) found = found || n.name == node;
    if (!found) fail("{}: no node '{}' in the cluster", option, node);
  };
  for (const auto& [node, factor] : slowdowns) require_node(fmt::format("--slowdown {}={}", node, factor), node);
  for (const auto& [node, device] : devices) require_node(fmt::format("--device {}={}", node, device.name()), node);
  if (o.serve.engine == "real") {  // the cluster file's devices (the workers get them in their Assign), checked first
    for (int i = 0; i < s.cluster.num_nodes(); ++i) {
      const ComputeNode& n = s.cluster.nodes[static_cast<std::size_t>(i)];
      if (n.device && !s.ranges[static_cast<std::size_t>(i)].empty() && !devices.contains(n.name)) {
        check_stage_device(*n.device, fmt::format("the cluster file's node {}: device", n.name));
      }
    }
  }
  const std::map<std::string, std::string> gpu_shares =
      o.serve.engine == "real" && o.serve.kv_tokens == 0 && o.kv_memory.empty() ? shared_gpu_kv_memory(s, devices)
                                                                               : std::map<std::string, std::string>{};
  WorkerProcesses workers;
  if (!o.log_dir.empty()) std::filesystem::create_directories(o.log_dir);
  for (int i = 0; i < s.cluster.num_nodes(); ++i) {
    if (s.ranges[static_cast<std::size_t>(i)].empty()) continue;
    const std::string& name = s.cluster.nodes[static_cast<std::size_t>(i)].name;
    std::vector<std::string> args = {"helix", "worker", "--coordinator", service.coordinator().control_endpoint(),
                                     "--node", name, "--engine", o.serve.engine, "--threads", std::to_string(o.threads)};
    if (o.serve.engine == "real") args.insert(args.end(), {"--model", o.serve.model, "--kv-dtype", o.serve.kv_dtype});
    if (!o.kv_memory.empty()) args.insert(args.end(), {"--kv-memory", o.kv_memory});
    if (auto it = gpu_shares.find(name); it != gpu_shares.end()) args.insert(args.end(), {"--kv-memory", it->second});
    if (auto it = slowdowns.find(name); it != slowdowns.end()) args.insert(args.end(), {"--slowdown", fmt::format("{}", it->second)});
    if (auto it = devices.find(name); it != devices.end()) args.insert(args.end(), {"--device", it->second.name()});
    workers.spawn(args, o.log_dir.empty() ? "" : (std::filesystem::path(o.log_dir) / (name + ".log")).string());
  }
  const auto start = std::chrono::steady_clock::now();
  while (!service.coordinator().wait_ready(0.2)) {
    if (g_stop) return;
    if (!workers.exited().empty()) fail("up: a worker process exited before the cluster was ready (see its log)");
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > o.serve.ready_timeout) {
      fail("up: the workers were not ready within {} s", o.serve.ready_timeout);
    }
  }
  spdlog::info("up: {} workers ready", s.cluster.num_nodes());
  const std::string id = service.coordinator().model_ids().front();
  if (!o.prompt.empty()) stream_prompt(service.host(), service.port(), id, o.prompt, o.max_tokens, o.serve.api_key);
  if (o.serve_after || o.prompt.empty()) {
    spdlog::info("up: serving at http://{}:{}/v1 — Ctrl-C stops everything", service.host(), service.port());
    wait_for_stop();
  }
  service.stop();
  workers.stop();
}

}  // namespace

void register_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the coordinator: OpenAI-compatible API, routing over the workers");
  add_serve_options(cmd, *o);
  cmd->callback([o] { run_serve(*o); });
}

void register_worker(CLI::App& app) {
  auto cli = std::make_shared<WorkerCli>();
  runtime::WorkerOptions* o = &cli->worker;
  CLI::App* cmd = app.add_subcommand("worker", "Run one compute node: join the coordinator and serve its layers");
  cmd->add_option("--coordinator", o->coordinator, "The coordinator's control endpoint")->capture_default_str();
  cmd->add_option("--node", o->node, "The cluster node this worker is")->required();
  cmd->add_option("--model", o->model, "Model directory (real engine)");
  cmd->add_option("--engine", o->engine, "real | emulated")->capture_default_str();
  cmd->add_option("--gpu", o->gpu, "The GPU type this worker is: checked against the cluster; a node the cluster file does not list joins as a new node of this type");
  cmd->add_option("--listen", o->listen_host, "Host its data socket binds to")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Engine compute threads (the CPU engine's)")->capture_default_str();
  cmd->add_option("--device", cli->device,
                  "Where the real engine runs: cpu, or cuda:N where the build has CUDA (default: the node's device in "
                  "the cluster file, else cpu)");
  cmd->add_option("--slowdown", o->slowdown, "Make every step this many times slower (>= 1)")->capture_default_str();
  add_kv_options(cmd, cli->kv, "the coordinator's, else what the weights leave of 90% of a GPU's memory, else 4096 on the cpu");
  cmd->add_option("--join-timeout", o->join_timeout_s, "Seconds to wait for the coordinator")->capture_default_str();
  cmd->add_option("--coordinator-timeout", o->coordinator_timeout_s, "Exit when no coordinator answers this many seconds (after 3 s of silence it re-joins, keeping its layers)")
      ->capture_default_str();
  cmd->add_option("--key", cli->key, "CurveZMQ: this worker's secret key file (helix keys NODE)");
  cmd->add_option("--coordinator-key", cli->coordinator_key, "CurveZMQ: the coordinator's public key file (.pub)");
  cmd->add_flag("--insecure", cli->insecure, "Allow a non-loopback --listen without keys (anyone who reaches it can send work)");
  cmd->callback([cli] { run_worker_command(*cli); });
}

void register_up(CLI::App& app) {
  auto o = std::make_shared<UpOptions>();
  o->serve.listen = "127.0.0.1:8000";
  o->serve.control = "tcp://127.0.0.1:0";
  o->prompt = "The quick brown fox";
  CLI::App* cmd = app.add_subcommand("up", "Start a coordinator and a worker per placed node on this machine");
  add_serve_options(cmd, o->serve);
  cmd->add_option("--slowdown", o->slowdowns, "NODE=FACTOR: make that worker slower (repeatable)");
  cmd->add_option("--device", o->devices,
                  "NODE=cpu|cuda:N: where that worker's real engine runs (repeatable; default: the node's device in "
                  "the cluster file, else cpu)");
  cmd->add_option("--threads", o->threads, "Compute threads per worker")->capture_default_str();
  cmd->add_option("--kv-memory", o->kv_memory,
                  "Each worker's KV cache capacity in memory, e.g. '1 GiB', or what is left of a share of its device's "
                  "memory, e.g. '90%', given to every worker as it is (instead of --kv-tokens; default: each GPU's "
                  "workers divide 90%)");
  cmd->add_option("--prompt", o->prompt, "Stream this prompt once everyone is ready ('' = none)")->capture_default_str();
  cmd->add_option("--max-tokens", o->max_tokens, "Tokens to generate for --prompt")->capture_default_str();
  cmd->add_flag("--serve", o->serve_after, "Keep serving after the prompt (until Ctrl-C)");
  cmd->add_option("--log-dir", o->log_dir, "Write each worker's log to DIR/NODE.log (default: this terminal)");
  cmd->callback([o] { run_up(*o); });
}

}  // namespace helix::cli
