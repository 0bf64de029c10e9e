// The router: the Helix router (sched/) over the nodes that are ready and not
// draining, rebuilt on every membership change; the requests in flight on routes
// it can still serve are adopted (their KV charged again) so it does not admit
// as if the cluster were empty. Also the flows it follows and their counters.
#include "helix/runtime/coordinator_impl.h"

namespace helix::runtime {

FlowSolution Coordinator::Impl::flow_of(const sim::SimCluster& s) const {
  const PerfModel perf = PerfModel::build(s.cluster, s.model);
  return solve_simulator_flow_networkx(s.cluster, s.model, perf, s.ranges, s.links);
}

// The cluster with `ranges` as its placement: links and KV as the simulator derives them.
sim::SimCluster Coordinator::Impl::sim_of(const std::vector<LayerRange>& ranges) const {
  Placement p = empty_placement(cluster, model.name, model.num_layers, "runtime");
  p.ranges = ranges;
  return sim::sim_cluster_from_placement(cluster, model, p, options.partial_inference);
}

// The router over the nodes that are ready and not draining, with the KV the
// workers really allocated (real engines) or the profile's (emulated). False
// (and no router: requests wait) when those nodes do not cover the model.
bool Coordinator::Impl::build_router(const std::string& reason) {
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
void Coordinator::Impl::adopt_active() {
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

// The prompt length the router sees. A request that moved after a lost node is
// routed as the client's prompt: its re-prefill of prompt + output runs in
// prefill chunks like any prompt, and must not be refused for a length the
// client never sent (the paper's per-node prompt limit), nor wait forever.
int Coordinator::Impl::routed_length(const Request& r) {
  return r.reroutes > 0 ? r.prompt_tokens : static_cast<int>(r.prompt.size());
}

// The view never changes, so the answer per prompt length is computed once.
bool Coordinator::Impl::routable_when_idle(int tokens) {
  auto it = routable_cache.find(tokens);
  if (it != routable_cache.end()) return it->second;
  sched::HelixRouter idle(*view, sched::HelixRouterOptions{options.kv, 0.05});
  return routable_cache[tokens] = idle.route_prompt(tokens).has_value();
}

// Tokens per (from, to) over every router generation, for /metrics.
void Coordinator::Impl::count_edges(const Request& r, int tokens) {
  std::lock_guard<std::mutex> lock(stats_mutex);
  std::string from = "coordinator";
  for (const RouteHop& h : r.hops) {
    edge_totals[{from, name(h.node)}] += tokens;
    from = name(h.node);
  }
  edge_totals[{from, "coordinator"}] += tokens;
}

void Coordinator::Impl::snapshot_ledger() {
  ledger_available.assign(nodes.size(), 0);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (router && !serving.ranges[i].empty()) ledger_available[i] = router->kv().available(static_cast<int>(i));
  }
}

}  // namespace helix::runtime
