// The link-aware interval MILP: the interval model (helix_interval_milp.h) with
// the compute links put back in, exactly, for networks whose nodes fall into few
// groups of twins.
//
// Two nodes are twins when they have the same links (same peers, same
// bandwidths, in both directions, the coordinator included): false twins are not
// linked to each other, true twins are (and otherwise see the same peers). Every
// node of twin group G then links to every node of group H or to none, so the
// flow between the nodes of G ending at boundary b and the nodes of H starting
// at b can be split among them in any way. The model follows the flow per group
// and boundary:
//
//   y[c,s,k], f[c,s,k]  as in the interval model, for classes c = twins with
//                       identical capacity tables
//   g[G,H,b] >= 0       flow from group G's nodes ending at b into group H's
//                       nodes starting at b (only if G links to H)
//   Σ_{c⊂G, s+k=b} f[c,s,k] = Σ_H g[G,H,b]   and   Σ_{c⊂H, k} f[c,b,k] = Σ_G g[G,H,b]
//
// Pruned clusters (the paper's high-heterogeneity one keeps ~12 peers per node,
// chosen in name order) have ~10 groups, so the model stays small, and every
// solution is a placement of the real cluster that carries the model's flow
// whenever link bandwidth is not the binding limit (the model ignores it; the
// real max flow scores the result). With the restrictions below (near-best
// lengths; on large instances only every second layer boundary) it is a
// primal heuristic: its objective is no bound.
#pragma once

#include <atomic>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/milp/cbc_solver.h"
#include "helix/model/layer_range.h"
#include "helix/perf/perf_model.h"

namespace helix {

// Twin groups of the cluster's nodes (each a list of node indices, ascending).
std::vector<std::vector<int>> twin_groups(const ClusterSpec& cluster);

struct LinkMilpOptions {
  double time_limit_s = 10;
  long max_nodes = 0;  // > 0: CBC's branch-and-bound node budget (machine-independent)
  double flow_cap = 0;  // cap on any node's flow (the layer-supply bound); 0: none
  // Keep only lengths whose supply k·min(cap(k), flow_cap) is at least this
  // fraction of the node's best: a restriction that keeps CBC fast.
  double min_supply_fraction = 0.7;
  const std::atomic<bool>* stop = nullptr;
};

struct LinkMilpResult {
  MilpStatus status = MilpStatus::NoSolution;
  double objective = 0;
  std::vector<LayerRange> ranges;  // empty without a solution
};

LinkMilpResult solve_link_milp(const ClusterSpec& cluster, const PerfModel& perf, int num_layers,
                               const LinkMilpOptions& options);

}  // namespace helix
