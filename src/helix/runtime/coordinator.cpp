#include "helix/runtime/coordinator.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <tuple>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "helix/api/openai_request.h"
#include "helix/api/prometheus.h"
#include "helix/flow/networkx_flow.h"
#include "helix/perf/machine_classes.h"
#include "helix/perf/perf_model.h"
#include "helix/runtime/stop_strings.h"
#include "helix/runtime/transport.h"
#include "helix/sched/helix_router.h"
#include "helix/tokenize/stream_decoder.h"

namespace helix::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using sched::kSink;
using sched::kSource;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

api::ApiError unavailable(std::string message) {
  return api::ApiError{503, "server_error", std::move(message), ""};
}

// What a worker told us last, for /metrics.
struct NodeStats {
  bool joined = false, ready = false, dropped = false;
  std::string engine, endpoint;
  Heartbeat heartbeat;
  double last_seen_s = 0;
};

// One request from acceptance to its final event.
struct Request {
  std::uint64_t id = 0;
  api::GenerationRequest api;
  std::vector<int> prompt;
  std::shared_ptr<api::GenerationStream> stream;
  Sampling sampling;
  std::vector<int> stop_tokens;
  sched::Route route;
  std::vector<RouteHop> hops;
  std::unique_ptr<StreamDecoder> decoder;
  std::unique_ptr<StopStrings> stops;
  int generated = 0;
  std::vector<int> output;     // generated ids (stop token excluded)
  int prompt_tokens = 0;       // of the client's prompt (usage)
  int folded = 0;              // generated tokens moved into `prompt` by preemptions
  int preemptions = 0;
  bool in_flight = false;  // a Work is out and its Token not back yet
  std::chrono::steady_clock::time_point sent_at;
};

}  // namespace

struct Coordinator::Impl {
  Impl(sim::SimCluster s, CoordinatorOptions o, std::unique_ptr<Tokenizer> t)
      : serving(std::move(s)), options(std::move(o)), tokenizer(std::move(t)), control(context, zmq::socket_type::router),
        wake_in(context, zmq::socket_type::pull), wake_out(context, zmq::socket_type::push) {
    plan_flow();
    nodes.resize(static_cast<std::size_t>(serving.cluster.num_nodes()));
    for (int i = 0; i < serving.cluster.num_nodes(); ++i) node_index[serving.cluster.nodes[static_cast<std::size_t>(i)].name] = i;
    control.set(zmq::sockopt::linger, 1000);  // so that Shutdown reaches the workers
    control.set(zmq::sockopt::router_mandatory, 1);
    wake_in.bind("inproc://coordinator-wake");
    wake_out.connect("inproc://coordinator-wake");
    start_time = Clock::now();
    effective_context = options.context_length;
  }

  // ---------------------------------------------------------------- inputs
  sim::SimCluster serving;
  CoordinatorOptions options;
  std::unique_ptr<Tokenizer> tokenizer;
  ClusterClasses classes;
  FlowSolution flow;
  std::map<std::string, int> node_index;

  // ---------------------------------------------------------------- loop-owned state
  zmq::context_t context;
  zmq::socket_t control, wake_in, wake_out;
  std::thread loop_thread;
  std::atomic<bool> stopping{false};
  std::map<int, zmq::socket_t> data_sockets;  // per node: PUSH to its data endpoint
  std::vector<std::int64_t> worker_kv_tokens;
  std::optional<sched::ServingView> view;
  std::optional<sched::HelixRouter> router;
  std::unordered_map<std::uint64_t, Request> active;
  std::deque<Request> waiting;  // accepted, no route yet
  std::vector<double> edge_tokens;  // per view link: tokens sent over it
  Clock::time_point start_time, last_periodic_check;

  // ---------------------------------------------------------------- shared with HTTP threads
  mutable std::mutex inbox_mutex;  // guards inbox and wake_out
  std::deque<Request> inbox;
  std::atomic<std::uint64_t> next_id{1};
  // Counted as tokens come back (the HTTP layer counts at the end of a request):
  // a rate over any window, for benchmarks and dashboards.
  std::atomic<std::uint64_t> tokens_generated{0}, prompt_tokens_routed{0};
  std::atomic<std::size_t> active_count{0}, waiting_count{0};
  std::atomic<bool> ready{false};
  std::atomic<long long> effective_context{0};  // the model's context, capped by the workers' KV
  mutable std::mutex stats_mutex;  // guards nodes, the ledger snapshot, edge_snapshot
  std::vector<NodeStats> nodes;
  std::vector<double> ledger_available, edge_snapshot;
  mutable std::mutex ready_mutex;
  mutable std::condition_variable ready_cv;

  // ================================================================ setup

  void plan_flow() {
    classes = resolve_machine_classes(serving.cluster, serving.model);
    const PerfModel perf = PerfModel::build(serving.cluster, serving.model);
    flow = solve_simulator_flow_networkx(serving.cluster, serving.model, perf, serving.ranges, serving.links);
    if (!(flow.max_flow_tps > 0)) fail("the placement's max flow is 0: no pipeline covers all layers over the cluster's links");
  }

  const GpuProfile& profile(int node) const {
    return classes.classes[static_cast<std::size_t>(classes.node_class[static_cast<std::size_t>(node)])].profile;
  }
  const LayerRange& range(int node) const { return serving.ranges[static_cast<std::size_t>(node)]; }
  bool placed(int node) const { return !range(node).empty(); }

