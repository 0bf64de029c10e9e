#include "helix/sim/sim_cluster.h"

#include <algorithm>
#include <cmath>

#include "helix/cluster/paper_import.h"
#include "helix/core/error.h"
#include "helix/perf/machine_classes.h"

namespace helix::sim {
namespace {

void check_kv(const SimCluster& sim, const std::string& where) {
  for (int i = 0; i < sim.cluster.num_nodes(); ++i) {
    const auto s = static_cast<std::size_t>(i);
    if (!sim.ranges[s].empty() && !(sim.kv_capacity[s] > 0)) {
      fail("{}: node '{}' holds layers {} but has no KV-cache capacity ({})", where,
           sim.cluster.nodes[s].name, to_string(sim.ranges[s]), sim.kv_capacity[s]);
    }
  }
}

}  // namespace

SimCluster sim_cluster_from_paper(const std::filesystem::path& simulator_cluster_ini,
                                  const std::filesystem::path& placement, const ModelSpec& model) {
  PaperSimulatorCluster paper = import_paper_simulator_cluster(simulator_cluster_ini);
  SimCluster sim;
  sim.cluster = std::move(paper.cluster);
  sim.model = model;
  sim.links = std::move(paper.links);
  sim.kv_capacity = std::move(paper.kv_cache_capacity);
  sim.ranges = load_placement(placement, sim.cluster, model.num_layers).ranges;
  sim.description = simulator_cluster_ini.string() + " + " + placement.string();
  check_kv(sim, simulator_cluster_ini.string());
  return sim;
}

SimCluster sim_cluster_from_placement(const ClusterSpec& cluster, const ModelSpec& model,
                                      const Placement& placement, bool partial_inference) {
  SimCluster sim;
  sim.cluster = cluster;
  sim.model = model;
  sim.ranges = match_placement_to_cluster(placement, cluster, model.num_layers, "placement").ranges;
  LinkSelection selection;
  selection.allow_partial = partial_inference;
  sim.links = select_pipeline_links(cluster, sim.ranges, model.num_layers, selection);
  const ClusterClasses classes = resolve_machine_classes(cluster, model);
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    const GpuProfile& profile =
        classes.classes[static_cast<std::size_t>(classes.node_class[static_cast<std::size_t>(i)])].profile;
    const int k = sim.ranges[static_cast<std::size_t>(i)].size();
    // A node holding more than fits (the paper's "force set") gets the KV of a full node.
    const int held = std::min(k, profile.max_layers);
    sim.kv_capacity.push_back(held > 0 ? static_cast<double>(profile.kv_cache_capacity(held)) : 0.0);
  }
  sim.description = "cluster '" + cluster.name + "' + placement '" + placement.method + "'";
  check_kv(sim, "placement");
  return sim;
}

double model_loading_end_s(const SimCluster& sim) {
  double longest = 0;
  for (int i = 0; i < sim.cluster.num_nodes(); ++i) {
    const int k = sim.ranges[static_cast<std::size_t>(i)].size();
    if (k <= 0) continue;
    const double disk = sim.cluster.gpu_of(i).disk_Bps;
    if (!(disk > 0)) fail("node '{}': disk speed must be > 0 to load its layers", sim.cluster.nodes[static_cast<std::size_t>(i)].name);
    longest = std::max(longest, k * sim.model.layer_param_bytes / disk);
  }
  return std::ceil(longest) + 1;
}

}  // namespace helix::sim
