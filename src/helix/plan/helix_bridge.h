// Bridges: new pipeline segments built from nodes that carry no flow, found by a
// widest-path dynamic programme — the search's move for sparse networks.
//
// On a pruned or sparse cluster most single-node moves lead nowhere: a node that
// moves must land exactly where one of its few linked neighbours ends, and
// another starts. So placements stall with many nodes idle (measured: 13 of 42 on
// the paper's pruned high-heterogeneity cluster) while the bottleneck could be
// bypassed by a chain of several of them. By the augmenting-path theorem a chain
// raises the max flow only if it leaves a vertex the source still reaches in the
// residual graph and enters one that still reaches the sink. So a bridge:
//   enters after `entry` (the coordinator, at layer 0, or a node whose output the
//   source reaches in the residual graph, at that node's end layer),
//   runs through nodes that carry no flow now (each holding 1..K_i layers, each
//   linked to the next), and
//   exits into the coordinator (at the last layer) or a node that reaches the
//   sink in the residual graph and starts where the chain ends.
// Among all such chains the programme picks the one whose narrowest part (node
// capacity or link) is widest: O(layers x free nodes x their links x K) per entry.
// A node may appear only once; the rare chain that would reuse one is skipped.
#pragma once

#include <span>
#include <utility>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/flow/flow_network.h"
#include "helix/model/layer_range.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"

namespace helix {

struct Bridge {
  std::vector<std::pair<int, LayerRange>> chain;  // (node, range), in pipeline order
  double width_tps = 0;                            // its narrowest node or link
};

// Which sides of the residual graph of `flow` (a planner-semantics solution for
// `ranges`) each node's input and output vertices are on.
struct ResidualSides {
  std::vector<bool> source_reaches_out;  // per node: the source reaches i_out
  std::vector<bool> in_reaches_sink;     // per node: i_in reaches the sink
  std::vector<bool> carries_flow;        // per node: its compute arc has flow
};
ResidualSides residual_sides(const FlowSolution& flow, int num_nodes);

// The widest bridge entering after `entry` (kCoordinator or a node index), or an
// empty chain if there is none. `ranges` is the current placement, `flow` its
// planner-semantics solution.
Bridge widest_bridge(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
                     std::span<const LayerRange> ranges, const ResidualSides& sides, int entry);

// Lays bridges until none raises the max flow: each round tries the widest bridge
// after every possible entry, scores each by the real max flow and keeps the best.
// From an empty placement this builds pipelines the way augmenting paths build a
// flow; after some nodes are cleared it rebuilds around the rest (ruin and
// recreate). Returns the improved placement and its max flow.
std::pair<std::vector<LayerRange>, double> lay_bridges(const ClusterSpec& cluster, const ModelSpec& model,
                                                       const PerfModel& perf, PlacementEvaluator& evaluator,
                                                       std::vector<LayerRange> ranges);

}  // namespace helix