  Emulation emulation_of(int node) const {
    const GpuProfile& p = profile(node);
    Emulation e;
    for (const auto& pt : p.prompt.points()) e.prompt.push_back({pt.tokens, pt.seconds});
    for (const auto& pt : p.decode.points()) e.decode.push_back({pt.tokens, pt.seconds});
    const InferenceLimits l = p.limits(std::min(range(node).size(), p.max_layers));
    e.prompt_max_tokens = static_cast<std::int32_t>(l.prompt_max_tokens);
    e.prompt_max_requests = static_cast<std::int32_t>(l.prompt_max_requests);
    e.decode_max_tokens = static_cast<std::int32_t>(l.decode_max_tokens);
    // Compact by default: the rows are zeros nobody reads, and 42 emulated workers
    // pushing real-size rows through one machine's loopback spend its CPUs on
    // copies that a real cluster spreads over 42 NICs (high-het-42: 1.7 cores).
    e.activation_bytes_per_token = options.emulated_real_activations
                                       ? static_cast<std::int32_t>(serving.model.activation_bytes_per_token)
                                       : static_cast<std::int32_t>(sizeof(float));
    e.vocab_size = tokenizer->vocab_size();
    return e;
  }

  // When every placed node is ready: the serving view with the KV the workers
  // really allocated (real engines) or the profile's (emulated), and the router.
  void build_router() {
    const int n = serving.cluster.num_nodes();
    std::vector<double> kv(static_cast<std::size_t>(n), 0);
    std::vector<long long> prompt_max(static_cast<std::size_t>(n), 0);
    for (int i = 0; i < n; ++i) {
      if (!placed(i)) continue;
      const auto u = static_cast<std::size_t>(i);
      if (options.emulated) {
        kv[u] = serving.kv_capacity[u];
        prompt_max[u] = profile(i).limits(std::min(range(i).size(), profile(i).max_layers)).prompt_max_tokens;
      } else {
        kv[u] = static_cast<double>(worker_kv_tokens[u]) * range(i).size();
        prompt_max[u] = options.context_length;
      }
    }
    {
      // metrics_text() reads the view from HTTP threads.
      std::lock_guard<std::mutex> lock(stats_mutex);
      view.emplace(sched::make_serving_view(serving.cluster, serving.model.num_layers, serving.ranges, serving.links, kv,
                                            prompt_max, flow));
      router.emplace(*view, sched::HelixRouterOptions{options.kv, 0.05});
      edge_tokens.assign(view->links.size(), 0);
      edge_snapshot = edge_tokens;
      snapshot_ledger();
    }
    // A real worker holds at most its KV capacity of one sequence: that bounds the context.
    if (!options.emulated) {
      for (int i = 0; i < n; ++i) {
        if (placed(i)) effective_context = std::min<long long>(effective_context, worker_kv_tokens[static_cast<std::size_t>(i)]);
      }
    }
    {
      std::lock_guard<std::mutex> lock(ready_mutex);
      ready = true;
    }
    ready_cv.notify_all();
    spdlog::info("coordinator: all {} placed nodes ready; planned max flow {:.1f} tokens/s", placed_count(),
                 flow.max_flow_tps);
  }

  int placed_count() const {
    int c = 0;
    for (int i = 0; i < serving.cluster.num_nodes(); ++i) c += placed(i) ? 1 : 0;
    return c;
  }

  // ================================================================ the loop

  void loop() {
    while (!stopping) {
      try {
        iterate();
      } catch (const std::exception& e) {
        // A bug or an unexpected socket error must not take the server down
        // with requests open: log it and go on.
        spdlog::error("coordinator: {}", e.what());
      }
    }
    shutdown();
  }

  void iterate() {
    zmq::pollitem_t items[] = {{control.handle(), 0, ZMQ_POLLIN, 0}, {wake_in.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(200));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;  // a signal only wakes us
    }
    drain_control();
    drain_wake();
    take_inbox();
    // Liveness and deadlines need no more than a few checks a second; the loop
    // itself wakes for every token.
    const auto now = Clock::now();
    if (now - last_periodic_check >= std::chrono::milliseconds(200)) {
      last_periodic_check = now;
      check_timeouts();
      check_requests();
    }
    active_count = active.size();
    waiting_count = waiting.size();
  }

  void drain_control() {
    for (;;) {
      std::string identity;
      std::optional<Envelope> e;
      try {
        e = try_receive(control, true, &identity);
      } catch (const WireError& err) {
        corrupt(identity, err.what());
        continue;
      }
      if (!e) return;
      on_control(*e);
    }
  }

  void drain_wake() {
    zmq::message_t m;
    while (wake_in.recv(m, zmq::recv_flags::dontwait)) {
    }
  }

  // A corrupt message drops the worker that sent it (its requests fail with an
  // error); from an unknown peer it is only logged.
  void corrupt(const std::string& identity, const std::string& what) {
    auto it = node_index.find(identity);
    if (it == node_index.end() || !nodes_joined(it->second)) {
      spdlog::warn("coordinator: dropped a corrupt message from unknown peer '{}': {}", identity, what);
      return;
    }
    spdlog::error("coordinator: dropping worker {}: it sent a corrupt message: {}", identity, what);
    drop_node(it->second, "worker " + identity + " sent a corrupt message and was dropped");
  }

