// networkx's preflow_push, re-implemented (see networkx_flow.h for why). Every
// ordering networkx's result depends on is kept:
//  * the residual network's adjacency: for each graph edge, in the order
//    G.edges() yields them (by tail in node order, then by head in insertion
//    order), the pair (u, v), (v, u) is appended unless it exists; so each node's
//    successor and predecessor lists have the same order;
//  * heights from a reverse BFS in that order; the initial preflow saturates the
//    source's edges in that order;
//  * per node a "current edge" cursor over its residual successors that persists
//    between discharges and rewinds only when it runs off the end;
//  * the level sets (see the header about their order), the dict iteration orders
//    of networkx's global relabelling, its gap heuristic and its work counter;
//  * floating point: the same additions in the same order, so results agree to the
//    last bit, not just to a tolerance.
#include "helix/flow/networkx_flow.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <unordered_map>

#include "helix/core/error.h"

namespace helix {
namespace {

std::size_t at(int i) { return static_cast<std::size_t>(i); }

// The residual network R: arcs in pairs (a, twin[a]); succ[u] lists u's arcs in R's
// adjacency order.
struct Residual {
  std::vector<std::vector<int>> succ;
  std::vector<int> head, twin;
  std::vector<double> capacity, flow;

  int add(int u, int v, double cap) {
    const int a = static_cast<int>(head.size());
    head.push_back(v);
    capacity.push_back(cap);
    flow.push_back(0);
    twin.push_back(-1);
    succ[at(u)].push_back(a);
    return a;
  }
};

// Python sets holding the nodes of one height level, iterated in insertion order.
// A node is in at most one set at a time (networkx keeps it so too), which allows
// intrusive doubly linked lists: O(1) add, remove, membership and first element.
class LevelSets {
 public:
  LevelSets(int num_sets, int num_nodes)
      : first_(at(num_sets), -1), last_(at(num_sets), -1), prev_(at(num_nodes), -1),
        next_(at(num_nodes), -1), member_(at(num_nodes), -1) {}

  int num_sets() const { return static_cast<int>(first_.size()); }
  bool empty(int set) const { return first_[check(set)] < 0; }
  int first(int set) const { return first_[check(set)]; }
  bool contains(int set, int u) const { return member_[at(u)] == set; }

  void add(int set, int u) {
    check(set);
    if (member_[at(u)] == set) return;  // Python's set.add of a present element
    if (member_[at(u)] >= 0) fail("networkx flow: node {} is in two level sets", u);
    member_[at(u)] = set;
    prev_[at(u)] = last_[at(set)];
    next_[at(u)] = -1;
    if (last_[at(set)] >= 0) next_[at(last_[at(set)])] = u;
    else first_[at(set)] = u;
    last_[at(set)] = u;
  }

  void remove(int set, int u) {
    if (member_[at(u)] != set) fail("networkx flow: node {} is not in level set {}", u, set);
    const int p = prev_[at(u)];
    const int q = next_[at(u)];
    if (p >= 0) next_[at(p)] = q;
    else first_[at(set)] = q;
    if (q >= 0) prev_[at(q)] = p;
    else last_[at(set)] = p;
    member_[at(u)] = -1;
  }

  // The members of `set`, in iteration order.
  std::vector<int> members(int set) const {
    std::vector<int> out;
    for (int u = first_[check(set)]; u >= 0; u = next_[at(u)]) out.push_back(u);
    return out;
  }

 private:
  std::size_t check(int set) const {
    if (set < 0 || set >= num_sets()) fail("networkx flow: height {} outside the level table", set / 2);
    return at(set);
  }
  std::vector<int> first_, last_, prev_, next_, member_;
};

class PreflowPush {
 public:
  PreflowPush(Residual& r, int n, int s, int t)
      : r_(r), n_(n), s_(s), t_(t), height_(at(n), 0), excess_(at(n), 0), cursor_(at(n), 0),
        levels_(4 * n, n) {
    // R.size() counts every residual arc; freq 1 makes the threshold n + m.
    threshold_ = static_cast<double>(n + static_cast<int>(r_.head.size()));
  }

