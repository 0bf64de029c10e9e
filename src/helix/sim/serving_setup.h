// ServingSetup: what every simulated runtime builds from a SimCluster before its
// first event — each node's GPU profile and batch limits, the simulator-semantics
// max flow (networkx's split, which the Helix router's weights come from), the
// ServingView the schedulers read, and the check that some route covers the model.
// The paper's simulator and the model of helix's runtime share it, so they route
// the same requests the same way.
#pragma once

#include "helix/flow/flow_network.h"
#include "helix/perf/machine_classes.h"
#include "helix/sched/serving_view.h"
#include "helix/sim/sim_cluster.h"

namespace helix::sim {

class ServingSetup {
 public:
  // Throws Error for a node without a profile, or a placement whose links cover
  // no route through every layer (with `need_flow`, also a max flow of 0).
  ServingSetup(const SimCluster& sim, bool need_flow);

  const GpuProfile& profile(int node) const;
  // The profile's batch limits for the node's layer count (capped at what fits,
  // the paper's "force set"); all zero for an unused node.
  InferenceLimits limits(int node) const;

  const FlowSolution& flow() const { return flow_; }
  const sched::ServingView& view() const { return view_; }

 private:
  bool overcommitted() const;
  void check_coverage() const;

  const SimCluster& sim_;
  ClusterClasses classes_;
  FlowSolution flow_;
  sched::ServingView view_;
};

}  // namespace helix::sim
