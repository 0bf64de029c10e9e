// The interval MILP: helix's aggregated, exact model of placement on a fast
// network, solved with CBC for an upper bound and a strong starting placement.
//
// With every link fast and present, a placement's max flow equals the max flow of
// a much smaller graph: one vertex per layer boundary 0..L, and each node an arc
// from its start to its end boundary with capacity cap(k). Nodes with identical
// capacity tables are interchangeable, so the model counts them per class:
//
//   y[c,s,k]  integer  number of class-c nodes holding layers [s, s+k)
//   f[c,s,k]  >= 0     flow through those nodes
//   max  Σ f[c,0,k]
//   s.t. f[c,s,k] <= min(cap_c(k), U)·y[c,s,k]     (U: the layer-supply bound)
//        Σ_{s,k} y[c,s,k] <= n_c                    (each node used at most once)
//        flow in = flow out at every boundary 1..L-1
//
// Coordinator links are respected (a class without a link from the coordinator
// cannot start at layer 0, nor one without a link back end at L), so pruned
// clusters get pipelines that can exist. It has no per-node binaries and no big-M layer logic (the paper's MILP has
// both, spec §8 items 2-3), and it ignores the network, so its optimum and CBC's
// bound are upper bounds for the real cluster; on a fast network the realised
// placement reaches the model's objective.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/milp/cbc_solver.h"
#include "helix/model/layer_range.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"

namespace helix {

struct IntervalMilpResult {
  MilpStatus status = MilpStatus::NoSolution;
  double objective = 0;      // network-free max flow of `ranges`
  double bound = 0;          // CBC's proven upper bound (valid for the real cluster)
  std::vector<LayerRange> ranges;  // realised placement; empty without a solution
  double seconds = 0;
  int columns = 0;
  int rows = 0;
};

struct IntervalMilpOptions {
  double time_limit_s = 10;
  long max_nodes = 0;  // > 0: CBC's branch-and-bound node budget (machine-independent)
  int threads = 1;
  double flow_cap = 0;                          // U above; 0: no cap
  const std::vector<LayerRange>* start = nullptr;  // MIP start (a placement)
  const std::atomic<bool>* stop = nullptr;
  // Primal heuristic mode: keep only lengths k whose useful supply k·min(cap(k), U)
  // is at least this fraction of the class's best (0 keeps all). The model is then
  // a restriction: its solutions are valid, its bound is not a bound.
  double min_supply_fraction = 0;
  // A sub-problem: only these nodes (empty: all), serving only layers
  // [segment.start, segment.end) (empty: all). Coordinator links matter only at
  // layer 0 and the last layer.
  std::vector<int> nodes;
  LayerRange segment;
  // Ranges already given to other nodes (a previous segment): the realised
  // placement extends them, and connects to them where it can.
  const std::vector<LayerRange>* placed = nullptr;
  // Caps (tokens/s, 0: none) on the flow of one node starting the segment (when it
  // starts after layer 0) and of one node ending it (before layer L): what a
  // node's few links across a slow region boundary can carry. They force the
  // flow across that boundary to spread over several nodes.
  double entry_cap = 0;
  double exit_cap = 0;
};

// What one node pair between regions r and q carries on average, in tokens/s of
// activations: the mean link capacity times the share of pairs that are linked
// (0 if none is).
double region_pair_capacity(const ClusterSpec& cluster, const ModelSpec& model, int r, int q);

// Node classes: indices of nodes with identical capacity tables and the same
// coordinator links (in and out) — the nodes the model treats as interchangeable.
std::vector<std::vector<int>> capacity_classes(const ClusterSpec& cluster, const PerfModel& perf,
                                               bool by_region = false,
                                               const std::vector<int>& subset = {});

// The placement is realised on `cluster`: each slot goes to the free node of its
// class that connects best to the nodes already placed before it.
IntervalMilpResult solve_interval_milp(const ClusterSpec& cluster, const PerfModel& perf, int num_layers,
                                       const IntervalMilpOptions& options);

}  // namespace helix
