// Membership: a worker says Hello, is assigned its layers (or planned in as a new
// node), connects its data socket (whose monitor sees a killed process at once),
// reports Ready and heartbeats; it is lost when silent past --worker-timeout, its
// connection closes, or it sends garbage; an operator may drain or remove it.
// Node states are in node_state.h; re-covering the model after a change is in
// coordinator_replan.cpp.
#include "helix/runtime/coordinator_impl.h"

namespace helix::runtime {

Emulation Coordinator::Impl::emulation_of(int node) const {
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

int Coordinator::Impl::placed_count() const {
  int c = 0;
  for (int i = 0; i < cluster.num_nodes(); ++i) c += placed(i) ? 1 : 0;
  return c;
}

bool Coordinator::Impl::connected(int node) const {
  std::lock_guard<std::mutex> lock(stats_mutex);
  return nodes[static_cast<std::size_t>(node)].connected();
}

void Coordinator::Impl::refuse(const std::string& identity, const std::string& reason) {
  spdlog::warn("coordinator: refused '{}': {}", identity, reason);
  try {
    send(control, Refuse{reason}, nullptr, &identity);
  } catch (const zmq::error_t&) {  // already gone
  }
}

void Coordinator::Impl::on_hello(const std::string& identity, const Hello& h) {
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
std::string Coordinator::Impl::add_node(const Hello& h) {
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
std::string Coordinator::Impl::bad_endpoint(const std::string& endpoint) {
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

bool Coordinator::Impl::all_joined() const {
  std::lock_guard<std::mutex> lock(stats_mutex);
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    if (placed(i) && !nodes[static_cast<std::size_t>(i)].connected()) return false;
  }
  return true;
}

void Coordinator::Impl::open_data_link(int node, const std::string& endpoint) {
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

void Coordinator::Impl::close_data_link(int node) {
  auto it = data_links.find(node);
  if (it == data_links.end()) return;
  zmq_socket_monitor(it->second.push.handle(), nullptr, 0);
  data_links.erase(it);
}

// The worker's data connection closed: the process is gone (or its machine is
// unreachable) — as good as a missed heartbeat, and seen at once.
void Coordinator::Impl::check_monitor(int node) {
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

// What node `node` is to hold and run, and who its peers are. `emulated_sim`:
// with emulated workers, the placement as the simulator derives it (their KV).
Assign Coordinator::Impl::assignment(int node, const std::optional<sim::SimCluster>& emulated_sim,
                                     std::vector<Peer> current_peers) const {
  Assign a;
  a.node = node;
  a.layers = range(node);
  a.num_layers = model.num_layers;
  a.kv_tokens = options.worker_kv_tokens;
  a.prefill_chunk = options.prefill_chunk;
  a.max_batch_tokens = options.max_batch_tokens;
  a.gather_us = options.gather_us;
  a.emulated = options.emulated;
  a.device = cluster.nodes[static_cast<std::size_t>(node)].device;
  a.activations = options.activations;
  if (emulated_sim && placed(node)) {
    // Emulated KV is the profile's: what the ledger and the simulator assume.
    a.kv_tokens = static_cast<std::int64_t>(emulated_sim->kv_capacity[static_cast<std::size_t>(node)] / range(node).size());
    a.emulation = emulation_of(node);
  }
  a.peers = std::move(current_peers);
  return a;
}

std::optional<sim::SimCluster> Coordinator::Impl::emulated_sim() const {
  if (!options.emulated) return std::nullopt;
  return sim_of(planned);
}

// Sends the node its layers and the peers (Loading until its Ready).
void Coordinator::Impl::assign(int node) {
  const Assign a = assignment(node, emulated_sim(), peers());
  try {
    send(control, a, nullptr, &name(node));
  } catch (const zmq::error_t& e) {  // it left between Hello and now
    spdlog::error("coordinator: cannot reach {}: {}", name(node), e.what());
    return node_lost(node, "it could not be reached");
  }
  set_state(node, NodeState::Loading);
}

// The node's trusted public key (it joined with it: ZAP checked it, on_control its name).
std::string Coordinator::Impl::public_key_of(int node) const {
  for (const auto& [key, trusted_name] : options.trusted_workers.name_by_key) {
    if (trusted_name == name(node)) return key;
  }
  fail("no trusted key for node '{}'", name(node));
}

std::vector<Peer> Coordinator::Impl::peers() const {
  std::vector<Peer> out;
  std::lock_guard<std::mutex> lock(stats_mutex);
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    const NodeStats& s = nodes[static_cast<std::size_t>(i)];
    if (s.connected()) out.push_back({i, s.endpoint, options.keys ? public_key_of(i) : std::string()});
  }
  return out;
}

// Tells every other serving node the peers changed (their layers stay).
void Coordinator::Impl::broadcast_peers(int except) {
  const std::optional<sim::SimCluster> sim = emulated_sim();
  const std::vector<Peer> current_peers = peers();
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    const NodeState s = state(i);
    if (i == except || (s != NodeState::Ready && s != NodeState::Draining && s != NodeState::Drained)) continue;
    try {
      send(control, assignment(i, sim, current_peers), nullptr, &name(i));
    } catch (const zmq::error_t&) {  // gone: its monitor or timeout tells
    }
  }
}

void Coordinator::Impl::on_ready(int node, const Ready& r) {
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
    s.device = r.device;
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

void Coordinator::Impl::on_heartbeat(int node, const Heartbeat& h) {
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

void Coordinator::Impl::check_timeouts() {
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

void Coordinator::Impl::shutdown_worker(int node) {
  try {
    send(control, Shutdown{}, nullptr, &name(node));  // it must not go on serving half a request
  } catch (const zmq::error_t&) {  // already gone
  }
}

// The node is gone: its requests move to new routes (re-prefilled there), the
// router stops using it, and the cluster re-plans if its layers are missing now.
// Its planned layers stay, so that a restart under its name gets them back.
void Coordinator::Impl::node_lost(int node, const std::string& reason) {
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

// Draining nodes with nothing in flight release their layers and stand by.
void Coordinator::Impl::check_drains() {
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
std::string Coordinator::Impl::drain(int node) {
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
std::string Coordinator::Impl::remove(int node) {
  if (!connected(node)) return fmt::format("node '{}' is {}, not connected", name(node), state_name(state(node)));
  shutdown_worker(node);
  set_planned(node, {});
  node_lost(node, "removed by the operator");
  set_state(node, NodeState::Absent);
  return "";
}

std::string Coordinator::Impl::readiness() const {
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

}  // namespace helix::runtime
