// How check_placement works: one Checker walks the placement, then the arcs, then
// a path decomposition of the flow, appending a sentence per problem.
//
// The flow is read on its own vertex numbering, derived from the FlowArcs alone:
// 0 = coordinator sending, 1 = coordinator receiving, node i = {2+2i in, 3+2i out};
// a compute arc is i_in -> i_out, a link u -> v is u_out -> v_in (the coordinator's
// side as above). The decomposition repeatedly walks from the coordinator along
// arcs with flow left, cancels any cycle it meets, and subtracts the bottleneck:
// each round empties at least one arc, so it ends after at most #arcs rounds.
#include "helix/plan/placement_check.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>

#include <fmt/format.h>

namespace helix {
namespace {

std::size_t at(int i) { return static_cast<std::size_t>(i); }

constexpr int kSendV = 0;  // the coordinator sending prompts
constexpr int kRecvV = 1;  // the coordinator receiving results
int in_v(int node) { return 2 + 2 * node; }
int out_v(int node) { return 3 + 2 * node; }

// Flows come out of int64 fixed point scaled to the whole network (max_flow.h):
// exact to ~1e-9 tokens/s, so a millionth relative is a safe "equal".
bool nearly_equal(double a, double b) { return std::abs(a - b) <= 1e-6 * std::max({1.0, std::abs(a), std::abs(b)}); }

// One coordinator-to-coordinator path of the decomposition: the nodes it computes on, in order.
struct FlowPath {
  std::vector<int> nodes;
  double flow_tps = 0;
};

class Checker {
 public:
  Checker(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
          const Placement& placement, const FlowSolution& flow)
      : cluster_(cluster), model_(model), perf_(perf), placement_(placement), flow_(flow),
        n_(cluster.num_nodes()), layers_(model.num_layers) {}

  std::vector<std::string> run() {
    if (!check_shape()) return std::move(problems_);
    check_ranges();
    if (!map_arcs()) return std::move(problems_);
    check_arc_capacities();
    check_network_is_complete();
    check_conservation();
    check_paths(decompose());
    check_min_cut();
    return std::move(problems_);
  }

 private:
  template <typename... Args>
  void problem(fmt::format_string<Args...> format, Args&&... args) {
    problems_.push_back(fmt::format(format, std::forward<Args>(args)...));
  }

  const LayerRange& range(int node) const { return placement_.ranges[at(node)]; }
  std::string name(int endpoint) const { return cluster_.endpoint_name(endpoint); }
  std::string labelled(int node) const {
    return fmt::format("{} (layers {})", name(node), to_string(range(node)));
  }

  // Sizes that every later check indexes by; a mismatch stops the check.
  bool check_shape() {
    if (placement_.num_nodes() != n_) {
      problem("the placement has {} ranges for {} cluster nodes", placement_.num_nodes(), n_);
      return false;
    }
    if (perf_.num_nodes() != n_) {
      problem("the performance model has {} nodes, the cluster {}", perf_.num_nodes(), n_);
      return false;
    }
    if (placement_.num_layers != layers_) {
      problem("the placement is for {} layers, the model {} has {}", placement_.num_layers, model_.name, layers_);
    }
    check_names();
    return true;
  }

  void check_names() {
    if (placement_.node_names.empty()) return;
    if (static_cast<int>(placement_.node_names.size()) != n_) {
      problem("the placement names {} nodes, the cluster has {}", placement_.node_names.size(), n_);
      return;
    }
    for (int i = 0; i < n_; ++i) {
      if (placement_.node_names[at(i)] != cluster_.nodes[at(i)].name) {
        problem("placement node {} is '{}', the cluster's is '{}'", i, placement_.node_names[at(i)], name(i));
      }
    }
  }

  // Memory (spec §1.6) and layer bounds.
  void check_ranges() {
    for (int i = 0; i < n_; ++i) {
      const LayerRange& r = range(i);
      if (r.start > r.end) problem("node {} has a reversed range [{}, {})", name(i), r.start, r.end);
      if (r.empty()) continue;
      if (r.start < 0 || r.end > layers_) {
        problem("node {} holds layers [{}, {}), outside [0, {})", name(i), r.start, r.end, layers_);
      }
      const int fits = perf_.node(i).max_layers;
      if (r.size() > fits && !perf_.allow_overcommit()) {
        problem("node {} ({}) holds {} layers but fits {}", name(i), cluster_.gpu_of(i).name, r.size(), fits);
      }
    }
  }

