// SimCluster: everything the simulator needs to know about the hardware and the
// placement — the cluster, the model, each node's layers, the directed links
// requests may use, and each node's KV-cache capacity.
//
// Two ways to get one:
//  * from helix's own files: a cluster (YAML or the paper's .ini) and a placement
//    (helix JSON or the paper's *_sol.ini); links are the pipeline links of the
//    placement (flow_network.h, select_pipeline_links) and KV capacities come from
//    the performance model;
//  * from the paper's simulator_cluster.ini (which already lists the usable links
//    and each node's KV capacity) plus its solution file — exactly what the
//    paper's simulator was built from (simulator spec §2).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/flow/flow_network.h"
#include "helix/model/model_spec.h"
#include "helix/plan/placement.h"

namespace helix::sim {

struct SimCluster {
  ClusterSpec cluster;
  ModelSpec model;
  std::vector<LayerRange> ranges;    // per node
  std::vector<LinkPair> links;       // usable directed links, kCoordinator = source/sink
  std::vector<double> kv_capacity;   // per node, token x layer slots
  std::string description;           // where it came from, for the report
};

// The paper's simulator_cluster.ini and the placement next to it (solution .ini
// or helix JSON). Throws Error naming the file and field, also when a node that
// holds layers has no KV capacity in the file.
SimCluster sim_cluster_from_paper(const std::filesystem::path& simulator_cluster_ini,
                                  const std::filesystem::path& placement, const ModelSpec& model);

// A cluster and a placement of helix's own. `partial_inference` also allows links
// into the middle of a node's range (Petals layouts, planner spec §5.1).
SimCluster sim_cluster_from_placement(const ClusterSpec& cluster, const ModelSpec& model,
                                      const Placement& placement, bool partial_inference);

// Seconds until every node has loaded its layers from disk, rounded as the paper
// does: ceil(max_i k_i * layer_bytes / disk_i) + 1 (simulator spec §2.1). The
// measurement window starts here.
double model_loading_end_s(const SimCluster& sim);

}  // namespace helix::sim
