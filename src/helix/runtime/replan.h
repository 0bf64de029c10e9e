// Re-planning a running cluster: when nodes die, join or drain, the coordinator
// asks for a new placement over the nodes it may use, warm from what they hold
// now, with every layer a node must newly load charged (the planner's --from /
// --move-penalty). The planner runs on a fixed evaluation budget, so the same
// membership gives the same plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/layer_range.h"
#include "helix/model/model_spec.h"

namespace helix::runtime {

struct ReplanOptions {
  double move_penalty_tps = 0;   // objective charge per layer a node must newly load
  long max_evaluations = 100;    // the helix planner's budget per search chain
  double time_limit_s = 60;      // a hang guard; the budget ends the search first
  std::uint64_t seed = 0;
};

struct Replan {
  std::vector<LayerRange> ranges;  // per node of the whole cluster; unusable nodes get none
  int layers_loaded = 0;           // layers nodes load that they do not hold now
  int layers_released = 0;         // layers nodes hold now and give up
  double max_flow_before_tps = 0;  // the usable nodes with what they hold now (planner semantics)
  double max_flow_after_tps = 0;
};

// Layers in `next` that `now` does not hold.
int layers_added(LayerRange now, LayerRange next);

// The cluster with only the nodes `keep` marks (links among them and to the
// coordinator); `index` gets each kept node's index in the whole cluster.
ClusterSpec keep_nodes(const ClusterSpec& cluster, const std::vector<char>& keep, std::vector<int>* index);

// `cluster` with one more node, `name` of GPU type `gpu` (one of the cluster's
// types, else the built-in catalog's), in the coordinator's region, linked like an
// existing node of that region (the same links to everyone, and to that node what
// it has to its region's others). Throws Error for an unknown type or a cluster
// with no node in the coordinator's region to copy links from.
ClusterSpec with_new_node(const ClusterSpec& cluster, const std::string& name, const std::string& gpu);

// A placement over the nodes `usable` marks, starting from `current` (what each
// node holds now, per node of the whole cluster). Throws Error when those nodes
// cannot hold the model.
Replan replan(const ClusterSpec& cluster, const ModelSpec& model, const std::vector<LayerRange>& current,
              const std::vector<char>& usable, const ReplanOptions& options);

// "a [0, 3) -> [0, 5), b [2, 5) -> none" for the nodes whose range changes.
std::string describe_moves(const ClusterSpec& cluster, const std::vector<LayerRange>& before,
                           const std::vector<LayerRange>& after);

}  // namespace helix::runtime
