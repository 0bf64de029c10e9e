// Internal to flow/: small helpers shared by the two flow networks' builders —
// input checks, FlowArc constructors, and adding an arc to MaxFlow while (when
// describing) recording its FlowArc under the same index.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/flow/flow_network.h"
#include "helix/flow/max_flow.h"
#include "helix/model/layer_range.h"

namespace helix::flow_internal {

// Vertex ids of the coordinator in both networks (flow_network.cpp, planner_graph.h).
inline constexpr int kSource = 0;  // the coordinator sending prompts
inline constexpr int kSink = 1;    // the coordinator receiving results

inline std::size_t at(int i) { return static_cast<std::size_t>(i); }

// One range per node; non-empty ranges inside [0, num_layers). Throws Error.
void check_ranges(const ClusterSpec& cluster, std::span<const LayerRange> ranges, int num_layers);

inline FlowArc link_arc(int from, int to, double capacity) {
  FlowArc arc;
  arc.kind = ArcKind::Link;
  arc.from = from;
  arc.to = to;
  arc.capacity_tps = capacity;
  return arc;
}

// A compute or NIC arc of `node` (kCoordinator for the coordinator's NICs).
inline FlowArc node_arc(ArcKind kind, int node, double capacity) {
  FlowArc arc;
  arc.kind = kind;
  arc.node = node;
  arc.capacity_tps = capacity;
  return arc;
}

// Adds an arc to the network and, when `arcs` is given, its FlowArc (same index).
inline void add_arc(MaxFlow& flow, std::vector<FlowArc>* arcs, int from, int to, const FlowArc& arc) {
  flow.add_arc(from, to, arc.capacity_tps);
  if (arcs) arcs->push_back(arc);
}

}  // namespace helix::flow_internal
