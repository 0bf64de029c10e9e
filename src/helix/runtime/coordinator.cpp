#include "helix/runtime/coordinator.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
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
#include "helix/runtime/replan.h"
#include "helix/runtime/stop_strings.h"
#include "helix/runtime/transport.h"
#include "helix/security/curve_auth.h"
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

// What a worker told us last, for /metrics and the admin API.
struct NodeStats {
  NodeState state = NodeState::Absent;
  std::string engine, endpoint;
  Heartbeat heartbeat;
  double last_seen_s = 0;
  LayerRange loaded;  // what the worker holds (its last Ready answered this Assign)
  bool connected() const {
    return state == NodeState::Joined || state == NodeState::Loading || state == NodeState::Ready ||
           state == NodeState::Draining || state == NodeState::Drained;
  }
};

// A PUSH socket to a worker's data endpoint, and a monitor of it: the worker's
// connection closing (a killed process) is seen at once, not after the heartbeat timeout.
struct DataLink {
  zmq::socket_t push, monitor;
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
  int folded = 0;              // generated tokens moved into `prompt` by preemptions and re-routes
  int preemptions = 0;         // for KV
  int reroutes = 0;            // a node of its route was lost, or changed its layers
  std::uint64_t sampler_state = 0;  // where its sampler stands (the seed until a token came back)
  int generation = 0;          // the router generation that routed it
  std::chrono::steady_clock::time_point accepted_at;
  bool in_flight = false;  // a Work is out and its Token not back yet
  std::chrono::steady_clock::time_point sent_at;
};

}  // namespace

struct Coordinator::Impl {
  Impl(sim::SimCluster s, CoordinatorOptions o, std::unique_ptr<Tokenizer> t)
      : serving(std::move(s)), options(std::move(o)), tokenizer(std::move(t)), control(context, zmq::socket_type::router),
        wake_in(context, zmq::socket_type::pull), wake_out(context, zmq::socket_type::push) {
    cluster = serving.cluster;
    model = serving.model;
    planned = serving.ranges;
    classes = resolve_machine_classes(cluster, model);
    const FlowSolution initial = flow_of(serving);
    if (!(initial.max_flow_tps > 0)) fail("the placement's max flow is 0: no pipeline covers all layers over the cluster's links");
    planned_max_flow = initial.max_flow_tps;
    move_penalty_tps = options.move_penalty_tps >= 0 ? options.move_penalty_tps : 0.01 * initial.max_flow_tps;
    nodes.resize(static_cast<std::size_t>(cluster.num_nodes()));
    worker_kv_tokens.assign(nodes.size(), 0);
    for (int i = 0; i < cluster.num_nodes(); ++i) node_index[cluster.nodes[static_cast<std::size_t>(i)].name] = i;
    control.set(zmq::sockopt::linger, 1000);  // so that Shutdown reaches the workers
    control.set(zmq::sockopt::router_mandatory, 1);
    // A restarted worker connects again under its node name before its old
    // connection is noticed as closed: the new connection takes the name over.
    control.set(zmq::sockopt::router_handover, 1);
    if (options.keys) {
      // The ZAP handler must exist before the first CURVE socket binds.
      auth = std::make_unique<security::Authenticator>(context, options.trusted_workers);
      security::make_curve_server(control, *options.keys);
    }
    wake_in.bind("inproc://coordinator-wake");
    wake_out.connect("inproc://coordinator-wake");
    start_time = Clock::now();
    effective_context = options.context_length;
    // Request ids differ between coordinator incarnations, so that a worker's late
    // message about a request of the previous one cannot touch a new request.
    next_id = (static_cast<std::uint64_t>(std::random_device{}()) << 32) | 1;
  }

  // ---------------------------------------------------------------- inputs
  sim::SimCluster serving;  // what the router routes over: the ready nodes' layers
  CoordinatorOptions options;
  std::unique_ptr<Tokenizer> tokenizer;
  ClusterSpec cluster;
  ModelSpec model;
  ClusterClasses classes;
  FlowSolution flow;
  std::map<std::string, int> node_index;
  double move_penalty_tps = 0;

  // ---------------------------------------------------------------- loop-owned state
  zmq::context_t context;
  std::unique_ptr<security::Authenticator> auth;  // CURVE: admits the trusted workers; outlives the sockets
  zmq::socket_t control, wake_in, wake_out;
  std::thread loop_thread;
  std::atomic<bool> stopping{false};
  std::map<int, DataLink> data_links;  // per connected node
  int monitor_serial = 0;
  std::vector<std::int64_t> worker_kv_tokens;
  std::vector<LayerRange> planned;  // per node: the layers it is to hold (the placement)
  std::atomic<bool> started{false};  // every node of the first placement was ready once
  int router_generation = 0;
  std::optional<sched::ServingView> view;
  std::optional<sched::HelixRouter> router;
  std::unordered_map<std::uint64_t, Request> active;
  std::deque<Request> waiting;  // accepted, no route yet
  std::vector<double> edge_tokens;  // per view link: tokens sent over it
  Clock::time_point start_time, last_periodic_check;

  // ---------------------------------------------------------------- shared with HTTP threads
  mutable std::mutex inbox_mutex;  // guards inbox, commands and wake_out
  std::deque<Request> inbox;
  std::deque<std::function<void()>> commands;  // admin actions, run on the loop
  std::atomic<std::uint64_t> next_id{1};
  // Counted as tokens come back (the HTTP layer counts at the end of a request):
  // a rate over any window, for benchmarks and dashboards.
  std::atomic<std::uint64_t> tokens_generated{0}, prompt_tokens_routed{0};
  std::atomic<std::uint64_t> nodes_lost{0}, requests_rerouted{0}, replans{0}, router_builds{0}, refused_overloaded{0};
  std::atomic<std::size_t> active_count{0}, waiting_count{0};
  std::atomic<bool> ready{false}, routing{false};
  std::atomic<double> planned_max_flow{0};
  std::atomic<long long> effective_context{0};  // the model's context, capped by the workers' KV
  mutable std::mutex stats_mutex;  // guards nodes, serving, view, the ledger snapshot, edge_snapshot, events
  std::vector<NodeStats> nodes;
  std::vector<double> ledger_available, edge_snapshot;
  std::map<std::pair<std::string, std::string>, double> edge_totals;  // (from, to): tokens over all generations
  std::deque<std::string> events;  // recent membership events, for the admin API
  mutable std::mutex ready_mutex;
  mutable std::condition_variable ready_cv;

