// The max flow the paper's simulator computes: networkx.maximum_flow(G, "source",
// "sink") with its default algorithm, preflow_push (highest-label push-relabel with
// the gap and global-relabel heuristics, global_relabel_freq = 1). The max-flow
// VALUE is unique, but the per-edge split is not, and the paper's router takes its
// weights from that split (simulator spec §7.1). This file re-implements networkx's
// algorithm step by step, on the graph the paper's FlowGraph builds (planner spec
// §3), so that helix can route on the same split.
//
// ONE KNOWN LIMIT. networkx keeps the nodes of each height level in Python `set`s
// of node-name strings and discharges `next(iter(level.active))`. A set's iteration
// order follows string hashes, which Python randomises per process unless
// PYTHONHASHSEED is set (the paper's runs did not set it). When a level holds more
// than one active node the choice, and hence the split, can depend on the seed:
// it does for the high-heterogeneity ILP graph, not for the single-cluster and
// distributed-clusters ILP graphs. Here level sets iterate in insertion order (as if
// Python's sets were insertion-ordered dicts); this equals networkx exactly when
// networkx is seed-independent, and otherwise equals networkx run with insertion-
// ordered level sets (tests/fixtures/networkx/make_fixtures.py checks both).
#pragma once

#include <span>
#include <vector>

#include "helix/flow/flow_network.h"

namespace helix {

// An edge of a networkx DiGraph. capacity may be +infinity (networkx's missing
// capacity attribute); zero or negative capacities are dropped, as networkx does.
struct NxEdge {
  int tail = 0;
  int head = 0;
  double capacity = 0;
};

struct NxFlowResult {
  double value = 0;          // networkx's flow_value: the excess at the sink
  std::vector<double> flow;  // per input edge: flow_dict[tail][head] (0 when not positive)
};

// networkx.maximum_flow(G, s, t) on the DiGraph whose nodes were added in the order
// 0 .. num_nodes-1 and whose edges were added in `edges` order (a repeated (tail,
// head) keeps its first position and takes the last capacity, as DiGraph.add_edge
// does; both entries report the same flow). Fails (helix::Error) like networkx on
// bad s/t and on an infinite-capacity s-t path.
NxFlowResult networkx_max_flow(int num_nodes, std::span<const NxEdge> edges, int source, int sink);

// Same contract as solve_simulator_flow — same arcs (kinds, endpoints, capacities,
// order) and the same min cut (any maximum flow saturates every minimum cut) — but
// the per-arc flows and the value are networkx's preflow_push result on the paper's
// graph: vertices "source", "0_out", "1_in", "sink", then per node (file order)
// "{uid}_in/_start/_end/_out"; edges source->0_out, 1_in->sink, per node
// in->start->end->out, then the links in the given order. helix's arc order is
// exactly that edge order, which is why the arcs are simply reused. Nodes holding no
// layers are left out (helix does; the paper's graph would give them T(0) arcs, but
// no published layout has such a node).
FlowSolution solve_simulator_flow_networkx(const ClusterSpec& cluster, const ModelSpec& model,
                                           const PerfModel& perf, std::span<const LayerRange> ranges,
                                           std::span<const LinkPair> links);

}  // namespace helix