  // Phase 1 and 2; returns false when the sink is unreachable (flow 0).
  bool run() {
    std::vector<std::pair<int, int>> heights = reverse_bfs(t_);
    std::vector<char> reached(at(n_), 0);
    int max_height = 0;
    bool s_reached = false;
    for (const auto& [u, h] : heights) {
      reached[at(u)] = 1;
      if (u == s_) s_reached = true;
      else max_height = std::max(max_height, h);
    }
    if (!s_reached) return false;
    for (const auto& [u, h] : heights) height_[at(u)] = h;
    for (int u = 0; u < n_; ++u) {
      if (!reached[at(u)]) height_[at(u)] = n_ + 1;
    }
    height_[at(s_)] = n_;

    for (int a : r_.succ[at(s_)]) {
      const double f = r_.capacity[at(a)];
      if (f > 0) push(s_, a, f);
    }
    for (int u = 0; u < n_; ++u) {
      if (u == s_ || u == t_) continue;
      levels_.add(excess_[at(u)] > 0 ? active(height_[at(u)]) : inactive(height_[at(u)]), u);
    }

    // Phase 1: a maximum preflow.
    int height = max_height;
    while (height > 0) {
      while (true) {
        if (levels_.empty(active(height))) {
          --height;
          break;
        }
        const int old_height = height;
        const int u = levels_.first(active(height));
        height = discharge(u, true);
        if (work_ >= threshold_) {
          height = global_relabel(true);
          max_height = height;
          work_ = 0;
        } else if (levels_.empty(active(old_height)) && levels_.empty(inactive(old_height))) {
          gap(old_height, max_height);
          height = old_height - 1;
          max_height = height;
        } else {
          max_height = std::max(max_height, height);
        }
      }
    }

    // Phase 2: return the excess stranded inside the graph to the source.
    height = global_relabel(false);
    work_ = 0;
    while (height > n_) {
      while (true) {
        if (levels_.empty(active(height))) {
          --height;
          break;
        }
        const int u = levels_.first(active(height));
        height = discharge(u, false);
        if (work_ >= threshold_) {
          height = global_relabel(false);
          work_ = 0;
        }
      }
    }
    return true;
  }

  double excess(int u) const { return excess_[at(u)]; }

 private:
  static int active(int h) { return 2 * h + 1; }
  static int inactive(int h) { return 2 * h; }
  bool residual(int a) const { return r_.flow[at(a)] < r_.capacity[at(a)]; }

  void push(int u, int a, double f) {
    r_.flow[at(a)] += f;
    r_.flow[at(r_.twin[at(a)])] -= f;
    excess_[at(u)] -= f;
    excess_[at(r_.head[at(a)])] += f;
  }

  // Reverse BFS from src over arcs with residual capacity; (node, distance) in
  // discovery order, as networkx's heights dict is ordered. Predecessor lists have
  // the successor lists' order, and the arc v -> u is the twin of u -> v.
  std::vector<std::pair<int, int>> reverse_bfs(int src) const {
    std::vector<std::pair<int, int>> order{{src, 0}};
    std::vector<char> seen(at(n_), 0);
    seen[at(src)] = 1;
    for (std::size_t q = 0; q < order.size(); ++q) {
      const auto [u, h] = order[q];
      for (int a : r_.succ[at(u)]) {
        const int v = r_.head[at(a)];
        if (!seen[at(v)] && residual(r_.twin[at(a)])) {
          seen[at(v)] = 1;
          order.emplace_back(v, h + 1);
        }
      }
    }
    return order;
  }

  void activate(int v) {
    if (v == s_ || v == t_) return;
    const int h = height_[at(v)];
    if (levels_.contains(inactive(h), v)) {
      levels_.remove(inactive(h), v);
      levels_.add(active(h), v);
    }
  }

  int relabel(int u) {
    work_ += static_cast<double>(r_.succ[at(u)].size());
    int best = std::numeric_limits<int>::max();
    for (int a : r_.succ[at(u)]) {
      if (residual(a)) best = std::min(best, height_[at(r_.head[at(a)])]);
    }
    if (best == std::numeric_limits<int>::max()) fail("networkx flow: relabel of node {} without residual arcs", u);
    return best + 1;
  }

  int discharge(int u, bool phase1) {
    int height = height_[at(u)];
    const std::vector<int>& arcs = r_.succ[at(u)];
    if (arcs.empty()) fail("networkx flow: discharge of node {} without arcs", u);
    std::size_t& cursor = cursor_[at(u)];
    int next_height = height;
    levels_.remove(active(height), u);
    while (true) {
      const int a = arcs[cursor];
      const int v = r_.head[at(a)];
      if (height == height_[at(v)] + 1 && residual(a)) {
        const double f = std::min(excess_[at(u)], r_.capacity[at(a)] - r_.flow[at(a)]);
        push(u, a, f);
        activate(v);
        if (excess_[at(u)] == 0) {
          levels_.add(inactive(height), u);
          break;
        }
      }
      if (++cursor == arcs.size()) {
        // Ran off the end: rewind, then relabel (networkx's StopIteration path).
        cursor = 0;
        height = relabel(u);
        if (phase1 && height >= n_ - 1) {
          // On the source side of the minimum cut: parked until phase 2.
          levels_.add(active(height), u);
          break;
        }
        next_height = height;
      }
    }
    height_[at(u)] = height;
    return next_height;
  }