  // ================================================================ setup

  FlowSolution flow_of(const sim::SimCluster& s) const {
    const PerfModel perf = PerfModel::build(s.cluster, s.model);
    return solve_simulator_flow_networkx(s.cluster, s.model, perf, s.ranges, s.links);
  }

  // The cluster with `ranges` as its placement: links and KV as the simulator derives them.
  sim::SimCluster sim_of(const std::vector<LayerRange>& ranges) const {
    Placement p = empty_placement(cluster, model.name, model.num_layers, "runtime");
    p.ranges = ranges;
    return sim::sim_cluster_from_placement(cluster, model, p, options.partial_inference);
  }

  const GpuProfile& profile(int node) const {
    return classes.classes[static_cast<std::size_t>(classes.node_class[static_cast<std::size_t>(node)])].profile;
  }
  const LayerRange& range(int node) const { return planned[static_cast<std::size_t>(node)]; }
  bool placed(int node) const { return !range(node).empty(); }
  const std::string& name(int node) const { return cluster.nodes[static_cast<std::size_t>(node)].name; }
  NodeState state(int node) const {
    std::lock_guard<std::mutex> lock(stats_mutex);
    return nodes[static_cast<std::size_t>(node)].state;
  }
  void set_planned(int node, LayerRange r) {
    std::lock_guard<std::mutex> lock(stats_mutex);  // admin_nodes() reads `planned`
    planned[static_cast<std::size_t>(node)] = r;
  }
  void set_state(int node, NodeState s) {
    std::lock_guard<std::mutex> lock(stats_mutex);
    nodes[static_cast<std::size_t>(node)].state = s;
  }

