// PlannerGraph: the planner-semantics flow network (spec §2.12) of one cluster,
// rebuilt on one MaxFlow for each placement. Used by solve_planner_flow() (once,
// described) and by PlacementEvaluator (millions of times, not described).
//
// Vertices: 0 = source (coordinator sending), 1 = sink (coordinator receiving),
// node i = {2+2i in, 3+2i out}. Arcs, in this order: coordinator -> i_in for the
// nodes holding layer 0 (node order); then per node i: i_in -> i_out with
// cap_i(k_i), i_out -> j_in for the nodes j with start_j = end_i (node order),
// i_out -> coordinator if end_i = L. Only links the cluster has; empty ranges skipped.
//
// Why it is cheap: nodes are bucketed by start layer (a counting sort), so i's
// successors are one bucket and a build costs O(nodes + candidate pairs), not
// O(n²); cap_i(k) is tabulated up front and links come from LinkCapacities. All
// buffers are reused: a warm build allocates nothing.
#pragma once

#include <span>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/flow/flow_network.h"
#include "helix/flow/link_capacities.h"
#include "helix/flow/max_flow.h"
#include "helix/model/layer_range.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"

namespace helix::flow_internal {

class PlannerGraph {
 public:
  // Keeps pointers to cluster and perf: they must outlive this object.
  PlannerGraph(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf);

  // Rebuilds `flow` for `ranges` (one per node); appends the FlowArcs when `arcs`
  // is given. Returns the sum of the compute capacities, a bound on the max flow
  // (every path crosses a node). Throws Error on bad ranges.
  double build(std::span<const LayerRange> ranges, std::vector<FlowArc>* arcs);

  MaxFlow flow;

 private:
  static int in(int i) { return 2 + 2 * i; }
  static int out(int i) { return 3 + 2 * i; }

  double capacity(int i, int k) const;
  void bucket_by_start(std::span<const LayerRange> ranges);
  void add_links_out_of(int i, const LayerRange& r, std::vector<FlowArc>* arcs);

  const ClusterSpec* cluster_;
  const PerfModel* perf_;
  LinkCapacities links_;
  int n_;
  int layers_;
  // cap_i(k) for k = 1..min(K_i, L) at cap_table_[cap_first_[i] + k - 1].
  std::vector<int> cap_first_;
  std::vector<double> cap_table_;
  // Bucket s holds bucket_nodes_[bucket_first_[s] .. bucket_first_[s+1]).
  std::vector<int> bucket_first_, bucket_fill_, bucket_nodes_;
};

}  // namespace helix::flow_internal