  // Tail and head vertex of every arc; false (with problems) if an arc is malformed.
  bool map_arcs() {
    bool ok = true;
    compute_arc_.assign(at(n_), -1);
    for (std::size_t a = 0; a < flow_.arcs.size(); ++a) {
      const auto [tail, head] = ends_of(flow_.arcs[a], static_cast<int>(a));
      if (tail < 0) ok = false;
      tails_.push_back(tail);
      heads_.push_back(head);
    }
    if (!ok) return false;
    out_arcs_.assign(at(2 + 2 * n_), {});
    for (std::size_t a = 0; a < flow_.arcs.size(); ++a) out_arcs_[at(tails_[a])].push_back(static_cast<int>(a));
    return true;
  }

  bool valid_node(int e) const { return e >= 0 && e < n_; }

  std::pair<int, int> ends_of(const FlowArc& arc, int a) {
    if (arc.kind == ArcKind::Compute) return compute_ends(arc, a);
    if (arc.kind != ArcKind::Link) {
      problem("arc {}: a NIC arc has no place in the planner network (spec §2.12)", a);
      return {-1, -1};
    }
    const bool from_ok = arc.from == kCoordinator || valid_node(arc.from);
    const bool to_ok = arc.to == kCoordinator || valid_node(arc.to);
    if (!from_ok || !to_ok || arc.from == arc.to) {
      problem("arc {}: link {} -> {} does not join two distinct endpoints", a, arc.from, arc.to);
      return {-1, -1};
    }
    return {arc.from == kCoordinator ? kSendV : out_v(arc.from), arc.to == kCoordinator ? kRecvV : in_v(arc.to)};
  }

  std::pair<int, int> compute_ends(const FlowArc& arc, int a) {
    if (!valid_node(arc.node)) {
      problem("arc {}: compute arc of unknown node {}", a, arc.node);
      return {-1, -1};
    }
    if (compute_arc_[at(arc.node)] >= 0) problem("node {} has two compute arcs", name(arc.node));
    compute_arc_[at(arc.node)] = a;
    return {in_v(arc.node), out_v(arc.node)};
  }

  // Flow within [0, capacity]; capacities as the spec defines them (§2.12).
  void check_arc_capacities() {
    for (std::size_t a = 0; a < flow_.arcs.size(); ++a) {
      const FlowArc& arc = flow_.arcs[a];
      const std::string what = describe(arc);
      if (arc.flow_tps < -1e-9) problem("{}: negative flow {:.6f} tokens/s", what, arc.flow_tps);
      if (arc.flow_tps > arc.capacity_tps && !nearly_equal(arc.flow_tps, arc.capacity_tps)) {
        problem("{}: flow {:.3f} exceeds its capacity {:.3f} tokens/s", what, arc.flow_tps, arc.capacity_tps);
      }
      const double expected = arc.kind == ArcKind::Compute ? compute_capacity(arc.node) : link_capacity(arc);
      if (expected >= 0 && !nearly_equal(expected, arc.capacity_tps)) {
        problem("{}: capacity {:.3f} tokens/s, expected {:.3f}", what, arc.capacity_tps, expected);
      }
    }
  }

  std::string describe(const FlowArc& arc) const {
    if (arc.kind == ArcKind::Compute) return fmt::format("node {}", labelled(arc.node));
    return fmt::format("link {} -> {}", name(arc.from), name(arc.to));
  }

  // cap_i(k_i) (spec §1.5), or -1 when undefined (empty or overfull range: reported elsewhere).
  double compute_capacity(int node) const {
    const LayerRange& r = range(node);
    if (r.empty()) return -1;
    if (r.size() > perf_.node(node).max_layers && !perf_.allow_overcommit()) return -1;
    return perf_.capacity(node, r.size());
  }

  // Bandwidth / token size on a coordinator hop, / activation size between nodes
  // (spec §1.7, §2.12); -1 (and a problem) if the cluster has no such link.
  double link_capacity(const FlowArc& arc) {
    const Link* link = cluster_.find_link(arc.from, arc.to);
    if (link == nullptr) {
      problem("link {} -> {}: the cluster has no such link", name(arc.from), name(arc.to));
      return -1;
    }
    const bool coordinator_hop = arc.from == kCoordinator || arc.to == kCoordinator;
    return link->bandwidth_Bps / (coordinator_hop ? model_.token_size_bytes : model_.activation_bytes_per_token);
  }