  bool nodes_joined(int node) const {
    std::lock_guard<std::mutex> lock(stats_mutex);
    return nodes[static_cast<std::size_t>(node)].joined && !nodes[static_cast<std::size_t>(node)].dropped;
  }

  void on_control(const Envelope& e) {
    const auto it = node_index.find(e.identity);
    if (const auto* hello = std::get_if<Hello>(&e.message)) return on_hello(e.identity, *hello);
    if (it == node_index.end() || !nodes_joined(it->second)) {
      spdlog::warn("coordinator: ignored a {} message from '{}', which has not joined", message_name(e.message), e.identity);
      return;
    }
    const int node = it->second;
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      nodes[static_cast<std::size_t>(node)].last_seen_s = seconds_since(start_time);
    }
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, Ready>) on_ready(node, m);
          else if constexpr (std::is_same_v<T, Token>) on_token(node, m);
          else if constexpr (std::is_same_v<T, Heartbeat>) on_heartbeat(node, m);
          else if constexpr (std::is_same_v<T, WorkFailed>) on_work_failed(node, m);
          else spdlog::warn("coordinator: ignored an unexpected {} message from {}", message_name(e.message), e.identity);
        },
        e.message);
  }

  void refuse(const std::string& identity, const std::string& reason) {
    spdlog::warn("coordinator: refused '{}': {}", identity, reason);
    try {
      send(control, Refuse{reason}, nullptr, &identity);
    } catch (const zmq::error_t&) {  // already gone
    }
  }

  void on_hello(const std::string& identity, const Hello& h) {
    auto it = node_index.find(h.node);
    if (h.node != identity) return refuse(identity, "its routing id must be its node name");
    if (it == node_index.end()) return refuse(identity, fmt::format("node '{}' is not in the cluster", h.node));
    const int node = it->second;
    if (!placed(node)) return refuse(identity, fmt::format("node '{}' holds no layers in this placement", h.node));
    if (nodes_joined(node)) return refuse(identity, fmt::format("node '{}' has already joined", h.node));
    if (node_dropped(node)) {
      return refuse(identity, fmt::format("node '{}' was dropped; re-joining needs a new coordinator (and plan)", h.node));
    }
    if ((h.engine == "emulated") != options.emulated) {
      return refuse(identity, options.emulated ? "this coordinator serves emulated workers: start it with --engine emulated"
                                               : "this coordinator serves a real model: start it with --engine real");
    }
    const std::string gpu = serving.cluster.gpu_of(node).name;
    if (!h.gpu.empty() && h.gpu != gpu) {
      return refuse(identity, fmt::format("node '{}' is a {} in the cluster, not a {}", h.node, gpu, h.gpu));
    }
    if (std::string why = bad_endpoint(h.data_endpoint); !why.empty()) return refuse(identity, why);
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      NodeStats& s = nodes[static_cast<std::size_t>(node)];
      s = NodeStats{};
      s.joined = true;
      s.engine = h.engine;
      s.endpoint = h.data_endpoint;
      s.last_seen_s = seconds_since(start_time);
    }
    spdlog::info("coordinator: {} joined ({} engine, data at {})", h.node, h.engine, h.data_endpoint);
    // Peers are sent when everyone has joined (send_assignments).
    if (all_joined()) send_assignments();
  }

  // Why a worker's data endpoint cannot be used ("" if it can): it must be a
  // concrete tcp://HOST:PORT that others can connect to.
  std::string bad_endpoint(const std::string& endpoint) {
    if (!endpoint.starts_with("tcp://")) return "its data endpoint must be tcp://HOST:PORT, not '" + endpoint + "'";
    if (endpoint.starts_with("tcp://0.0.0.0:") || endpoint.starts_with("tcp://[::]:") || endpoint.starts_with("tcp://*:")) {
      return "its data endpoint " + endpoint + " is not an address others can reach: start it with --listen <its IP>";
    }
    try {
      zmq::socket_t probe(context, zmq::socket_type::push);
      probe.set(zmq::sockopt::linger, 0);
      probe.connect(endpoint);
    } catch (const zmq::error_t& e) {
      return "its data endpoint '" + endpoint + "' is invalid: " + e.what();
    }
    return "";
  }

  bool all_joined() const {
    std::lock_guard<std::mutex> lock(stats_mutex);
    for (int i = 0; i < serving.cluster.num_nodes(); ++i) {
      if (placed(i) && !nodes[static_cast<std::size_t>(i)].joined) return false;
    }
    return true;
  }

  void send_assignments() {
    std::vector<Peer> peers;
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      for (int i = 0; i < serving.cluster.num_nodes(); ++i) {
        if (placed(i)) peers.push_back({i, nodes[static_cast<std::size_t>(i)].endpoint});
      }
    }
    for (const Peer& p : peers) {
      Assign a;
      a.node = p.node;
      a.layers = range(p.node);
      a.num_layers = serving.model.num_layers;
      a.kv_tokens = options.worker_kv_tokens;
      a.prefill_chunk = options.prefill_chunk;
      a.max_batch_tokens = options.max_batch_tokens;
      a.gather_us = options.gather_us;
      a.emulated = options.emulated;
      // Emulated KV is the profile's: what the ledger and the simulator assume.
      if (options.emulated) a.kv_tokens = static_cast<std::int64_t>(serving.kv_capacity[static_cast<std::size_t>(p.node)] / range(p.node).size());
      if (options.emulated) a.emulation = emulation_of(p.node);
      a.peers = peers;
      const std::string& name = serving.cluster.nodes[static_cast<std::size_t>(p.node)].name;
      try {
        send(control, a, nullptr, &name);
      } catch (const zmq::error_t& e) {  // it left between Hello and now
        spdlog::error("coordinator: cannot reach {}: {}", name, e.what());
        std::lock_guard<std::mutex> lock(stats_mutex);
        nodes[static_cast<std::size_t>(p.node)] = NodeStats{};
        continue;
      }
      zmq::socket_t s(context, zmq::socket_type::push);
      s.set(zmq::sockopt::sndhwm, 0);
      s.set(zmq::sockopt::linger, 0);
      s.connect(p.data_endpoint);
      data_sockets.insert_or_assign(p.node, std::move(s));
    }
  }

  void on_ready(int node, const Ready& r) {
    if (!options.emulated && r.vocab_size < tokenizer->vocab_size()) {
      drop_node(node, fmt::format("its model has {} tokens, the tokenizer {}", r.vocab_size, tokenizer->vocab_size()));
      return;
    }
    worker_kv_tokens.resize(nodes.size(), 0);
    worker_kv_tokens[static_cast<std::size_t>(node)] = r.kv_capacity_tokens;
    bool all = true;
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      nodes[static_cast<std::size_t>(node)].ready = true;
      for (int i = 0; i < serving.cluster.num_nodes(); ++i) all = all && (!placed(i) || nodes[static_cast<std::size_t>(i)].ready);
    }
    spdlog::info("coordinator: {} ready, {} KV tokens", serving.cluster.nodes[static_cast<std::size_t>(node)].name,
                 r.kv_capacity_tokens);
    if (all && !router) build_router();
  }

  void on_heartbeat(int node, const Heartbeat& h) {
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      nodes[static_cast<std::size_t>(node)].heartbeat = h;
    }
    // The answer tells the worker we are alive (it exits when we go silent).
    const std::string& name = serving.cluster.nodes[static_cast<std::size_t>(node)].name;
    try {
      send(control, Heartbeat{}, nullptr, &name);
    } catch (const zmq::error_t&) {  // gone; check_timeouts will notice
    }
  }

  void check_timeouts() {
    const double now = seconds_since(start_time);
    std::vector<int> silent;
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        const NodeStats& s = nodes[i];
        if (s.ready && !s.dropped && now - s.last_seen_s > options.worker_timeout_s) silent.push_back(static_cast<int>(i));
      }
    }
    for (int node : silent) {
      const std::string& name = serving.cluster.nodes[static_cast<std::size_t>(node)].name;
      spdlog::error("coordinator: dropping worker {}: silent for more than {} s", name, options.worker_timeout_s);
      drop_node(node, "worker " + name + " stopped answering and was dropped");
    }
  }

  // Requests whose client left (or that wait too long for their next token) end
  // here instead of waiting for a token that may be minutes away or lost.
  void check_requests() {
    const auto now = Clock::now();
    std::vector<std::uint64_t> cancelled, late;
    for (const auto& [id, r] : active) {
      if (r.stream->cancelled()) cancelled.push_back(id);
      else if (std::chrono::duration<double>(now - r.sent_at).count() > options.request_timeout_s) late.push_back(id);
    }
    // Clients that left while their request waited for a route.
    for (auto it = waiting.begin(); it != waiting.end();) {
      if (it->stream->cancelled()) {
        it->stream->push(finish_event("cancelled", *it));
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    for (std::uint64_t id : cancelled) finish(id, "cancelled");
    for (std::uint64_t id : late) {
      spdlog::warn("coordinator: request {} got no token for {} s; ending it", id, options.request_timeout_s);
      finish_with_error(id, unavailable(fmt::format("no token came back within {} s", options.request_timeout_s)));
    }
  }

  // A dropped node's requests end with an error; new routes through it are refused.
  void drop_node(int node, const std::string& reason) {
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      nodes[static_cast<std::size_t>(node)].dropped = true;
    }
    const std::string& name = serving.cluster.nodes[static_cast<std::size_t>(node)].name;
    try {
      send(control, Shutdown{}, nullptr, &name);  // it must not go on serving half a request
    } catch (const zmq::error_t&) {  // already gone
    }
    std::vector<std::uint64_t> hit;
    for (const auto& [id, r] : active) {
      for (const RouteHop& h : r.hops) {
        if (h.node == node) hit.push_back(id);
      }
    }
    for (std::uint64_t id : hit) {
      try {
        finish_with_error(id, unavailable(reason));
      } catch (const std::exception& e) {
        spdlog::error("coordinator: while ending request {}: {}", id, e.what());
      }
    }
  }

  bool node_dropped(int node) const {
    std::lock_guard<std::mutex> lock(stats_mutex);
    return nodes[static_cast<std::size_t>(node)].dropped;
  }

  // ================================================================ requests

  void take_inbox() {
    std::deque<Request> fresh;
    {
      std::lock_guard<std::mutex> lock(inbox_mutex);
      fresh.swap(inbox);
    }
    for (Request& r : fresh) waiting.push_back(std::move(r));
    dispatch_waiting();
  }

  // Routes waiting prompts in arrival order while the router finds routes.
  void dispatch_waiting() {
    if (!router) return;
    while (!waiting.empty()) {
      Request& r = waiting.front();
      if (r.stream->cancelled()) {
        r.stream->push(finish_event("cancelled", r));
        waiting.pop_front();
        continue;
      }
      sched::RouteFailure why;
      std::optional<sched::Route> route = router->route_prompt(static_cast<int>(r.prompt.size()), &why);
      if (!route) {
        // A prompt that no route could take even on an idle cluster is refused
        // now; otherwise it waits for running requests to free KV.
        if (r.preemptions > 0 && !routable_when_idle(static_cast<int>(r.prompt.size()))) {
          // Its prompt plus what it generated before preemption no longer fits any route.
          r.stream->push(error_event(unavailable(fmt::format(
              "the request was preempted for KV after {} tokens and its {} tokens no longer fit any route", r.generated,
              r.prompt.size()))));
          waiting.pop_front();
          continue;
        }
        if (active.empty() || !routable_when_idle(static_cast<int>(r.prompt.size()))) {
          r.stream->push(error_event(api::ApiError{400, "invalid_request_error",
                                                   fmt::format("the prompt of {} tokens cannot be served by this cluster: {}",
                                                               r.prompt.size(), why.describe(*view)),
                                                   "prompt"}));
          waiting.pop_front();
          continue;
        }
        return;  // wait for a request to finish
      }
      Request req = std::move(r);
      waiting.pop_front();
      start(std::move(req), std::move(*route));
    }
  }

  // The view never changes, so the answer per prompt length is computed once.
  bool routable_when_idle(int tokens) {
    auto it = routable_cache.find(tokens);
    if (it != routable_cache.end()) return it->second;
    sched::HelixRouter idle(*view, sched::HelixRouterOptions{options.kv, 0.05});
    return routable_cache[tokens] = idle.route_prompt(tokens).has_value();
  }
  std::unordered_map<int, bool> routable_cache;

  void start(Request r, sched::Route route) {
    r.route = std::move(route);
    for (const sched::Stage& s : r.route.stages) {
      if (s.node >= 0) r.hops.push_back({s.node, s.layers});
    }
    for (const RouteHop& h : r.hops) {
      if (node_dropped(h.node)) {
        router->on_query_finished(r.route, static_cast<int>(r.prompt.size()));
        r.stream->push(error_event(unavailable("the route passes through a dropped worker; the cluster needs re-planning")));
        return;
      }
    }
    const std::uint64_t id = r.id;
    if (r.preemptions == 0) prompt_tokens_routed += r.prompt.size();
    auto [it, inserted] = active.emplace(id, std::move(r));
    (void)inserted;
    it->second.sent_at = Clock::now();
    try {
      send_work(it->second, 0, std::vector<std::int32_t>(it->second.prompt.begin(), it->second.prompt.end()), true);
    } catch (const std::exception& e) {
      finish_with_error(id, unavailable(std::string("could not send the prompt to its first worker: ") + e.what()));
    }
  }

  void send_work(Request& r, int position, std::vector<std::int32_t> tokens, bool prompt) {
    Work w;
    w.prompt = prompt;
    w.request = r.id;
    w.position = position;
    w.length = static_cast<std::int32_t>(tokens.size());
    w.hop = 0;
    w.want_token = true;
    w.payload = Payload::Tokens;
    w.sampling = r.sampling;
    w.route = r.hops;
    zmq::message_t payload = payload_frame(std::move(tokens));
    send(data_sockets.at(r.hops.front().node), w, &payload);
    r.in_flight = true;
    r.sent_at = Clock::now();
    for (const sched::Stage& s : r.route.stages) edge_tokens[static_cast<std::size_t>(s.link)] += w.length;
  }

  void on_token(int node, const Token& t) {
    auto it = active.find(t.request);
    if (it == active.end()) return;  // finished or failed meanwhile
    Request& r = it->second;
    if (r.hops.back().node != node) {
      spdlog::warn("coordinator: a token for request {} came from node {}, not the end of its route", t.request, node);
      return;
    }
    const int expected = static_cast<int>(r.prompt.size()) + r.generated - r.folded;
    if (!r.in_flight || t.position != expected) {
      spdlog::warn("coordinator: ignored a token for request {} at position {} (expected {}{})", t.request, t.position,
                   expected, r.in_flight ? "" : ", none in flight");
      return;
    }
    r.in_flight = false;
    // Every active request has work in flight, so a cancellation is seen here.
    if (r.stream->cancelled()) return finish(t.request, "cancelled");
    const bool stop_token = std::find(r.stop_tokens.begin(), r.stop_tokens.end(), t.token) != r.stop_tokens.end();
    if (stop_token && !r.api.ignore_eos) return finish(t.request, "stop");
    ++r.generated;
    r.output.push_back(t.token);
    ++tokens_generated;
    std::string text;
    try {
      text = r.stops->push(r.decoder->push(t.token));
    } catch (const Error& e) {
      return finish_with_error(t.request, api::ApiError{500, "server_error", e.what(), ""});
    }
    if (!text.empty()) r.stream->push(api::GenerationEvent{api::GenerationEvent::Kind::Text, text, 1, "", {}, {}});
    if (r.stops->stopped()) return finish(t.request, "stop");
    if (r.generated >= r.api.max_tokens || t.position + 1 >= effective_context) return finish(t.request, "length");
    router->on_decode(r.route);
    send_work(r, t.position, {t.token}, false);
  }

  void on_work_failed(int node, const WorkFailed& f) {
    if (!active.count(f.request)) return;
    spdlog::warn("coordinator: request {} failed on {}: {}", f.request,
                 serving.cluster.nodes[static_cast<std::size_t>(node)].name, f.reason);
    Request& r = active.at(f.request);
    r.in_flight = false;
    if (f.reason.starts_with(kKvFullReason) && r.preemptions < kMaxPreemptions && !r.stream->cancelled()) {
      return requeue(f.request);
    }
    finish_with_error(f.request, unavailable("a worker could not run the request: " + f.reason));
  }

  // Recompute preemption (as vLLM): a worker ran out of KV for this request. Its
  // KV is freed everywhere and it waits at the head of the queue to be routed
  // again, with what it generated so far appended to its prompt — the client sees
  // one uninterrupted stream. It gets a new id, so that no late message of its
  // first route can touch it, and a derived seed (greedy output is unchanged).
  static constexpr int kMaxPreemptions = 8;  // then an explicit error: it cannot make progress
  void requeue(std::uint64_t id) {
    auto entry = active.extract(id);
    Request r = std::move(entry.mapped());
    release_route(r, id);
    router->on_query_finished(r.route, static_cast<int>(r.prompt.size()));
    r.prompt.insert(r.prompt.end(), r.output.begin() + r.folded, r.output.end());
    r.folded = static_cast<int>(r.output.size());
    r.route = {};
    r.hops.clear();
    ++r.preemptions;
    r.sampling.seed = r.sampling.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(r.preemptions);
    r.id = next_id++;
    spdlog::info("coordinator: request {} preempted for KV ({} tokens so far), re-queued as {}", id, r.generated, r.id);
    waiting.push_front(std::move(r));
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      snapshot_ledger();
    }
    dispatch_waiting();
  }

  api::GenerationEvent finish_event(const std::string& reason, const Request& r) const {
    api::GenerationEvent e;
    e.kind = api::GenerationEvent::Kind::Finish;
    e.finish_reason = reason;
    e.usage = {r.prompt_tokens, r.generated};
    return e;
  }
  static api::GenerationEvent error_event(api::ApiError error) {
    api::GenerationEvent e;
    e.kind = api::GenerationEvent::Kind::Error;
    e.error = std::move(error);
    return e;
  }

  void finish(std::uint64_t id, const std::string& reason) {
    Request& r = active.at(id);
    std::string tail = r.stops->push(r.decoder->finish());
    tail += r.stops->flush();
    if (!tail.empty()) r.stream->push(api::GenerationEvent{api::GenerationEvent::Kind::Text, tail, 1, "", {}, {}});
    r.stream->push(finish_event(reason, r));
    close(id);
  }

  void finish_with_error(std::uint64_t id, api::ApiError error) {
    active.at(id).stream->push(error_event(std::move(error)));
    close(id);
  }

  // Frees the request everywhere: KV on its nodes, the ledger, then lets waiting prompts in.
  // The request leaves `active` first, so that nothing below can leave it
  // half-closed (its final event has been pushed already).
  void close(std::uint64_t id) {
    auto entry = active.extract(id);
    Request& r = entry.mapped();
    release_route(r, id);
    router->on_query_finished(r.route, static_cast<int>(r.prompt.size()));
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      edge_snapshot = edge_tokens;
      snapshot_ledger();
    }
    dispatch_waiting();
  }

  // Best effort: a node that cannot be reached has nothing left to free.
  void release_route(const Request& r, std::uint64_t id) {
    for (const RouteHop& h : r.hops) {
      if (node_dropped(h.node)) continue;
      try {
        send(data_sockets.at(h.node), Release{id});
      } catch (const std::exception& e) {
        spdlog::warn("coordinator: could not release request {} on node {}: {}", id, h.node, e.what());
      }
    }
  }

  void snapshot_ledger() {
    ledger_available.assign(nodes.size(), 0);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (placed(static_cast<int>(i))) ledger_available[i] = router->kv().available(static_cast<int>(i));
    }
  }

  void shutdown() {
    for (auto& [id, r] : active) r.stream->push(error_event(unavailable("the server is shutting down")));
    active.clear();
    for (Request& r : waiting) r.stream->push(error_event(unavailable("the server is shutting down")));
    waiting.clear();
    std::deque<Request> late;
    {
      std::lock_guard<std::mutex> lock(inbox_mutex);
      late.swap(inbox);
    }
    for (Request& r : late) r.stream->push(error_event(unavailable("the server is shutting down")));
    std::vector<std::string> names;
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i].joined && !nodes[i].dropped) names.push_back(serving.cluster.nodes[i].name);
      }
    }
    for (const std::string& name : names) {
      try {
        send(control, Shutdown{}, nullptr, &name);
      } catch (const zmq::error_t&) {  // gone already
      }
    }
  }

  // ================================================================ HTTP side

  Request prepare(const api::GenerationRequest& q) const {
    Request r;
    r.api = q;
    if (!q.prompt_tokens.empty()) {
      for (std::int32_t t : q.prompt_tokens) {
        if (t < 0 || t >= tokenizer->vocab_size()) {
          throw api::ApiException(api::ApiError{400, "invalid_request_error",
                                                fmt::format("token id {} is outside the vocabulary of {}", t, tokenizer->vocab_size()),
                                                "prompt"});
        }
      }
      r.prompt.assign(q.prompt_tokens.begin(), q.prompt_tokens.end());
    } else {
      const std::string text = q.chat ? api::render_chat_prompt(q.messages) : q.prompt;
      r.prompt = tokenizer->encode_with_bos(text);
    }
    const char* field = q.chat ? "messages" : "prompt";
    if (r.prompt.empty()) throw api::ApiException(api::ApiError{400, "invalid_request_error", "the prompt has no tokens", field});
    r.prompt_tokens = static_cast<int>(r.prompt.size());
    const long long total = static_cast<long long>(r.prompt.size()) + q.max_tokens;
    const long long limit = effective_context;
    if (total > limit) {
      throw api::ApiException(api::ApiError{
          400, "invalid_request_error",
          fmt::format("this model's maximum context length is {} tokens; the prompt has {} and max_tokens asks for {} more",
                      limit, r.prompt.size(), q.max_tokens),
          static_cast<long long>(r.prompt.size()) >= limit ? field : "max_tokens"});
    }
    r.sampling.temperature = q.temperature;
    r.sampling.top_p = q.top_p;
    r.sampling.seed = q.seed ? *q.seed : std::random_device{}();
    r.sampling.allowed_vocab = tokenizer->vocab_size();
    r.stop_tokens = tokenizer->stop_ids();
    r.decoder = std::make_unique<StreamDecoder>(*tokenizer);
    r.stops = std::make_unique<StopStrings>(q.stop);
    return r;
  }

  std::shared_ptr<api::GenerationStream> submit(const api::GenerationRequest& q) {
    if (q.model != options.model_id) {
      throw api::ApiException(api::ApiError{404, "not_found_error", fmt::format("the model '{}' does not exist", q.model), "model"});
    }
    if (!ready) throw api::ApiException(unavailable("the cluster is not ready yet: " + readiness()));
    Request r = prepare(q);
    r.id = next_id++;
    r.stream = std::make_shared<api::GenerationStream>();
    auto stream = r.stream;
    std::lock_guard<std::mutex> lock(inbox_mutex);
    if (stopping) throw api::ApiException(unavailable("the server is shutting down"));
    if (static_cast<long long>(inbox.size() + waiting_count.load()) >= options.max_waiting) {
      throw api::ApiException(unavailable("too many requests are waiting for a route"));
    }
    inbox.push_back(std::move(r));
    wake_out.send(zmq::str_buffer("w"), zmq::send_flags::dontwait);
    return stream;
  }

  std::string readiness() const {
    std::lock_guard<std::mutex> lock(stats_mutex);
    int joined = 0, ready_nodes = 0, dropped = 0;
    for (int i = 0; i < serving.cluster.num_nodes(); ++i) {
      const NodeStats& s = nodes[static_cast<std::size_t>(i)];
      if (!placed(i)) continue;
      joined += s.joined ? 1 : 0;
      ready_nodes += s.ready ? 1 : 0;
      dropped += s.dropped ? 1 : 0;
    }
    return fmt::format("{} of {} workers joined, {} ready, {} dropped", joined, placed_count(), ready_nodes, dropped);
  }
};

