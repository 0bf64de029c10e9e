// MaxFlow: a deterministic push-relabel maximum flow on a reusable residual graph.
//
// Why our own: the planner evaluates a placement by one max flow (planner spec
// §2.12), millions of times, and the simulator's router takes its weights from
// the per-arc flows (spec §3, "consider a deterministic push-relabel"). So the
// code must be fast on small graphs, allocate nothing once its buffers are warm,
// and give the same flows bit for bit for the same input.
//
// Algorithm (Goldberg–Tarjan, as in Cherkassky & Goldberg's HIPR):
//  * phase 1 — highest-label push-relabel with the current-arc rule, the gap
//    heuristic and periodic global relabelling (a reverse BFS from the sink),
//    computing a maximum preflow; excess[sink] is then the max-flow value;
//  * phase 2 (only when flows are wanted) — the same machinery with the roles of
//    the terminals swapped returns every stranded excess to the source, which
//    turns the preflow into a valid flow;
//  * the min cut's source side is the set of vertices reachable from the source in
//    the final residual graph.
//
// Numbers. Capacities arrive as doubles in tokens/s spanning ~1e-3 … 1e10 (a
// coordinator arc is bandwidth/2 bytes ≈ 5e8, a node ≈ 1e3). They are solved in
// exact int64 fixed point:
//  1. U = min(flow_bound, Σ capacities out of the source, Σ into the sink) bounds
//     the max flow; every arc is clamped to 2U (1 if U = 0). That keeps the max flow (no flow
//     needs more than U on an arc) and a clamped arc can never be saturated, so it
//     never appears in the min cut either.
//  2. scale = a power of two chosen so that the sum of all clamped capacities is
//     below 2^62; capacity_int = floor(capacity · scale). Multiplying by a power of
//     two is exact; every excess and residual is bounded by that sum, so nothing
//     overflows int64; pushes are exact integer arithmetic, hence deterministic and
//     free of epsilon tests.
//  Cost: the value is low by at most (#arcs in the min cut) / scale, i.e. about
//  (#cut arcs) · Σ clamped capacities · 2^-62 — ~1e-9 tokens/s on helix's graphs
//  when the caller passes the sum of node capacities as flow_bound. Reported flows
//  never exceed capacities. Precision is absolute, relative to U: a bottleneck
//  many orders of magnitude below U is resolved less finely (pass a tight bound).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace helix {

class MaxFlow {
 public:
  enum class Output {
    ValueOnly,    // phase 1 only: the value; flow() and on_source_side() are not valid
    FlowAndCut,   // phases 1 and 2: a valid flow and the min cut
  };

  // Starts a new network of `num_vertices` vertices and no arcs. Keeps buffers.
  void reset(int num_vertices);
  // Adds the arc from -> to and returns its id (0, 1, 2, ... in call order).
  // Capacity must be >= 0 (throws Error otherwise); +inf is allowed if the
  // flow is bounded elsewhere. Self-loops are accepted and carry no flow.
  int add_arc(int from, int to, double capacity);

  // Max flow from source to sink. `flow_bound` is an optional known upper bound on
  // the max flow (e.g. the sum of node capacities when every path crosses a node);
  // it must be valid, it only sharpens the fixed-point scale. Throws Error if the
  // flow is unbounded (an infinite-capacity source-to-sink path with no bound).
  double solve(int source, int sink, Output output = Output::FlowAndCut,
               double flow_bound = std::numeric_limits<double>::infinity());

  int num_vertices() const { return n_; }
  int num_arcs() const { return static_cast<int>(arc_from_.size()); }
  double capacity(int arc) const { return arc_cap_[static_cast<std::size_t>(arc)]; }
  int arc_from(int arc) const { return arc_from_[static_cast<std::size_t>(arc)]; }
  int arc_to(int arc) const { return arc_to_[static_cast<std::size_t>(arc)]; }

  // After solve(..., FlowAndCut): the flow on an arc, 0 <= flow <= capacity.
  double flow(int arc) const;
  // After solve(..., FlowAndCut): whether v is reachable from the source in the
  // residual graph (the source side of a minimum cut).
  bool on_source_side(int vertex) const { return source_side_[static_cast<std::size_t>(vertex)] != 0; }
  // After solve(..., FlowAndCut): the arc leaves the source side for the sink side.
  bool crosses_cut(int arc) const { return on_source_side(arc_from(arc)) && !on_source_side(arc_to(arc)); }

 private:
  void build_residual_graph(double flow_bound, int source, int sink);
  void run_phase(int target, int blocked);
  void global_relabel(int target, int blocked);
  void discharge(int v);
  void relabel(int v);
  void gap(int emptied_height);
  void add_active(int v);
  void add_to_level(int v);
  void remove_from_level(int v);
  void mark_source_side(int source);

  // The network as given.
  int n_ = 0;
  std::vector<int> arc_from_, arc_to_;
  std::vector<double> arc_cap_;

  // Residual graph in CSR form: half-arcs of vertex v are half_[first_[v] ..
  // first_[v+1]-1]; arc e is half_[fwd_[e]] and its reverse is that one's mate.
  // Packed in one struct so that a scan touches one cache line per few arcs.
  struct HalfArc {
    int head;          // the vertex it points to
    int mate;          // index of the reverse half-arc
    std::int64_t res;  // residual capacity, fixed point
  };
  std::vector<HalfArc> half_;
  std::vector<int> first_, fwd_;
  std::vector<std::int64_t> qcap_;
  double scale_ = 1;

  // Push-relabel state.
  std::vector<std::int64_t> excess_;
  std::vector<int> height_, current_;
  // Per height d < n: a stack of active vertices and a doubly linked list of all
  // vertices (for the gap heuristic).
  std::vector<int> active_head_, next_active_;
  std::vector<int> level_head_, level_next_, level_prev_;
  int max_active_ = -1, max_level_ = 0;
  int target_ = 0;
  std::int64_t work_ = 0, relabel_period_ = 0;

  std::vector<int> queue_;
  std::vector<char> source_side_;
};

}  // namespace helix