  // Every node holding layers computes; every allowed pipeline hop the cluster has
  // is an arc. A missing one would understate the max flow.
  void check_network_is_complete() {
    std::map<std::pair<int, int>, int> links;
    for (const FlowArc& arc : flow_.arcs) {
      if (arc.kind == ArcKind::Link) links.emplace(std::pair{arc.from, arc.to}, 0);
    }
    std::map<int, std::vector<int>> by_start;
    for (int i = 0; i < n_; ++i) {
      if (!range(i).empty()) by_start[range(i).start].push_back(i);
      if (range(i).empty() && compute_arc_[at(i)] >= 0) problem("node {} holds no layers but computes", name(i));
      if (!range(i).empty() && compute_arc_[at(i)] < 0) problem("node {} holds layers but has no compute arc", labelled(i));
    }
    auto expect = [&](int from, int to) {
      if (cluster_.find_link(from, to) && !links.contains({from, to})) {
        problem("the flow network lacks the usable link {} -> {}", name(from), name(to));
      }
    };
    for (int i = 0; i < n_; ++i) {
      if (range(i).empty()) continue;
      if (range(i).start == 0) expect(kCoordinator, i);
      if (range(i).end == layers_) expect(i, kCoordinator);
      auto next = by_start.find(range(i).end);
      if (next == by_start.end()) continue;
      for (int j : next->second) {
        if (j != i) expect(i, j);
      }
    }
  }

  // Into a node's in-vertex = through its compute arc = out of its out-vertex.
  void check_conservation() {
    const std::size_t vertices = at(2 + 2 * n_);
    std::vector<double> in(vertices, 0), out(vertices, 0);
    for (std::size_t a = 0; a < flow_.arcs.size(); ++a) {
      out[at(tails_[a])] += flow_.arcs[a].flow_tps;
      in[at(heads_[a])] += flow_.arcs[a].flow_tps;
    }
    for (int i = 0; i < n_; ++i) {
      const double through = in[at(out_v(i))];
      if (!nearly_equal(in[at(in_v(i))], through) || !nearly_equal(through, out[at(out_v(i))])) {
        problem("node {}: flow not conserved: receives {:.3f}, computes {:.3f}, sends {:.3f} tokens/s",
                name(i), in[at(in_v(i))], through, out[at(out_v(i))]);
      }
    }
    if (!nearly_equal(out[kSendV], flow_.max_flow_tps) || !nearly_equal(in[kRecvV], flow_.max_flow_tps)) {
      problem("the coordinator sends {:.3f} and receives {:.3f} tokens/s, but the max flow is {:.3f}",
              out[kSendV], in[kRecvV], flow_.max_flow_tps);
    }
  }

  // Splits the flow into coordinator-to-coordinator paths (see the file comment).
  std::vector<FlowPath> decompose() {
    left_.clear();
    for (const FlowArc& arc : flow_.arcs) left_.push_back(std::max(0.0, arc.flow_tps));
    const double eps = 1e-9 * std::max(1.0, flow_.max_flow_tps);
    std::vector<FlowPath> paths;
    double stranded = 0;
    while (true) {
      std::vector<int> walk = walk_from_source(eps);
      if (walk.empty()) break;
      const double amount = take(walk);
      if (heads_[at(walk.back())] == kRecvV) {
        paths.push_back({nodes_on(walk), amount});
      } else {
        stranded += amount;
      }
    }
    if (stranded > eps) problem("{:.3f} tokens/s leave the coordinator but never return to it", stranded);
    return paths;
  }

  // Arcs with flow left from the coordinator until it receives or a dead end;
  // cycles met on the way are cancelled (and reported).
  std::vector<int> walk_from_source(double eps) {
    std::vector<int> walk;
    std::vector<int> position(out_arcs_.size(), -1);
    int v = kSendV;
    position[at(v)] = 0;
    while (v != kRecvV) {
      const auto& candidates = out_arcs_[at(v)];
      auto next = std::find_if(candidates.begin(), candidates.end(), [&](int a) { return left_[at(a)] > eps; });
      if (next == candidates.end()) break;
      const int u = heads_[at(*next)];
      walk.push_back(*next);
      if (position[at(u)] >= 0) {
        cancel_cycle(walk, position, u);
      } else {
        position[at(u)] = static_cast<int>(walk.size());
      }
      v = u;
    }
    return walk;
  }

  void cancel_cycle(std::vector<int>& walk, std::vector<int>& position, int u) {
    const std::vector<int> cycle(walk.begin() + position[at(u)], walk.end());
    const double amount = take(cycle);
    problem("{:.3f} tokens/s circulate in a cycle through {}, serving nothing", amount, name_of_vertex(u));
    for (auto it = walk.begin() + position[at(u)]; it != walk.end(); ++it) {
      if (heads_[at(*it)] != u) position[at(heads_[at(*it)])] = -1;
    }
    walk.resize(at(position[at(u)]));
  }

  std::string name_of_vertex(int v) const { return v < 2 ? "the coordinator" : name((v - 2) / 2); }