  // Levels above a gap can no longer reach the sink: lift them all to n + 1.
  void gap(int height, int max_height) {
    for (int h = height + 1; h <= max_height && inactive(h) < levels_.num_sets(); ++h) {
      for (int set : {active(h), inactive(h)}) {
        const int target = set == active(h) ? active(n_ + 1) : inactive(n_ + 1);
        for (int u : levels_.members(set)) height_[at(u)] = n_ + 1;
        // set.update(other) then other.clear(): members move in iteration order.
        for (int u : levels_.members(set)) {
          levels_.remove(set, u);
          levels_.add(target, u);
        }
      }
    }
  }

  int global_relabel(bool from_sink) {
    const int src = from_sink ? t_ : s_;
    std::vector<std::pair<int, int>> heights = reverse_bfs(src);
    if (!from_sink) {
      const auto sink = std::find_if(heights.begin(), heights.end(), [&](const auto& e) { return e.first == t_; });
      if (sink == heights.end()) fail("networkx flow: the sink is unreachable in phase 2");
      heights.erase(sink);
    }
    int max_height = 0;
    for (const auto& e : heights) max_height = std::max(max_height, e.second);
    if (from_sink) {
      std::vector<char> in(at(n_), 0);
      for (const auto& e : heights) in[at(e.first)] = 1;
      for (int u = 0; u < n_; ++u) {
        if (!in[at(u)] && height_[at(u)] < n_) heights.emplace_back(u, n_ + 1);
      }
    } else {
      for (auto& e : heights) e.second += n_;
      max_height += n_;
    }
    // del heights[src]: src is always the first entry of the BFS.
    heights.erase(heights.begin());
    for (const auto& [u, new_height] : heights) {
      const int old_height = height_[at(u)];
      if (new_height == old_height) continue;
      if (levels_.contains(active(old_height), u)) {
        levels_.remove(active(old_height), u);
        levels_.add(active(new_height), u);
      } else {
        levels_.remove(inactive(old_height), u);
        levels_.add(inactive(new_height), u);
      }
      height_[at(u)] = new_height;
    }
    return max_height;
  }

  Residual& r_;
  int n_, s_, t_;
  std::vector<int> height_;
  std::vector<double> excess_;
  std::vector<std::size_t> cursor_;
  // networkx allocates 2n levels; heights can pass that only in phase 2 on
  // pathological graphs, where networkx would raise IndexError. 4n sets = 2n levels.
  LevelSets levels_;
  double work_ = 0;
  double threshold_ = 0;
};

}  // namespace

NxFlowResult networkx_max_flow(int num_nodes, std::span<const NxEdge> edges, int source, int sink) {
  const int n = num_nodes;
  auto valid = [n](int u) { return u >= 0 && u < n; };
  if (!valid(source)) fail("networkx flow: source {} not in graph", source);
  if (!valid(sink)) fail("networkx flow: sink {} not in graph", sink);
  if (source == sink) fail("networkx flow: source and sink are the same node");

  // The DiGraph: per tail, heads in insertion order; a repeated edge keeps its
  // place and takes the last capacity.
  auto key = [n](int u, int v) { return static_cast<std::int64_t>(u) * n + v; };
  std::vector<std::vector<int>> g_succ(at(n));  // indices into `unique`
  std::vector<NxEdge> unique;
  std::vector<int> edge_of(edges.size());
  std::unordered_map<std::int64_t, int> g_index;
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const NxEdge& edge = edges[e];
    if (!valid(edge.tail) || !valid(edge.head)) fail("networkx flow: edge {} -> {} outside the graph", edge.tail, edge.head);
    const auto [it, added] = g_index.emplace(key(edge.tail, edge.head), static_cast<int>(unique.size()));
    if (added) {
      unique.push_back(edge);
      g_succ[at(edge.tail)].push_back(it->second);
    } else {
      unique[at(it->second)].capacity = edge.capacity;
    }
    edge_of[e] = it->second;
  }

  // build_residual_network: positive-capacity non-loop edges in G.edges() order;
  // infinity becomes 3 x the sum of the finite capacities (or 1).
  std::vector<int> kept;
  const double inf = std::numeric_limits<double>::infinity();
  double finite_sum = 0;
  for (int u = 0; u < n; ++u) {
    for (int e : g_succ[at(u)]) {
      const NxEdge& edge = unique[at(e)];
      if (edge.tail != edge.head && edge.capacity > 0) {
        kept.push_back(e);
        if (edge.capacity != inf) finite_sum += edge.capacity;
      }
    }
  }
  const double big = 3 * finite_sum != 0 ? 3 * finite_sum : 1;
  Residual r;
  r.succ.resize(at(n));
  std::unordered_map<std::int64_t, int> r_index;
  for (int e : kept) {
    const NxEdge& edge = unique[at(e)];
    const double cap = std::min(edge.capacity, big);
    const auto found = r_index.find(key(edge.tail, edge.head));
    if (found == r_index.end()) {
      const int a = r.add(edge.tail, edge.head, cap);
      const int b = r.add(edge.head, edge.tail, 0);
      r.twin[at(a)] = b;
      r.twin[at(b)] = a;
      r_index.emplace(key(edge.tail, edge.head), a);
      r_index.emplace(key(edge.head, edge.tail), b);
    } else {
      r.capacity[at(found->second)] = cap;  // the pair was added for (head, tail)
    }
  }

