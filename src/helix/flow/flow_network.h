// The flow network of a (cluster, placement) pair and its max flow: helix's
// measure of serving throughput (tokens/s). Two constructions, both from the spec:
//
//  * planner semantics (planner spec §2.12) — what the MILP and every planner
//    optimise: per node one arc i_in -> i_out of capacity cap_i(k_i); an arc
//    coordinator -> i_in if node i holds layer 0, i_out -> coordinator if it holds
//    the last layer, and i_out -> j_in if i's range ends where j's starts and the
//    cluster has the link i -> j. Link capacities: bandwidth / token size for
//    coordinator hops, bandwidth / activation size between nodes.
//  * simulator semantics (planner spec §3) — what the simulator and the router
//    use: each node split into NIC-in, compute T(k), NIC-out arcs, the coordinator's
//    NICs modelled, and the given directed links (token + activation bytes).
//
// Both return every arc with its flow (the router's weights) and the min cut
// (which nodes or links bind), which describe_min_cut() puts into words.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/layer_range.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"

namespace helix {

enum class ArcKind {
  Compute,        // through a node: its compute capacity
  NicIn,          // simulator semantics: a node's receiving NIC
  NicOut,         // simulator semantics: a node's sending NIC
  CoordinatorOut, // simulator semantics: the coordinator's sending NIC
  CoordinatorIn,  // simulator semantics: the coordinator's receiving NIC
  Link,           // a network link from -> to (kCoordinator for the coordinator)
};

struct FlowArc {
  ArcKind kind = ArcKind::Link;
  int node = -1;               // for Compute/NicIn/NicOut
  int from = kCoordinator;     // for Link
  int to = kCoordinator;       // for Link
  double capacity_tps = 0;
  double flow_tps = 0;
};

struct FlowSolution {
  double max_flow_tps = 0;
  std::vector<FlowArc> arcs;  // every arc of the network, with its flow
  std::vector<int> min_cut;   // indices into `arcs` of the arcs crossing a minimum cut
};

// A directed link (from, to) a placement's pipelines may use; kCoordinator for the coordinator.
using LinkPair = std::pair<int, int>;

struct LinkSelection {
  // Also allow i -> j when start_j < end_i < end_j, i.e. j still holds layers past
  // i's end (the paper's "partial inference", spec §5.1, used by Petals layouts: j
  // runs only the layers past i's end).
  bool allow_partial = false;
  // Drop links into nodes with no way out and out of nodes with no way in (one
  // pass each, as the paper's generator does, spec §2.10).
  bool drop_dangling = true;
};

// The directed links a placement can use, among the cluster's links: coordinator
// -> i if i holds layer 0, i -> coordinator if i holds the last layer, i -> j if
// i's range ends where j's starts (or partially overlaps, see LinkSelection).
// Ordered as the paper's generator writes them: coordinator links first, then by node.
std::vector<LinkPair> select_pipeline_links(const ClusterSpec& cluster,
                                            std::span<const LayerRange> ranges, int num_layers,
                                            const LinkSelection& selection = {});

// Planner semantics (spec §2.12). ranges[i] is node i's range (empty: unused).
FlowSolution solve_planner_flow(const ClusterSpec& cluster, const ModelSpec& model,
                                const PerfModel& perf, std::span<const LayerRange> ranges);

// Simulator semantics (spec §3) over exactly the given directed links.
FlowSolution solve_simulator_flow(const ClusterSpec& cluster, const ModelSpec& model,
                                  const PerfModel& perf, std::span<const LayerRange> ranges,
                                  std::span<const LinkPair> links);

// The min cut in words: one line per group of alike elements (nodes of one GPU
// type holding the same layers, links between the same regions), e.g.
//   "node ComputeNode-3 (T4, layers 53-56): 757.85 tokens/s"
//   "2 L4 holding layers 53-59 (ComputeNode-3, ComputeNode-5): 2 x 531.70 = 1063.40 tokens/s"
// followed by a one-sentence summary of whether compute or the network binds.
std::vector<std::string> describe_min_cut(const FlowSolution& solution, const ClusterSpec& cluster,
                                          std::span<const LayerRange> ranges);

// Evaluates the planner-semantics max flow of many placements of one cluster: the
// planner's inner loop. Keeps its graph and work arrays between calls, so after
// the first few calls an evaluation allocates nothing. It keeps references to
// cluster, model and perf: they must outlive it.
class PlacementEvaluator {
 public:
  PlacementEvaluator(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf);
  ~PlacementEvaluator();
  PlacementEvaluator(PlacementEvaluator&&) noexcept;
  PlacementEvaluator& operator=(PlacementEvaluator&&) noexcept;

  // Max flow in tokens/s; equals solve_planner_flow(...).max_flow_tps.
  double max_flow(std::span<const LayerRange> ranges);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace helix