Coordinator::Coordinator(sim::SimCluster serving, CoordinatorOptions options, std::unique_ptr<Tokenizer> tokenizer)
    : impl_(std::make_unique<Impl>(std::move(serving), std::move(options), std::move(tokenizer))) {}

Coordinator::~Coordinator() { stop(); }

void Coordinator::start() {
  bound_endpoint_ = bind_endpoint(impl_->control, impl_->options.control_endpoint);
  impl_->loop_thread = std::thread([this] { impl_->loop(); });
}

void Coordinator::stop() {
  if (!impl_ || !impl_->loop_thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->inbox_mutex);
    impl_->stopping = true;
    impl_->wake_out.send(zmq::str_buffer("s"), zmq::send_flags::dontwait);
  }
  impl_->loop_thread.join();
}

bool Coordinator::wait_ready(double timeout_s) const {
  std::unique_lock<std::mutex> lock(impl_->ready_mutex);
  return impl_->ready_cv.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return impl_->ready.load(); });
}

double Coordinator::max_flow_tps() const { return impl_->flow.max_flow_tps; }

std::vector<std::string> Coordinator::model_ids() const { return {impl_->options.model_id}; }

std::shared_ptr<api::GenerationStream> Coordinator::submit(const api::GenerationRequest& request) {
  return impl_->submit(request);
}

