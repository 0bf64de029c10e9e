// What operators see: the admin API (/admin/nodes: every node's state, layers, KV,
// planned and routed share; drain and remove) and the Prometheus /metrics text.
#include "helix/runtime/coordinator_impl.h"

namespace helix::runtime {

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
                     {"device", s.device.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.device)},
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
