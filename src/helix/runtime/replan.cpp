#include "helix/runtime/replan.h"

#include <fmt/format.h>

#include "helix/cluster/gpu_catalog.h"
#include "helix/core/error.h"
#include "helix/flow/flow_network.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/helix_planner.h"
#include "helix/plan/planner.h"

namespace helix::runtime {

int layers_added(LayerRange now, LayerRange next) {
  if (next.empty()) return 0;
  if (now.empty()) return next.size();
  const int overlap = std::max(0, std::min(now.end, next.end) - std::max(now.start, next.start));
  return next.size() - overlap;
}

ClusterSpec keep_nodes(const ClusterSpec& cluster, const std::vector<char>& keep, std::vector<int>* index) {
  ClusterSpec sub = cluster;
  sub.nodes.clear();
  sub.links.clear();
  std::vector<int> new_index(cluster.nodes.size(), -1);
  index->clear();
  for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
    if (!keep[i]) continue;
    new_index[i] = static_cast<int>(sub.nodes.size());
    index->push_back(static_cast<int>(i));
    sub.nodes.push_back(cluster.nodes[i]);
  }
  auto map = [&](int endpoint) { return endpoint == kCoordinator ? kCoordinator : new_index[static_cast<std::size_t>(endpoint)]; };
  for (const Link& l : cluster.links) {
    const int from = map(l.from), to = map(l.to);
    if ((l.from != kCoordinator && from < 0) || (l.to != kCoordinator && to < 0)) continue;
    sub.links.push_back({from, to, l.bandwidth_Bps, l.latency_s});
  }
  sub.index_links();
  return sub;
}

ClusterSpec with_new_node(const ClusterSpec& cluster, const std::string& name, const std::string& gpu) {
  ClusterSpec out = cluster;
  int type = -1;
  for (std::size_t t = 0; t < out.gpu_types.size(); ++t) {
    if (out.gpu_types[t].name == gpu) type = static_cast<int>(t);
  }
  if (type < 0) {
    std::optional<GpuType> known = find_catalog_gpu(gpu);
    if (!known) fail("GPU type '{}' is neither in the cluster nor in the catalog ({})", gpu, catalog_gpu_names());
    out.gpu_types.push_back(*known);
    type = static_cast<int>(out.gpu_types.size()) - 1;
  }
  const int region = cluster.coordinator.region;
  int like = -1;  // the node whose links the new one copies: same region, same type if there is one
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    const ComputeNode& n = cluster.nodes[static_cast<std::size_t>(i)];
    if (n.region == region && (like < 0 || (n.gpu_type == type && cluster.nodes[static_cast<std::size_t>(like)].gpu_type != type))) like = i;
  }
  if (like < 0) fail("no node in the coordinator's region to copy links from for the new node '{}'", name);
  const int added = cluster.num_nodes();
  out.nodes.push_back({name, type, region});  // a joining node: no device from the file
  const Link* peer_link = nullptr;  // what `like` has to another node of its region
  for (const Link& l : cluster.links) {
    if (l.from == like && l.to != kCoordinator && cluster.nodes[static_cast<std::size_t>(l.to)].region == region) peer_link = &l;
  }
  for (const Link& l : cluster.links) {
    if (l.from == like && l.to != like) out.links.push_back({added, l.to, l.bandwidth_Bps, l.latency_s});
    if (l.to == like && l.from != like) out.links.push_back({l.from, added, l.bandwidth_Bps, l.latency_s});
  }
  if (peer_link) {
    out.links.push_back({like, added, peer_link->bandwidth_Bps, peer_link->latency_s});
    out.links.push_back({added, like, peer_link->bandwidth_Bps, peer_link->latency_s});
  }
  out.index_links();
  return out;
}

Replan replan(const ClusterSpec& cluster, const ModelSpec& model, const std::vector<LayerRange>& current,
              const std::vector<char>& usable, const ReplanOptions& options) {
  std::vector<int> index;
  const ClusterSpec sub = keep_nodes(cluster, usable, &index);
  if (sub.nodes.empty()) fail("re-planning: no node is left to hold the model");
  const PerfModel perf = PerfModel::build(sub, model);
  Placement start = empty_placement(sub, model.name, model.num_layers, "current");
  for (std::size_t k = 0; k < index.size(); ++k) {
    LayerRange r = current[static_cast<std::size_t>(index[k])];
    // A node holding more than it may now (a smaller KV reserve) starts empty.
    if (r.size() > perf.node(static_cast<int>(k)).max_layers) r = {};
    start.ranges[k] = r;
  }
  Replan out;
  out.max_flow_before_tps = solve_planner_flow(sub, model, perf, start.ranges).max_flow_tps;
  PlanContext ctx{sub, model, perf, options.seed};
  ctx.time_limit_s = options.time_limit_s;
  ctx.threads = 1;
  ctx.start = &start;
  ctx.move_penalty_tps = options.move_penalty_tps;
  const Placement planned = plan_and_evaluate(HelixPlanner(options.max_evaluations, 2000), ctx);
  if (!(planned.objective_tps > 0)) fail("re-planning: the {} usable nodes cannot hold the model's {} layers", sub.num_nodes(), model.num_layers);
  out.max_flow_after_tps = planned.objective_tps;
  out.ranges.assign(cluster.nodes.size(), LayerRange{});
  for (std::size_t k = 0; k < index.size(); ++k) out.ranges[static_cast<std::size_t>(index[k])] = planned.ranges[k];
  for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
    const LayerRange before = usable[i] ? current[i] : LayerRange{};
    out.layers_loaded += layers_added(before, out.ranges[i]);
    out.layers_released += layers_added(out.ranges[i], before);
  }
  return out;
}

std::string describe_moves(const ClusterSpec& cluster, const std::vector<LayerRange>& before,
                           const std::vector<LayerRange>& after) {
  auto text = [](LayerRange r) { return r.empty() ? std::string("none") : fmt::format("[{}, {})", r.start, r.end); };
  std::string out;
  for (std::size_t i = 0; i < after.size(); ++i) {
    const LayerRange b = i < before.size() ? before[i] : LayerRange{};
    if (b == after[i]) continue;
    out += fmt::format("{}{} {} -> {}", out.empty() ? "" : ", ", cluster.nodes[i].name, text(b), text(after[i]));
  }
  return out.empty() ? "no layer moves" : out;
}

}  // namespace helix::runtime