bool Coordinator::healthy(std::string& detail_json) const {
  bool any_dropped = false;
  {
    std::lock_guard<std::mutex> lock(impl_->stats_mutex);
    for (const NodeStats& s : impl_->nodes) any_dropped = any_dropped || s.dropped;
  }
  nlohmann::json d = {{"workers", impl_->readiness()}, {"max_flow_tokens_per_s", impl_->flow.max_flow_tps}};
  detail_json = d.dump();
  return impl_->ready && !any_dropped;
}

// Prometheus text, with the HTTP layer's escaping and number formatting.
std::string Coordinator::metrics_text() const {
  const Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.stats_mutex);
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto sample = [&](std::string_view name, std::string_view labels, double value) {
    out += fmt::format("{}{} {}\n", name, labels, api::format_metric_value(value));
  };
  auto label = [](std::string_view key, std::string_view value) {
    return fmt::format("{}=\"{}\"", key, api::escape_label_value(value));
  };
  auto name_of = [&](int endpoint) {
    return endpoint == kSource || endpoint == kSink ? std::string("coordinator")
                                                    : m.serving.cluster.nodes[static_cast<std::size_t>(endpoint)].name;
  };
  struct NodeFamily {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const Impl&, std::size_t);
  };
  static constexpr NodeFamily kNodeFamilies[] = {
      {"helix_node_queued_chunks", "gauge", "chunks waiting on the worker (last heartbeat)",
       [](const Impl& x, std::size_t i) { return static_cast<double>(x.nodes[i].heartbeat.queued); }},
      {"helix_node_kv_used_tokens", "gauge", "KV-cache tokens in use on the worker",
       [](const Impl& x, std::size_t i) { return static_cast<double>(x.nodes[i].heartbeat.kv_used_tokens); }},
      {"helix_node_kv_capacity_tokens", "gauge", "KV-cache capacity of the worker in tokens",
       [](const Impl& x, std::size_t i) { return static_cast<double>(x.nodes[i].heartbeat.kv_capacity_tokens); }},
      {"helix_node_up", "gauge", "1 if the worker is ready and not dropped",
       [](const Impl& x, std::size_t i) { return x.nodes[i].ready && !x.nodes[i].dropped ? 1.0 : 0.0; }},
      {"helix_node_expected_kv_free_slots", "gauge", "the router's KV ledger: expected free token x layer slots",
       [](const Impl& x, std::size_t i) { return i < x.ledger_available.size() ? x.ledger_available[i] : 0.0; }},
      {"helix_node_busy_seconds_total", "counter", "seconds the worker spent executing batches",
       [](const Impl& x, std::size_t i) { return x.nodes[i].heartbeat.busy_s; }},
      {"helix_node_tokens_total", "counter", "tokens the worker ran through its layers",
       [](const Impl& x, std::size_t i) { return static_cast<double>(x.nodes[i].heartbeat.tokens); }},
  };
  for (const NodeFamily& f : kNodeFamilies) {
    family(f.name, f.type, f.help);
    for (std::size_t i = 0; i < m.nodes.size(); ++i) {
      if (m.placed(static_cast<int>(i))) sample(f.name, "{" + label("node", name_of(static_cast<int>(i))) + "}", f.value(m, i));
    }
  }
  if (m.ready && m.view) {
    const double uptime = std::max(1e-9, seconds_since(m.start_time));
    auto routed = [&](std::size_t k) { return k < m.edge_snapshot.size() ? m.edge_snapshot[k] : 0.0; };
    const std::tuple<const char*, const char*, const char*, std::function<double(std::size_t)>> edge_families[] = {
        {"helix_edge_planned_flow_tokens_per_second", "gauge", "the max flow's flow on the link (the router's weight)",
         [&](std::size_t k) { return m.view->links[k].flow_tps; }},
        {"helix_edge_tokens_total", "counter", "tokens routed over the link (rate() of it is the actual flow)", routed},
        {"helix_edge_actual_flow_tokens_per_second", "gauge", "tokens routed over the link per second since start",
         [&](std::size_t k) { return routed(k) / uptime; }},
    };
    for (const auto& [name, type, help, value] : edge_families) {
      family(name, type, help);
      for (std::size_t k = 0; k < m.view->links.size(); ++k) {
        const sched::LinkView& l = m.view->links[k];
        sample(name, "{" + label("from", name_of(l.from)) + "," + label("to", name_of(l.to)) + "}", value(k));
      }
    }
  }
  const std::tuple<const char*, const char*, const char*, double> totals[] = {
      {"helix_coordinator_generated_tokens_total", "counter", "tokens sampled and returned by the last workers",
       static_cast<double>(m.tokens_generated.load())},
      {"helix_coordinator_prompt_tokens_total", "counter", "prompt tokens routed into the cluster",
       static_cast<double>(m.prompt_tokens_routed.load())},
      {"helix_requests_active", "gauge", "requests routed and not finished", static_cast<double>(m.active_count.load())},
      {"helix_requests_waiting", "gauge", "requests accepted and waiting for a route",
       static_cast<double>(m.waiting_count.load())},
      {"helix_planned_max_flow_tokens_per_second", "gauge", "max flow of the placed cluster (simulator semantics)",
       m.flow.max_flow_tps},
  };
  for (const auto& [name, type, help, value] : totals) {
    family(name, type, help);
    sample(name, "", value);
  }
  return out;
}

}  // namespace helix::runtime
