// check_placement: an independent check that a placement and its planner-semantics
// flow (solve_planner_flow, planner spec §2.12) are what the paper says a served
// placement is (§2.5). It shares no code with the flow module's internals: it
// re-derives capacities from the spec's formulas and decomposes the flow into
// paths itself, so a bug in the flow code or in a planner shows up as a problem
// here instead of as a plausible-looking number.
//
// Checked, every problem reported (not just the first):
//  * shape: one range per cluster node, the model's layer count, the node names;
//  * memory: each range fits its node (size <= max_layers) unless the PerfModel
//    allows overcommit (the paper's "force set"); every range inside [0, L);
//  * arcs: flow >= 0 and <= capacity; compute capacity = cap_i(k_i); link capacity
//    = bandwidth / token size (coordinator hops) or / activation size (§2.12);
//    only links the cluster has; flow conservation at every node;
//  * paths: a decomposition of the flow into coordinator -> ... -> coordinator
//    paths, each covering layers 0..L-1 contiguously (s_first = 0, e_i = s_next,
//    e_last = L); their total equals the reported max flow;
//  * optimality certificate: the reported min cut separates the coordinator's
//    two sides and its capacity equals the max flow.
#pragma once

#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/flow/flow_network.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/placement.h"

namespace helix {

// Every problem found, one sentence each naming the node, arc or path; empty when
// the placement and its flow are valid. `planner_flow` must come from
// solve_planner_flow() on `placement.ranges` (or be a tampered copy in tests).
std::vector<std::string> check_placement(const ClusterSpec& cluster, const ModelSpec& model,
                                         const PerfModel& perf, const Placement& placement,
                                         const FlowSolution& planner_flow);

}  // namespace helix