  // detect_unboundedness: a BFS from s over arcs whose capacity equals the
  // stand-in for infinity.
  {
    std::vector<char> seen(at(n), 0);
    std::deque<int> q{source};
    seen[at(source)] = 1;
    while (!q.empty()) {
      const int u = q.front();
      q.pop_front();
      for (int a : r.succ[at(u)]) {
        const int v = r.head[at(a)];
        if (r.capacity[at(a)] == big && !seen[at(v)]) {
          if (v == sink) fail("networkx flow: infinite capacity path, flow unbounded above");
          seen[at(v)] = 1;
          q.push_back(v);
        }
      }
    }
  }

  PreflowPush algorithm(r, n, source, sink);
  NxFlowResult result;
  result.flow.assign(edges.size(), 0);
  if (!algorithm.run()) return result;
  result.value = algorithm.excess(sink);
  // build_flow_dict: the residual arc's flow where positive, else 0.
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const NxEdge& edge = unique[at(edge_of[e])];
    const auto found = r_index.find(key(edge.tail, edge.head));
    if (found != r_index.end() && r.flow[at(found->second)] > 0) result.flow[e] = r.flow[at(found->second)];
  }
  return result;
}

namespace {

// The paper's vertex of an arc end, as a small integer key; vertices are numbered
// by first appearance along the arcs, which reproduces the paper's insertion order
// ("source", "0_out", "1_in", "sink", then each node's four) because helix's arcs
// follow the paper's edge order.
constexpr std::int64_t kSourceV = 0, kCoordOutV = 1, kCoordInV = 2, kSinkV = 3;

std::int64_t node_vertex(int node, int part) { return 4 + 4 * static_cast<std::int64_t>(node) + part; }

std::pair<std::int64_t, std::int64_t> arc_vertices(const FlowArc& arc) {
  switch (arc.kind) {
    case ArcKind::CoordinatorOut: return {kSourceV, kCoordOutV};
    case ArcKind::CoordinatorIn: return {kCoordInV, kSinkV};
    case ArcKind::NicIn: return {node_vertex(arc.node, 0), node_vertex(arc.node, 1)};
    case ArcKind::Compute: return {node_vertex(arc.node, 1), node_vertex(arc.node, 2)};
    case ArcKind::NicOut: return {node_vertex(arc.node, 2), node_vertex(arc.node, 3)};
    case ArcKind::Link:
      return {arc.from == kCoordinator ? kCoordOutV : node_vertex(arc.from, 3),
              arc.to == kCoordinator ? kCoordInV : node_vertex(arc.to, 0)};
  }
  fail("networkx flow: unknown arc kind");
}

}  // namespace

FlowSolution solve_simulator_flow_networkx(const ClusterSpec& cluster, const ModelSpec& model,
                                           const PerfModel& perf, std::span<const LayerRange> ranges,
                                           std::span<const LinkPair> links) {
  // helix's own solve gives the arcs, capacities and min cut; only the split changes.
  FlowSolution solution = solve_simulator_flow(cluster, model, perf, ranges, links);
  std::unordered_map<std::int64_t, int> id;
  auto vertex = [&id](std::int64_t v) { return id.emplace(v, static_cast<int>(id.size())).first->second; };
  vertex(kSourceV);
  vertex(kCoordOutV);
  vertex(kCoordInV);
  vertex(kSinkV);
  std::vector<NxEdge> edges;
  edges.reserve(solution.arcs.size());
  for (const FlowArc& arc : solution.arcs) {
    const auto [u, v] = arc_vertices(arc);
    const int tail = vertex(u);
    edges.push_back({tail, vertex(v), arc.capacity_tps});
  }
  const NxFlowResult nx = networkx_max_flow(static_cast<int>(id.size()), edges, id.at(kSourceV), id.at(kSinkV));
  solution.max_flow_tps = nx.value;
  for (std::size_t a = 0; a < solution.arcs.size(); ++a) solution.arcs[a].flow_tps = nx.flow[a];
  return solution;
}

}  // namespace helix