  void event(const std::string& what) {
    spdlog::info("coordinator: {}", what);
    std::lock_guard<std::mutex> lock(stats_mutex);
    events.push_back(fmt::format("{:.3f} {}", seconds_since(start_time), what));
    if (events.size() > 256) events.pop_front();
  }

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
                                       ? static_cast<std::int32_t>(model.activation_bytes_per_token)
                                       : static_cast<std::int32_t>(sizeof(float));
    e.vocab_size = tokenizer->vocab_size();
    return e;
  }

  // The router over the nodes that are ready and not draining, with the KV the
  // workers really allocated (real engines) or the profile's (emulated). False
  // (and no router: requests wait) when those nodes do not cover the model.
  bool build_router(const std::string& reason) {
    const int n = cluster.num_nodes();
    std::vector<LayerRange> routable(static_cast<std::size_t>(n));
    int count = 0;
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      for (int i = 0; i < n; ++i) {
        const auto u = static_cast<std::size_t>(i);
        if (nodes[u].state == NodeState::Ready && placed(i) && nodes[u].loaded == planned[u]) {
          routable[u] = planned[u];
          ++count;
        }
      }
    }
    std::optional<sim::SimCluster> s;
    FlowSolution f;
    try {
      s = sim_of(routable);
      f = flow_of(*s);
    } catch (const Error& e) {
      spdlog::debug("coordinator: no router over the ready nodes: {}", e.what());
    }
    const double before = flow.max_flow_tps;
    if (!s || !(f.max_flow_tps > 0)) {
      std::lock_guard<std::mutex> lock(stats_mutex);
      router.reset();
      view.reset();
      routing = false;
      return false;
    }
    std::vector<double> kv(static_cast<std::size_t>(n), 0);
    std::vector<long long> prompt_max(static_cast<std::size_t>(n), 0);
    long long context_limit = options.context_length;
    for (int i = 0; i < n; ++i) {
      const auto u = static_cast<std::size_t>(i);
      if (routable[u].empty()) continue;
      if (options.emulated) {
        kv[u] = s->kv_capacity[u];
        prompt_max[u] = profile(i).limits(std::min(routable[u].size(), profile(i).max_layers)).prompt_max_tokens;
      } else {
        kv[u] = static_cast<double>(worker_kv_tokens[u]) * routable[u].size();
        prompt_max[u] = options.context_length;
        // A real worker holds at most its KV capacity of one sequence: that bounds the context.
        context_limit = std::min<long long>(context_limit, worker_kv_tokens[u]);
      }
    }
    {
      // metrics_text() reads the view from HTTP threads.
      std::lock_guard<std::mutex> lock(stats_mutex);
      serving = std::move(*s);
      flow = f;
      router.reset();
      view.emplace(sched::make_serving_view(serving.cluster, model.num_layers, serving.ranges, serving.links, kv,
                                            prompt_max, flow));
      router.emplace(*view, sched::HelixRouterOptions{options.kv, 0.05});
      edge_tokens.assign(view->links.size(), 0);
      edge_snapshot = edge_tokens;
      snapshot_ledger();
    }
    ++router_generation;
    adopt_active();
    ++router_builds;
    routable_cache.clear();
    planned_max_flow = flow.max_flow_tps;
    if (!options.emulated) effective_context = context_limit;
    routing = true;
    event(fmt::format("routing over {} nodes ({}): max flow {:.1f} tokens/s (was {:.1f})", count, reason,
                      flow.max_flow_tps, before));
    return true;
  }

  // Requests routed before the rebuild keep their routes. Those whose nodes all
  // serve in the new view, with the same layers, are taken into its books (KV
  // ledger, link indices), so that the new router does not admit as if the
  // cluster were empty; the others stay outside them until they end.
  void adopt_active() {
    std::map<std::pair<int, int>, int> link_of;
    for (std::size_t k = 0; k < view->links.size(); ++k) link_of[{view->links[k].from, view->links[k].to}] = static_cast<int>(k);
    for (auto& [id, r] : active) {
      sched::Route moved = r.route;
      int from = kSource;
      bool ok = true;
      for (sched::Stage& st : moved.stages) {
        auto it = link_of.find({from, st.node});
        const bool held = st.node < 0 || (serving.ranges[static_cast<std::size_t>(st.node)].start <= st.layers.start &&
                                           serving.ranges[static_cast<std::size_t>(st.node)].end == st.layers.end);
        if (it == link_of.end() || !held) {
          ok = false;
          break;
        }
        st.link = it->second;
        from = st.node;
      }
      if (!ok) continue;
      router->adopt(moved, routed_length(r));
      r.route = std::move(moved);
      r.generation = router_generation;
    }
  }

  int placed_count() const {
    int c = 0;
    for (int i = 0; i < cluster.num_nodes(); ++i) c += placed(i) ? 1 : 0;
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
    std::vector<zmq::pollitem_t> items = {{control.handle(), 0, ZMQ_POLLIN, 0}, {wake_in.handle(), 0, ZMQ_POLLIN, 0}};
    std::vector<int> monitored;
    for (auto& [node, link] : data_links) {
      items.push_back({link.monitor.handle(), 0, ZMQ_POLLIN, 0});
      monitored.push_back(node);
    }
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;  // a signal only wakes us
    }
    for (std::size_t k = 0; k < monitored.size(); ++k) {
      if (items[k + 2].revents & ZMQ_POLLIN) check_monitor(monitored[k]);
    }
    drain_control();
    drain_wake();
    run_commands();
    take_inbox();
    // Liveness and deadlines need no more than a few checks a second; the loop
    // itself wakes for every token.
    const auto now = Clock::now();
    if (now - last_periodic_check >= std::chrono::milliseconds(100)) {
      last_periodic_check = now;
      check_timeouts();
      check_requests();
      check_drains();
    }
    check_replan();
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

  void run_commands() {
    std::deque<std::function<void()>> todo;
    {
      std::lock_guard<std::mutex> lock(inbox_mutex);
      todo.swap(commands);
    }
    for (auto& c : todo) c();
  }

  // A corrupt message drops the worker that sent it (its requests move to other
  // routes); from an unknown peer it is only logged.
  void corrupt(const std::string& identity, const std::string& what) {
    auto it = node_index.find(identity);
    if (it == node_index.end() || !connected(it->second)) {
      spdlog::warn("coordinator: dropped a corrupt message from unknown peer '{}': {}", identity, what);
      return;
    }
    spdlog::error("coordinator: dropping worker {}: it sent a corrupt message: {}", identity, what);
    shutdown_worker(it->second);
    node_lost(it->second, "it sent a corrupt message");
  }

  bool connected(int node) const {
    std::lock_guard<std::mutex> lock(stats_mutex);
    return nodes[static_cast<std::size_t>(node)].connected();
  }

  void on_control(const Envelope& e) {
    const auto it = node_index.find(e.identity);
    if (const auto* hello = std::get_if<Hello>(&e.message)) {
      if (options.keys && e.peer != hello->node) {
        return refuse(e.identity, fmt::format("its key is trusted as '{}', not as node '{}'", e.peer, hello->node));
      }
      return on_hello(e.identity, *hello);
    }
    if (it == node_index.end() || !connected(it->second)) {
      spdlog::debug("coordinator: ignored a {} message from '{}', which has not joined", message_name(e.message), e.identity);
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
    if (it == node_index.end()) {
      if (std::string why = add_node(h); !why.empty()) return refuse(identity, why);
      it = node_index.find(h.node);
    }
    const int node = it->second;
    if (!started && !placed(node)) return refuse(identity, fmt::format("node '{}' holds no layers in this placement", h.node));
    if ((h.engine == "emulated") != options.emulated) {
      return refuse(identity, options.emulated ? "this coordinator serves emulated workers: start it with --engine emulated"
                                               : "this coordinator serves a real model: start it with --engine real");
    }
    const std::string gpu = cluster.gpu_of(node).name;
    if (!h.gpu.empty() && h.gpu != gpu) {
      return refuse(identity, fmt::format("node '{}' is a {} in the cluster, not a {}", h.node, gpu, h.gpu));
    }
    if (std::string why = bad_endpoint(h.data_endpoint); !why.empty()) return refuse(identity, why);
    // A Hello from a node we think is up: its previous process is gone (a restart).
    if (connected(node)) {
      if (started) node_lost(node, "a new process joined under its name");
      else close_data_link(node);
    }
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      NodeStats& s = nodes[static_cast<std::size_t>(node)];
      s = NodeStats{};
      s.state = NodeState::Joined;
      s.engine = h.engine;
      s.endpoint = h.data_endpoint;
      s.loaded = h.loaded;
      s.last_seen_s = seconds_since(start_time);
    }
    open_data_link(node, h.data_endpoint);
    event(fmt::format("{} joined ({} engine, data at {}{})", h.node, h.engine, h.data_endpoint,
                      h.loaded.empty() ? "" : fmt::format(", holding layers [{}, {})", h.loaded.start, h.loaded.end)));
    if (!started) {
      // Peers are sent when everyone has joined.
      if (all_joined()) {
        for (int i = 0; i < cluster.num_nodes(); ++i) {
          if (placed(i)) assign(i);
        }
      }
      return;
    }
    // A node re-joining gets the layers the placement still has for it; a node
    // the placement has none for stands by until the re-plan it triggers (on its Ready).
    assign(node);
    broadcast_peers(node);
  }

  // A node that no cluster file lists joins with its GPU type: it is added to the
  // cluster (links copied from a node of the coordinator's region) and planned in
  // on its Ready. "" or why not.
  std::string add_node(const Hello& h) {
    if (h.gpu.empty()) {
      return fmt::format("node '{}' is not in the cluster: start the worker with --gpu TYPE to join as a new node", h.node);
    }
    if (!started) return fmt::format("node '{}' is not in the cluster: new nodes can join once it serves", h.node);
    try {
      ClusterSpec grown = with_new_node(cluster, h.node, h.gpu);
      ClusterClasses grown_classes = resolve_machine_classes(grown, model);
      std::lock_guard<std::mutex> lock(stats_mutex);
      cluster = std::move(grown);
      classes = std::move(grown_classes);
      nodes.emplace_back();
      planned.emplace_back();
      worker_kv_tokens.push_back(0);
    } catch (const Error& e) {
      return fmt::format("node '{}' cannot join: {}", h.node, e.what());
    }
    node_index[h.node] = cluster.num_nodes() - 1;
    event(fmt::format("{} added to the cluster as a {}", h.node, h.gpu));
    return "";
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
    for (int i = 0; i < cluster.num_nodes(); ++i) {
      if (placed(i) && !nodes[static_cast<std::size_t>(i)].connected()) return false;
    }
    return true;
  }

  void open_data_link(int node, const std::string& endpoint) {
    close_data_link(node);
    DataLink link{zmq::socket_t(context, zmq::socket_type::push), zmq::socket_t(context, zmq::socket_type::pair)};
    link.push.set(zmq::sockopt::sndhwm, 0);
    link.push.set(zmq::sockopt::linger, 0);
    if (options.keys) security::make_curve_client(link.push, *options.keys, public_key_of(node));
    const std::string monitor = fmt::format("inproc://coordinator-monitor-{}", ++monitor_serial);
    if (zmq_socket_monitor(link.push.handle(), monitor.c_str(), ZMQ_EVENT_DISCONNECTED) != 0) {
      throw zmq::error_t();
    }
    link.monitor.connect(monitor);
    link.push.connect(endpoint);
    data_links.insert_or_assign(node, std::move(link));
  }

  void close_data_link(int node) {
    auto it = data_links.find(node);
    if (it == data_links.end()) return;
    zmq_socket_monitor(it->second.push.handle(), nullptr, 0);
    data_links.erase(it);
  }

  // The worker's data connection closed: the process is gone (or its machine is
  // unreachable) — as good as a missed heartbeat, and seen at once.
  void check_monitor(int node) {
    auto it = data_links.find(node);
    if (it == data_links.end()) return;
    bool disconnected = false;
    for (;;) {
      zmq::message_t frame;
      if (!it->second.monitor.recv(frame, zmq::recv_flags::dontwait)) break;
      if (frame.size() >= 2) {
        std::uint16_t id = 0;
        std::memcpy(&id, frame.data(), sizeof id);
        disconnected = disconnected || id == ZMQ_EVENT_DISCONNECTED;
      }
      while (frame.more() && it->second.monitor.recv(frame, zmq::recv_flags::dontwait)) {
      }
    }
    if (disconnected && connected(node)) node_lost(node, "its data connection closed");
  }

  // Sends the node its layers and the peers (Loading until its Ready).
  void assign(int node) {
    Assign a;
    a.node = node;
    a.layers = range(node);
    a.num_layers = model.num_layers;
    a.kv_tokens = options.worker_kv_tokens;
    a.prefill_chunk = options.prefill_chunk;
    a.max_batch_tokens = options.max_batch_tokens;
    a.gather_us = options.gather_us;
    a.emulated = options.emulated;
    if (options.emulated && placed(node)) {
      // Emulated KV is the profile's: what the ledger and the simulator assume.
      const sim::SimCluster s = sim_of(planned);
      a.kv_tokens = static_cast<std::int64_t>(s.kv_capacity[static_cast<std::size_t>(node)] / range(node).size());
      a.emulation = emulation_of(node);
    }
    a.peers = peers();
    try {
      send(control, a, nullptr, &name(node));
    } catch (const zmq::error_t& e) {  // it left between Hello and now
      spdlog::error("coordinator: cannot reach {}: {}", name(node), e.what());
      return node_lost(node, "it could not be reached");
    }
    set_state(node, NodeState::Loading);
  }

  // The node's trusted public key (it joined with it: ZAP checked it, on_control its name).
  std::string public_key_of(int node) const {
    for (const auto& [key, trusted_name] : options.trusted_workers.name_by_key) {
      if (trusted_name == name(node)) return key;
    }
    fail("no trusted key for node '{}'", name(node));
  }

  std::vector<Peer> peers() const {
    std::vector<Peer> out;
    std::lock_guard<std::mutex> lock(stats_mutex);
    for (int i = 0; i < cluster.num_nodes(); ++i) {
      const NodeStats& s = nodes[static_cast<std::size_t>(i)];
      if (s.connected()) out.push_back({i, s.endpoint, options.keys ? public_key_of(i) : std::string()});
    }
    return out;
  }

  // Tells every other serving node the peers changed (their layers stay).
  void broadcast_peers(int except) {
    for (int i = 0; i < cluster.num_nodes(); ++i) {
      const NodeState s = state(i);
      if (i == except || (s != NodeState::Ready && s != NodeState::Draining && s != NodeState::Drained)) continue;
      Assign a;
      a.node = i;
      a.layers = range(i);
      a.num_layers = model.num_layers;
      a.kv_tokens = options.worker_kv_tokens;
      a.prefill_chunk = options.prefill_chunk;
      a.max_batch_tokens = options.max_batch_tokens;
      a.gather_us = options.gather_us;
      a.emulated = options.emulated;
      if (options.emulated && placed(i)) {
        const sim::SimCluster sim = sim_of(planned);
        a.kv_tokens = static_cast<std::int64_t>(sim.kv_capacity[static_cast<std::size_t>(i)] / range(i).size());
        a.emulation = emulation_of(i);
      }
      a.peers = peers();
      try {
        send(control, a, nullptr, &name(i));
      } catch (const zmq::error_t&) {  // gone: its monitor or timeout tells
      }
    }
  }

  void on_ready(int node, const Ready& r) {
    if (!options.emulated && placed(node) && r.vocab_size < tokenizer->vocab_size()) {
      shutdown_worker(node);
      node_lost(node, fmt::format("its model has {} tokens, the tokenizer {}", r.vocab_size, tokenizer->vocab_size()));
      return;
    }
    worker_kv_tokens[static_cast<std::size_t>(node)] = r.kv_capacity_tokens;
    NodeState before;
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      NodeStats& s = nodes[static_cast<std::size_t>(node)];
      before = s.state;
      s.loaded = planned[static_cast<std::size_t>(node)];
      if (s.state == NodeState::Loading) s.state = placed(node) ? NodeState::Ready : NodeState::Drained;
    }
    if (before != NodeState::Loading) return;  // an answer to new peers
    ++membership_epoch;
    spdlog::info("coordinator: {} ready, {} KV tokens", name(node), r.kv_capacity_tokens);
    if (!started) {
      bool all = true;
      {
        std::lock_guard<std::mutex> lock(stats_mutex);
        for (int i = 0; i < cluster.num_nodes(); ++i) all = all && (!placed(i) || nodes[static_cast<std::size_t>(i)].state == NodeState::Ready);
      }
      if (!all) return;
      if (!build_router("all nodes of the placement ready")) fail("the placement's max flow is 0 over the ready workers");
      started = true;
      {
        std::lock_guard<std::mutex> lock(ready_mutex);
        ready = true;
      }
      ready_cv.notify_all();
      dispatch_waiting();
      return;
    }
    // A node the placement has no layers for is new capacity: plan it in.
    if (!placed(node)) return replan(fmt::format("{} joined", name(node)), node);
    reconcile(fmt::format("{} ready", name(node)));
  }

  void on_heartbeat(int node, const Heartbeat& h) {
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      nodes[static_cast<std::size_t>(node)].heartbeat = h;
    }
    // The answer tells the worker we are alive (it re-joins when we go silent).
    try {
      send(control, Heartbeat{}, nullptr, &name(node));
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
        if (s.connected() && s.state != NodeState::Joined && now - s.last_seen_s > options.worker_timeout_s) {
          silent.push_back(static_cast<int>(i));
        }
      }
    }
    for (int node : silent) node_lost(node, fmt::format("silent for more than {} s", options.worker_timeout_s));
  }

  // Requests whose client left (or that wait too long for their next token or a
  // route) end here instead of waiting for a token that may be minutes away or lost.
  void check_requests() {
    const auto now = Clock::now();
    std::vector<std::uint64_t> cancelled, late;
    for (const auto& [id, r] : active) {
      if (r.stream->cancelled()) cancelled.push_back(id);
      else if (std::chrono::duration<double>(now - r.sent_at).count() > options.request_timeout_s) late.push_back(id);
    }
    // Clients that left while their request waited for a route, and requests that
    // waited longer than the request timeout (the cluster cannot serve them now).
    for (auto it = waiting.begin(); it != waiting.end();) {
      if (it->stream->cancelled()) {
        it->stream->push(finish_event("cancelled", *it));
        it = waiting.erase(it);
      } else if (std::chrono::duration<double>(now - it->accepted_at).count() > options.request_timeout_s) {
        it->stream->push(error_event(unavailable(fmt::format(
            "no route for {} s: the cluster cannot cover the model now ({})", options.request_timeout_s, readiness()))));
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

  // ================================================================ membership changes

  void shutdown_worker(int node) {
    try {
      send(control, Shutdown{}, nullptr, &name(node));  // it must not go on serving half a request
    } catch (const zmq::error_t&) {  // already gone
    }
  }

  // The node is gone: its requests move to new routes (re-prefilled there), the
  // router stops using it, and the cluster re-plans if its layers are missing now.
  // Its planned layers stay, so that a restart under its name gets them back.
  void node_lost(int node, const std::string& reason) {
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      NodeStats& s = nodes[static_cast<std::size_t>(node)];
      if (!s.connected()) return;
      s.state = NodeState::Gone;
      s.loaded = {};
    }
    close_data_link(node);
    ++nodes_lost;
    ++membership_epoch;
    event(fmt::format("lost {}: {}", name(node), reason));
    reroute_requests_through(node, "node " + name(node) + " was lost");
    reconcile(fmt::format("{} lost", name(node)));
  }

  void reroute_requests_through(int node, const std::string& why) {
    std::vector<std::uint64_t> hit;
    for (const auto& [id, r] : active) {
      for (const RouteHop& h : r.hops) {
        if (h.node == node) {
          hit.push_back(id);
          break;
        }
      }
    }
    for (std::uint64_t id : hit) requeue(id, why, false);
  }

  // After a membership change: route over the ready nodes if they cover the
  // model; else wait for nodes that are loading, or re-plan.
  void reconcile(const std::string& reason) {
    if (!started) return;
    if (build_router(reason)) {
      dispatch_waiting();
      return;
    }
    bool loading = false;
    for (int i = 0; i < cluster.num_nodes(); ++i) loading = loading || state(i) == NodeState::Loading;
    if (loading) {
      spdlog::info("coordinator: no route until the loading nodes are ready ({}); {} requests wait", reason, waiting.size());
      return;
    }
    replan(reason, -1);
  }

  // A new placement over the nodes that may serve (connected, not draining or
  // drained; `joining` too), warm from what they hold, charging each newly loaded
  // layer. The planner runs on its own thread (it takes seconds to a minute on a
  // busy machine and paper-sized clusters), so that heartbeats and tokens keep
  // flowing; check_replan() applies its answer. Nodes whose layers change reload
  // them while the rest keeps serving.
  struct PendingReplan {
    std::string reason;
    int joining = -1;
    std::vector<char> usable;
    std::vector<LayerRange> current;
    std::future<Replan> result;
    Clock::time_point started;
    std::uint64_t epoch = 0;  // membership_epoch when it started
  };
  // Counts membership changes (a node lost, ready, drained, removed, added): a plan
  // made for an older membership is not applied but made again.
  std::uint64_t membership_epoch = 0;
  std::optional<PendingReplan> pending_replan;
  std::optional<std::pair<std::string, int>> replan_again;  // asked for while one ran

  void replan(const std::string& reason, int joining) {
    if (pending_replan) {
      replan_again = {reason, joining};
      return;
    }
    const int n = cluster.num_nodes();
    PendingReplan job;
    job.reason = reason;
    job.joining = joining;
    job.usable.assign(static_cast<std::size_t>(n), 0);
    job.current.resize(static_cast<std::size_t>(n));
    {
      std::lock_guard<std::mutex> lock(stats_mutex);
      for (int i = 0; i < n; ++i) {
        const NodeStats& s = nodes[static_cast<std::size_t>(i)];
        job.usable[static_cast<std::size_t>(i)] = i == joining || s.state == NodeState::Ready || s.state == NodeState::Loading;
        job.current[static_cast<std::size_t>(i)] = s.loaded;
      }
    }
    ReplanOptions ro;
    ro.move_penalty_tps = move_penalty_tps;
    ro.max_evaluations = options.replan_evaluations;
    ro.time_limit_s = 30;
    job.started = Clock::now();
    job.epoch = membership_epoch;
    job.result = std::async(std::launch::async, [c = cluster, m = model, current = job.current, usable = job.usable, ro] {
      return runtime::replan(c, m, current, usable, ro);
    });
    spdlog::info("coordinator: re-planning ({}); {} requests wait meanwhile", reason, waiting.size());
    pending_replan = std::move(job);
  }

  void check_replan() {
    if (!pending_replan || pending_replan->result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
    PendingReplan job = std::move(*pending_replan);
    pending_replan.reset();
    apply_replan(job);
    if (replan_again) {
      auto [reason, joining] = *replan_again;
      replan_again.reset();
      // A loss re-plans only while the ready nodes still do not cover the model.
      if (joining >= 0 || !routing) replan(reason, joining);
    }
  }

  void apply_replan(PendingReplan& job) {
    const int n = cluster.num_nodes();
    Replan p;
    try {
      p = job.result.get();
    } catch (const Error& e) {
      event(fmt::format("cannot re-plan ({}): {}; {} requests wait", job.reason, e.what(), waiting.size()));
      return;
    }
    if (static_cast<int>(p.ranges.size()) != n) {  // a node was added meanwhile: plan again with it
      replan_again = {job.reason, job.joining};
      return;
    }
    if (job.joining < 0 && routing) {
      event(fmt::format("re-plan ({}) not applied: the ready nodes cover the model again", job.reason));
      return;
    }
    if (job.epoch != membership_epoch) {
      event(fmt::format("re-plan ({}) not applied: the membership changed while it ran; planning again", job.reason));
      replan_again = {job.reason, job.joining};
      return;
    }
    ++replans;
    event(fmt::format("re-planned ({}) in {:.2f} s: {}; {} layers to load, {} released; max flow {:.1f} -> {:.1f} "
                      "tokens/s (planner semantics)",
                      job.reason, seconds_since(job.started), describe_moves(cluster, job.current, p.ranges), p.layers_loaded,
                      p.layers_released, p.max_flow_before_tps, p.max_flow_after_tps));
    std::vector<int> changed;
    for (int i = 0; i < n; ++i) {
      const auto u = static_cast<std::size_t>(i);
      const NodeState st = state(i);
      // Nodes lost (or drained) while the planner ran keep what they have.
      const bool serving_now = st == NodeState::Ready || st == NodeState::Loading || (i == job.joining && st == NodeState::Drained);
      if (!job.usable[u] || !serving_now || p.ranges[u] == planned[u]) continue;
      set_planned(i, p.ranges[u]);
      changed.push_back(i);
    }
    for (int i : changed) reroute_requests_through(i, "node " + name(i) + " changes its layers");
    for (int i : changed) assign(i);
    reconcile_after_assign(job.reason);
  }

  // The nodes that keep their layers may already cover the model.
  void reconcile_after_assign(const std::string& reason) {
    if (build_router(reason + ", while nodes load")) dispatch_waiting();
  }

  // Draining nodes with nothing in flight release their layers and stand by.
  void check_drains() {
    for (int i = 0; i < cluster.num_nodes(); ++i) {
      if (state(i) != NodeState::Draining) continue;
      bool busy = false;
      for (const auto& [id, r] : active) {
        for (const RouteHop& h : r.hops) busy = busy || h.node == i;
      }
      if (busy) continue;
      set_planned(i, {});
      assign(i);  // no layers: the worker releases them and stands by
      set_state(i, NodeState::Drained);  // not Loading: its Ready must not plan it back in
      event(fmt::format("{} drained: nothing in flight, layers released", name(i)));
    }
  }

  // Admin: no new routes through the node; its requests finish; then it releases its layers.
  std::string drain(int node) {
    const NodeState s = state(node);
    if (s != NodeState::Ready && s != NodeState::Loading) {
      return fmt::format("node '{}' is {}, not serving: nothing to drain", name(node), state_name(s));
    }
    set_state(node, NodeState::Draining);
    ++membership_epoch;
    event(fmt::format("draining {}", name(node)));
    reconcile(fmt::format("draining {}", name(node)));
    return "";
  }

  // Admin: the node leaves now; its requests move to other routes.
  std::string remove(int node) {
    if (!connected(node)) return fmt::format("node '{}' is {}, not connected", name(node), state_name(state(node)));
    shutdown_worker(node);
    set_planned(node, {});
    node_lost(node, "removed by the operator");
    set_state(node, NodeState::Absent);
    return "";
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
      std::optional<sched::Route> route = router->route_prompt(routed_length(r), &why);
      if (!route) {
        // A prompt that no route could take even on an idle cluster is refused
        // now; otherwise it waits for running requests to free KV.
        if (r.preemptions > 0 && !routable_when_idle(routed_length(r))) {
          // Its prompt plus what it generated before preemption no longer fits any route.
          r.stream->push(error_event(unavailable(fmt::format(
              "the request was preempted for KV after {} tokens and its {} tokens no longer fit any route", r.generated,
              r.prompt.size()))));
          waiting.pop_front();
          continue;
        }
        if (active.empty() || !routable_when_idle(routed_length(r))) {
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

  // The prompt length the router sees. A request that moved after a lost node is
  // routed as the client's prompt: its re-prefill of prompt + output runs in
  // prefill chunks like any prompt, and must not be refused for a length the
  // client never sent (the paper's per-node prompt limit), nor wait forever.
  static int routed_length(const Request& r) {
    return r.reroutes > 0 ? r.prompt_tokens : static_cast<int>(r.prompt.size());
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
    r.generation = router_generation;
    const std::uint64_t id = r.id;
    if (r.preemptions == 0 && r.reroutes == 0) prompt_tokens_routed += r.prompt.size();
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
    auto link = data_links.find(r.hops.front().node);
    if (link == data_links.end()) throw Error("its first node is not connected");
    send(link->second.push, w, &payload);
    r.in_flight = true;
    r.sent_at = Clock::now();
    if (r.generation == router_generation) {
      for (const sched::Stage& s : r.route.stages) edge_tokens[static_cast<std::size_t>(s.link)] += w.length;
    }
    count_edges(r, w.length);
  }

  // Tokens per (from, to) over every router generation, for /metrics.
  void count_edges(const Request& r, int tokens) {
    std::lock_guard<std::mutex> lock(stats_mutex);
    std::string from = "coordinator";
    for (const RouteHop& h : r.hops) {
      edge_totals[{from, name(h.node)}] += tokens;
      from = name(h.node);
    }
    edge_totals[{from, "coordinator"}] += tokens;
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
    r.sampler_state = t.sampler_state;
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
    if (r.generation == router_generation) router->on_decode(r.route);
    try {
      send_work(r, t.position, {t.token}, false);
    } catch (const std::exception& e) {  // its first node is gone: the request moves
      requeue(t.request, std::string("its first node is gone: ") + e.what(), false);
      dispatch_waiting();
    }
  }

  void on_work_failed(int node, const WorkFailed& f) {
    if (!active.count(f.request)) return;
    spdlog::warn("coordinator: request {} failed on {}: {}", f.request, name(node), f.reason);
    Request& r = active.at(f.request);
    r.in_flight = false;
    const bool kv = f.reason.starts_with(kKvFullReason);
    // Anything else is most likely a membership change racing the route (a peer
    // that left or changed its layers): it moves to a new route, a few times at most.
    if (!r.stream->cancelled() && (kv ? r.preemptions < kMaxPreemptions : r.reroutes < kMaxReroutes)) {
      requeue(f.request, f.reason, kv);
      return dispatch_waiting();
    }
    finish_with_error(f.request, unavailable("a worker could not run the request: " + f.reason));
  }

  // Recompute (as vLLM's preemption): the request's KV is freed everywhere and it
  // waits at the head of the queue to be routed again, with what it generated so
  // far appended to its prompt — re-prefilled at the same positions, so the client
  // sees one uninterrupted stream. Its sampler goes on from the state it had
  // reached (sampled output is the same as without the move). It gets a new id,
  // so that no late message of its old route can touch it. The caller dispatches.
  static constexpr int kMaxPreemptions = 8;  // for KV; then an explicit error: it cannot make progress
  static constexpr int kMaxReroutes = 16;    // for lost nodes and membership races
  void requeue(std::uint64_t id, const std::string& why, bool kv_preemption) {
    auto entry = active.extract(id);
    Request r = std::move(entry.mapped());
    release_route(r, id);
    if (router && r.generation == router_generation) router->on_query_finished(r.route, routed_length(r));
    r.prompt.insert(r.prompt.end(), r.output.begin() + r.folded, r.output.end());
    r.folded = static_cast<int>(r.output.size());
    r.route = {};
    r.hops.clear();
    r.in_flight = false;
    if (kv_preemption) ++r.preemptions;
    else ++r.reroutes, ++requests_rerouted;
    r.sampling.seed = r.sampler_state;
    r.id = next_id++;
    spdlog::info("coordinator: request {} {} ({} tokens so far: {}), re-queued as {}", id,
                 kv_preemption ? "preempted for KV" : "moves to a new route", r.generated, why, r.id);
    waiting.push_front(std::move(r));
    if (router) {
      std::lock_guard<std::mutex> lock(stats_mutex);
      snapshot_ledger();
    }
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
    if (router && r.generation == router_generation) {
      router->on_query_finished(r.route, routed_length(r));
      std::lock_guard<std::mutex> lock(stats_mutex);
      edge_snapshot = edge_tokens;
      snapshot_ledger();
    }
    dispatch_waiting();
  }

  // Best effort: a node that cannot be reached has nothing left to free.
  void release_route(const Request& r, std::uint64_t id) {
    for (const RouteHop& h : r.hops) {
      auto link = data_links.find(h.node);
      if (link == data_links.end()) continue;
      try {
        send(link->second.push, Release{id});
      } catch (const std::exception& e) {
        spdlog::warn("coordinator: could not release request {} on node {}: {}", id, h.node, e.what());
      }
    }
  }

  void snapshot_ledger() {
    ledger_available.assign(nodes.size(), 0);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (router && !serving.ranges[i].empty()) ledger_available[i] = router->kv().available(static_cast<int>(i));
    }
  }

  void shutdown() {
    // Monitors are stopped before their sockets close (libzmq may otherwise stall the context).
    std::vector<int> linked;
    for (const auto& entry : data_links) linked.push_back(entry.first);
    for (int node : linked) close_data_link(node);
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
        if (nodes[i].connected()) names.push_back(cluster.nodes[i].name);
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
    r.sampler_state = r.sampling.seed;
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
    r.accepted_at = Clock::now();
    auto stream = r.stream;
    std::lock_guard<std::mutex> lock(inbox_mutex);
    if (stopping) throw api::ApiException(unavailable("the server is shutting down"));
    if (static_cast<long long>(inbox.size() + waiting_count.load()) >= options.max_waiting) {
      throw api::ApiException(unavailable("too many requests are waiting for a route"));
    }
    const std::size_t open = inbox.size() + waiting_count.load() + active_count.load();
    if (options.max_requests > 0 && open >= static_cast<std::size_t>(options.max_requests)) {
      ++refused_overloaded;
      throw api::ApiException(unavailable(
          fmt::format("overloaded: {} requests are open (--max-requests {}); retry later", open, options.max_requests)));
    }
    inbox.push_back(std::move(r));
    wake_out.send(zmq::str_buffer("w"), zmq::send_flags::dontwait);
    return stream;
  }

  std::string readiness() const {
    std::lock_guard<std::mutex> lock(stats_mutex);
    std::map<NodeState, int> count;
    for (const NodeStats& n : nodes) ++count[n.state];
    std::string out = fmt::format("{} workers ready", count[NodeState::Ready]);
    for (NodeState st : {NodeState::Joined, NodeState::Loading, NodeState::Draining, NodeState::Drained, NodeState::Gone}) {
      if (count[st] > 0) out += fmt::format(", {} {}", count[st], state_name(st));
    }
    if (!routing) out += started ? "; the ready workers do not cover the model (re-planning)" : "; waiting for the placement's workers";
    return out;
  }

  // Runs `action` on the loop thread and waits for its answer (admin calls).
  std::string on_loop(std::function<std::string()> action) {
    auto done = std::make_shared<std::promise<std::string>>();
    auto answer = done->get_future();
    {
      std::lock_guard<std::mutex> lock(inbox_mutex);
      if (stopping) return "the server is shutting down";
      commands.push_back([action = std::move(action), done] {
        try {
          done->set_value(action());
        } catch (const std::exception& e) {
          done->set_value(e.what());
        }
      });
      wake_out.send(zmq::str_buffer("c"), zmq::send_flags::dontwait);
    }
    if (answer.wait_for(std::chrono::seconds(120)) != std::future_status::ready) return "the coordinator did not answer";
    return answer.get();
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

double Coordinator::max_flow_tps() const { return impl_->planned_max_flow.load(); }

std::vector<std::string> Coordinator::model_ids() const { return {impl_->options.model_id}; }

std::shared_ptr<api::GenerationStream> Coordinator::submit(const api::GenerationRequest& request) {
  return impl_->submit(request);
}

// Healthy while it can route (the ready nodes cover the model); a lost node
// that the others cover does not make it unhealthy.
bool Coordinator::healthy(std::string& detail_json) const {
  nlohmann::json d = {{"workers", impl_->readiness()}, {"max_flow_tokens_per_s", impl_->planned_max_flow.load()}};
  detail_json = d.dump();
  return impl_->ready && impl_->routing;
}

api::AdminAnswer Coordinator::admin_nodes() const {
  const Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.stats_mutex);
  double from_coordinator = 0;
  std::map<std::string, double> into;
  for (const auto& [edge, tokens] : m.edge_totals) {
    if (edge.first == "coordinator") from_coordinator += tokens;
    into[edge.second] += tokens;
  }
  std::vector<double> planned_in(m.nodes.size(), 0);
  double total_flow = 0;
  if (m.view) {
    for (const sched::LinkView& l : m.view->links) {
      if (l.to >= 0) planned_in[static_cast<std::size_t>(l.to)] += l.flow_tps;
      if (l.from == kSource) total_flow += l.flow_tps;
    }
  }
  auto range_json = [](LayerRange r) { return r.empty() ? nlohmann::json(nullptr) : nlohmann::json::array({r.start, r.end}); };
  nlohmann::json nodes = nlohmann::json::array();
  for (std::size_t i = 0; i < m.nodes.size(); ++i) {
    const NodeStats& s = m.nodes[i];
    const std::string& name = m.cluster.nodes[i].name;
    nodes.push_back({{"name", name},
                     {"gpu", m.cluster.gpu_of(static_cast<int>(i)).name},
                     {"state", state_name(s.state)},
                     {"layers", range_json(m.planned[i])},
                     {"loaded", range_json(s.loaded)},
                     {"routable", i < m.serving.ranges.size() && !m.serving.ranges[i].empty() && m.routing},
                     {"kv_used_tokens", s.heartbeat.kv_used_tokens},
                     {"kv_capacity_tokens", s.heartbeat.kv_capacity_tokens},
                     {"queued_chunks", s.heartbeat.queued},
                     {"planned_share", total_flow > 0 ? planned_in[i] / total_flow : 0.0},
                     {"routed_share", from_coordinator > 0 ? into[name] / from_coordinator : 0.0},
                     {"routed_tokens", into[name]},
                     {"data_endpoint", s.endpoint}});
  }
  nlohmann::json body = {{"format", "helix-nodes"},
                         {"version", 1},
                         {"routing", m.routing.load()},
                         {"max_flow_tokens_per_s", m.planned_max_flow.load()},
                         {"nodes_lost", m.nodes_lost.load()},
                         {"replans", m.replans.load()},
                         {"requests_rerouted", m.requests_rerouted.load()},
                         {"nodes", nodes},
                         {"events", m.events}};
  return {200, body.dump(2)};
}

api::AdminAnswer Coordinator::admin_node(const std::string& node, const std::string& action) {
  Impl& m = *impl_;
  auto it = m.node_index.find(node);
  if (it == m.node_index.end()) return {404, fmt::format("no node '{}' in the cluster", node)};
  if (action != "drain" && action != "remove") return {404, fmt::format("unknown action '{}': drain or remove", action)};
  const int index = it->second;
  const std::string why = m.on_loop([&m, index, action] { return action == "drain" ? m.drain(index) : m.remove(index); });
  if (!why.empty()) return {409, why};
  return {200, nlohmann::json{{"node", node}, {"action", action}, {"state", state_name(m.state(index))}}.dump()};
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
      {"helix_node_up", "gauge", "1 if the worker is ready (serving its layers)",
       [](const Impl& x, std::size_t i) { return x.nodes[i].state == NodeState::Ready ? 1.0 : 0.0; }},
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
      if (m.placed(static_cast<int>(i)) || m.nodes[i].connected()) sample(f.name, "{" + label("node", name_of(static_cast<int>(i))) + "}", f.value(m, i));
    }
  }
  if (m.ready && m.view) {
    const double uptime = std::max(1e-9, seconds_since(m.start_time));
    // Counted per (from, to) across router rebuilds, so that the counter never goes back.
    auto routed = [&](std::size_t k) {
      const sched::LinkView& l = m.view->links[k];
      auto it = m.edge_totals.find({name_of(l.from), name_of(l.to)});
      return it == m.edge_totals.end() ? 0.0 : it->second;
    };
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
      {"helix_planned_max_flow_tokens_per_second", "gauge", "max flow of the nodes routed over (simulator semantics)",
       m.planned_max_flow.load()},
      {"helix_routing", "gauge", "1 while the ready nodes cover the model (requests are routed)", m.routing ? 1.0 : 0.0},
      {"helix_nodes_lost_total", "counter", "nodes lost (silent, connection closed, corrupt, removed)",
       static_cast<double>(m.nodes_lost.load())},
      {"helix_requests_rerouted_total", "counter", "requests moved to a new route after a node of theirs was lost",
       static_cast<double>(m.requests_rerouted.load())},
      {"helix_replans_total", "counter", "placements re-planned while serving", static_cast<double>(m.replans.load())},
      {"helix_router_builds_total", "counter", "times the router was rebuilt for a membership change",
       static_cast<double>(m.router_builds.load())},
      {"helix_requests_refused_overloaded_total", "counter", "requests refused with a 503 because --max-requests were open",
       static_cast<double>(m.refused_overloaded.load())},
  };
  for (const auto& [name, type, help, value] : totals) {
    family(name, type, help);
    sample(name, "", value);
  }
  return out;
}

}  // namespace helix::runtime
