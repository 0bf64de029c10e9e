#include "helix/sim/serving_setup.h"

#include <algorithm>
#include <deque>

#include "helix/core/error.h"
#include "helix/flow/networkx_flow.h"
#include "helix/perf/perf_model.h"

namespace helix::sim {

using sched::kSink;
using sched::kSource;

ServingSetup::ServingSetup(const SimCluster& sim, bool need_flow) : sim_(sim) {
  classes_ = resolve_machine_classes(sim.cluster, sim.model);
  PerfOptions options;
  options.allow_overcommit = overcommitted();
  const PerfModel perf = PerfModel::build(sim.cluster, sim.model, options);
  flow_ = solve_simulator_flow_networkx(sim.cluster, sim.model, perf, sim.ranges, sim.links);
  std::vector<long long> prompt_max;
  for (int i = 0; i < sim.cluster.num_nodes(); ++i) prompt_max.push_back(limits(i).prompt_max_tokens);
  view_ = sched::make_serving_view(sim.cluster, sim.model.num_layers, sim.ranges, sim.links, sim.kv_capacity,
                                   prompt_max, flow_);
  check_coverage();
  if (need_flow && !(flow_.max_flow_tps > 0)) {
    fail("the placement's max flow is 0: no pipeline covers all layers over existing links");
  }
}

bool ServingSetup::overcommitted() const {
  for (int i = 0; i < sim_.cluster.num_nodes(); ++i) {
    if (sim_.ranges[static_cast<std::size_t>(i)].size() > profile(i).max_layers) return true;
  }
  return false;
}

const GpuProfile& ServingSetup::profile(int node) const {
  return classes_.classes[static_cast<std::size_t>(classes_.node_class[static_cast<std::size_t>(node)])].profile;
}

InferenceLimits ServingSetup::limits(int node) const {
  const int k = std::min(sim_.ranges[static_cast<std::size_t>(node)].size(), profile(node).max_layers);
  return k > 0 ? profile(node).limits(k) : InferenceLimits{};
}

// Every layer must be reachable: some path source -> ... -> sink whose hops
// cover 0..L-1. Checked on the links as a reachability over "layers done".
void ServingSetup::check_coverage() const {
  const int L = sim_.model.num_layers;
  const sched::ServingView& view = view_;
  std::vector<int> best_end(static_cast<std::size_t>(view.num_nodes()), -1);
  std::deque<int> work;
  for (int l : view.outbound(kSource)) {
    const int to = view.links[static_cast<std::size_t>(l)].to;
    if (to >= 0 && view.nodes[static_cast<std::size_t>(to)].layers.start == 0 &&
        !view.nodes[static_cast<std::size_t>(to)].layers.empty()) {
      best_end[static_cast<std::size_t>(to)] = view.nodes[static_cast<std::size_t>(to)].layers.end;
      work.push_back(to);
    }
  }
  while (!work.empty()) {
    const int u = work.front();
    work.pop_front();
    for (int l : view.outbound(u)) {
      const int to = view.links[static_cast<std::size_t>(l)].to;
      if (to == kSink) {
        if (best_end[static_cast<std::size_t>(u)] == L) return;
        continue;
      }
      const LayerRange& r = view.nodes[static_cast<std::size_t>(to)].layers;
      const int done = best_end[static_cast<std::size_t>(u)];
      if (r.empty() || r.start > done || r.end <= done) continue;
      if (r.end > best_end[static_cast<std::size_t>(to)]) {
        best_end[static_cast<std::size_t>(to)] = r.end;
        work.push_back(to);
      }
    }
  }
  fail("the placement does not cover the model: no path of links from the coordinator through layers 0-{} and back",
       L - 1);
}

}  // namespace helix::sim
