#include "helix/served/served_score.h"

#include "helix/core/error.h"
#include "helix/plan/placement.h"
#include "helix/sim/simulator.h"

namespace helix::served {
namespace {

sim::SimConfig base_config(const ServingTarget& target) {
  sim::SimConfig c;
  c.runtime = target.runtime;
  c.scheduler = sim::SchedulerKind::Helix;
  c.mode = sim::Mode::Offline;
  c.lengths = target.lengths;
  c.seed = target.seed;
  c.kv = target.kv;
  c.feed_hwm = target.feed_hwm;
  return c;
}

ServedResult run(const ClusterSpec& cluster, const ModelSpec& model, const std::vector<LayerRange>& ranges,
                 const sim::SimConfig& config) {
  ServedResult r;
  try {
    Placement p = empty_placement(cluster, model.name, model.num_layers, "candidate");
    p.ranges = ranges;
    const sim::SimCluster sc = sim::sim_cluster_from_placement(cluster, model, p, false);
    const sim::SimReport report = sim::simulate(sc, config);
    r.ok = true;
    r.decode_tps = report.decode_tps;
    r.mean_decode_latency_s = report.decode_latency.mean_s;
    r.mean_prompt_latency_s = report.prompt_latency.mean_s;
    r.p95_prompt_latency_s = report.prompt_latency.p95_s;
    r.concurrency = report.decode_tps * report.decode_latency.mean_s;
    r.max_flow_tps = report.max_flow_tps;
    r.simulated_s = report.window_end_s - report.window_start_s;
    r.node_stay_s.assign(static_cast<std::size_t>(cluster.num_nodes()), 0);
    r.node_share.assign(static_cast<std::size_t>(cluster.num_nodes()), 0);
    for (const sim::NodeReport& n : report.nodes) {
      const int i = cluster.node_index(n.name);
      if (i < 0 || report.decodes_in_window == 0) continue;
      r.node_stay_s[static_cast<std::size_t>(i)] = n.mean_decode_stay_s;
      r.node_share[static_cast<std::size_t>(i)] =
          static_cast<double>(n.decode_visits) / static_cast<double>(report.decodes_in_window);
    }
  } catch (const Error& e) {
    r.error = e.what();  // e.g. no route covers the model over existing links
  }
  return r;
}

}  // namespace

ServedResult score(const ClusterSpec& cluster, const ModelSpec& model, const std::vector<LayerRange>& ranges,
                   const ServingTarget& target, double warm_up_s, double window_s) {
  sim::SimConfig c = base_config(target);
  c.warm_start = true;
  c.warm_up_s = warm_up_s;
  c.duration_s = window_s;
  return run(cluster, model, ranges, c);
}

ServedResult predict(const ClusterSpec& cluster, const ModelSpec& model, const std::vector<LayerRange>& ranges,
                     const ServingTarget& target) {
  return run(cluster, model, ranges, base_config(target));
}

}  // namespace helix::served