  // Subtracts the walk's bottleneck from every arc on it; returns the bottleneck.
  double take(const std::vector<int>& walk) {
    double amount = left_[at(walk.front())];
    for (int a : walk) amount = std::min(amount, left_[at(a)]);
    for (int a : walk) left_[at(a)] = left_[at(a)] == amount ? 0.0 : left_[at(a)] - amount;
    return amount;
  }

  std::vector<int> nodes_on(const std::vector<int>& walk) const {
    std::vector<int> nodes;
    for (int a : walk) {
      if (flow_.arcs[at(a)].kind == ArcKind::Compute) nodes.push_back(flow_.arcs[at(a)].node);
    }
    return nodes;
  }

  // Spec §2.5: s_first = 0, e_i = s_next, e_last = L; and the paths add up.
  void check_paths(const std::vector<FlowPath>& paths) {
    double total = 0;
    for (const FlowPath& p : paths) {
      total += p.flow_tps;
      const std::string gap = layer_gap(p.nodes);
      if (!gap.empty()) problem("path {} ({:.3f} tokens/s): {}", path_text(p.nodes), p.flow_tps, gap);
    }
    if (!nearly_equal(total, flow_.max_flow_tps)) {
      problem("the flow paths carry {:.3f} tokens/s, the max flow is {:.3f}", total, flow_.max_flow_tps);
    }
  }

  // Why a path does not run layers 0..L-1 in order, or "".
  std::string layer_gap(const std::vector<int>& nodes) const {
    if (nodes.empty()) return "it computes nothing";
    if (range(nodes.front()).start != 0) return fmt::format("starts at layer {}, not 0", range(nodes.front()).start);
    for (std::size_t h = 0; h + 1 < nodes.size(); ++h) {
      const LayerRange& a = range(nodes[h]);
      const LayerRange& b = range(nodes[h + 1]);
      if (a.end != b.start) {
        return fmt::format("{} ends before layer {} but {} starts at layer {}", name(nodes[h]), a.end,
                           name(nodes[h + 1]), b.start);
      }
    }
    if (range(nodes.back()).end != layers_) {
      return fmt::format("ends before layer {}, not {}", range(nodes.back()).end, layers_);
    }
    return "";
  }

  std::string path_text(const std::vector<int>& nodes) const {
    std::string text = "coordinator";
    for (int i : nodes) text += " -> " + labelled(i);
    return text + " -> coordinator";
  }

  // The reported min cut certifies the max flow: its capacity equals the value and
  // no path of positive capacity avoids it.
  void check_min_cut() {
    std::vector<char> cut(flow_.arcs.size(), 0);
    double capacity = 0;
    for (int a : flow_.min_cut) {
      if (a < 0 || at(a) >= flow_.arcs.size()) {
        problem("the min cut names arc {}, which does not exist", a);
        return;
      }
      cut[at(a)] = 1;
      capacity += flow_.arcs[at(a)].capacity_tps;
    }
    if (!nearly_equal(capacity, flow_.max_flow_tps)) {
      problem("the min cut's capacity {:.3f} differs from the max flow {:.3f} tokens/s", capacity, flow_.max_flow_tps);
    }
    if (reachable_avoiding(cut)) problem("the min cut does not separate the coordinator's two sides");
  }

  // Depth-first search from the sending coordinator over arcs of positive capacity not in `cut`.
  bool reachable_avoiding(const std::vector<char>& cut) const {
    std::vector<char> seen(out_arcs_.size(), 0);
    std::vector<int> stack = {kSendV};
    seen[kSendV] = 1;
    while (!stack.empty()) {
      const int v = stack.back();
      stack.pop_back();
      for (int a : out_arcs_[at(v)]) {
        const int u = heads_[at(a)];
        if (cut[at(a)] || flow_.arcs[at(a)].capacity_tps <= 0 || seen[at(u)]) continue;
        seen[at(u)] = 1;
        stack.push_back(u);
      }
    }
    return seen[kRecvV] != 0;
  }

  const ClusterSpec& cluster_;
  const ModelSpec& model_;
  const PerfModel& perf_;
  const Placement& placement_;
  const FlowSolution& flow_;
  const int n_;
  const int layers_;
  std::vector<std::string> problems_;
  std::vector<int> tails_, heads_;  // per arc
  std::vector<int> compute_arc_;    // per node, or -1
  std::vector<std::vector<int>> out_arcs_;  // per vertex: arcs leaving it
  std::vector<double> left_;        // per arc: flow not yet assigned to a path
};

}  // namespace

std::vector<std::string> check_placement(const ClusterSpec& cluster, const ModelSpec& model,
                                         const PerfModel& perf, const Placement& placement,
                                         const FlowSolution& planner_flow) {
  return Checker(cluster, model, perf, placement, planner_flow).run();
}

}  // namespace helix
