#include "helix/plan/helix_bridge.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>

namespace helix {
namespace {

std::size_t at(int i) { return static_cast<std::size_t>(i); }

// Residual-graph vertices: the source, the sink, then i_in and i_out per node.
constexpr int kSourceVertex = 0;
constexpr int kSinkVertex = 1;
int in_vertex(int node) { return 2 + 2 * node; }
int out_vertex(int node) { return 3 + 2 * node; }

bool has_room(const FlowArc& a) { return a.flow_tps < a.capacity_tps * (1 - 1e-9) - 1e-9; }
bool has_flow(const FlowArc& a) { return a.flow_tps > 1e-9; }

// The vertices reached from `from` along `adjacency`.
std::vector<bool> reached(const std::vector<std::vector<int>>& adjacency, int from) {
  std::vector<bool> seen(adjacency.size(), false);
  std::deque<int> queue{from};
  seen[at(from)] = true;
  while (!queue.empty()) {
    const int v = queue.front();
    queue.pop_front();
    for (int w : adjacency[at(v)]) {
      if (!seen[at(w)]) {
        seen[at(w)] = true;
        queue.push_back(w);
      }
    }
  }
  return seen;
}

double link_capacity(const Link& l, const ModelSpec& model) {
  const bool node_arc = l.from != kCoordinator && l.to != kCoordinator;
  return l.bandwidth_Bps / (node_arc ? model.activation_bytes_per_token : model.token_size_bytes);
}

// The programme's state table: best width of a chain ending with node j at layer
// t, where it came from, and which nodes it uses (a bitset per cell: a chain may
// not use a node twice, and the best label of a cell decides what may follow).
struct Table {
  Table(int nodes, int layers)
      : stride(layers + 1), words((at(nodes) + 63) / 64), width(at(nodes) * at(stride), 0),
        prev_node(width.size(), -1), prev_end(width.size(), -1), used(width.size() * words, 0) {}
  std::size_t cell(int node, int t) const { return at(node) * at(stride) + at(t); }
  bool uses(std::size_t c, int node) const { return (used[c * words + at(node) / 64] >> (at(node) % 64)) & 1U; }
  // Cell c's chain is cell `from`'s (none: from == npos) plus `node`.
  void set_used(std::size_t c, std::size_t from, int node) {
    for (std::size_t w = 0; w < words; ++w) used[c * words + w] = from == kNone ? 0 : used[from * words + w];
    used[c * words + at(node) / 64] |= std::uint64_t{1} << (at(node) % 64);
  }
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  int stride;
  std::size_t words;
  std::vector<double> width;
  std::vector<int> prev_node;  // -1: the chain's first node
  std::vector<int> prev_end;
  std::vector<std::uint64_t> used;
};

}  // namespace

ResidualSides residual_sides(const FlowSolution& flow, int num_nodes) {
  const std::size_t vertices = at(2 + 2 * num_nodes);
  std::vector<std::vector<int>> forward(vertices), backward(vertices);
  auto residual_arc = [&](int from, int to) {
    forward[at(from)].push_back(to);
    backward[at(to)].push_back(from);
  };
  ResidualSides sides;
  sides.carries_flow.assign(at(num_nodes), false);
  for (const FlowArc& a : flow.arcs) {
    int from = 0, to = 0;
    if (a.kind == ArcKind::Compute) {
      from = in_vertex(a.node);
      to = out_vertex(a.node);
      if (has_flow(a)) sides.carries_flow[at(a.node)] = true;
    } else if (a.kind == ArcKind::Link) {
      from = a.from == kCoordinator ? kSourceVertex : out_vertex(a.from);
      to = a.to == kCoordinator ? kSinkVertex : in_vertex(a.to);
    } else {
      continue;  // planner semantics has no NIC arcs
    }
    if (has_room(a)) residual_arc(from, to);
    if (has_flow(a)) residual_arc(to, from);
  }
  const std::vector<bool> from_source = reached(forward, kSourceVertex);
  const std::vector<bool> to_sink = reached(backward, kSinkVertex);
  for (int i = 0; i < num_nodes; ++i) {
    sides.source_reaches_out.push_back(from_source[at(out_vertex(i))]);
    sides.in_reaches_sink.push_back(to_sink[at(in_vertex(i))]);
  }
  return sides;
}

Bridge widest_bridge(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
                     std::span<const LayerRange> ranges, const ResidualSides& sides, int entry) {
  const int n = cluster.num_nodes();
  const int L = model.num_layers;
  if (entry != kCoordinator && (ranges[at(entry)].empty() || ranges[at(entry)].end >= L)) return {};
  const int first_layer = entry == kCoordinator ? 0 : ranges[at(entry)].end;
  auto is_free = [&](int j) { return j != kCoordinator && j != entry && !sides.carries_flow[at(j)]; };

  // Links out of the entry and between free nodes; exits from free nodes.
  std::vector<std::vector<const Link*>> links_from(at(n));
  std::vector<const Link*> from_entry;
  for (const Link& l : cluster.links) {
    if (l.from == entry && is_free(l.to)) from_entry.push_back(&l);
    if (is_free(l.from)) links_from[at(l.from)].push_back(&l);
  }

  Table table(n, L);
  auto relax = [&](int node, int start, double width, int prev_node, int prev_end) {
    const std::size_t from = prev_node < 0 ? Table::kNone : table.cell(prev_node, prev_end);
    if (from != Table::kNone && table.uses(from, node)) return;
    const int max_layers = std::min(perf.node(node).max_layers, L - start);
    for (int k = 1; k <= max_layers; ++k) {
      const double w = std::min(width, perf.capacity(node, k));
      const std::size_t c = table.cell(node, start + k);
      if (w > table.width[c]) {
        table.width[c] = w;
        table.prev_node[c] = prev_node;
        table.prev_end[c] = prev_end;
        table.set_used(c, from, node);
      }
    }
  };
  for (const Link* l : from_entry) relax(l->to, first_layer, link_capacity(*l, model), -1, first_layer);
  for (int t = first_layer + 1; t < L; ++t) {
    for (int j = 0; j < n; ++j) {
      const double w = is_free(j) ? table.width[table.cell(j, t)] : 0;
      if (w <= 0) continue;
      for (const Link* l : links_from[at(j)]) {
        if (is_free(l->to)) relax(l->to, t, std::min(w, link_capacity(*l, model)), j, t);
      }
    }
  }

  // The widest way out.
  struct Exit {
    double width;
    int node, end, into;
  };
  std::vector<Exit> exits;
  for (int j = 0; j < n; ++j) {
    if (!is_free(j)) continue;
    for (const Link* l : links_from[at(j)]) {
      const int v = l->to;
      int t = 0;
      if (v == kCoordinator) {
        t = L;
      } else if (!is_free(v) && v != entry && sides.in_reaches_sink[at(v)] && !ranges[at(v)].empty()) {
        t = ranges[at(v)].start;
      } else {
        continue;
      }
      if (t <= first_layer) continue;
      const double w = std::min(table.width[table.cell(j, t)], link_capacity(*l, model));
      if (w > 0) exits.push_back({w, j, t, v});
    }
  }
  if (exits.empty()) return {};
  const Exit& e = *std::max_element(exits.begin(), exits.end(), [](const Exit& a, const Exit& b) { return a.width < b.width; });
  Bridge bridge{{}, e.width};
  for (int node = e.node, end = e.end; node >= 0;) {
    const std::size_t c = table.cell(node, end);
    const int start = table.prev_end[c];
    bridge.chain.push_back({node, {start, end}});
    node = table.prev_node[c];
    end = start;
  }
  std::reverse(bridge.chain.begin(), bridge.chain.end());
  return bridge;
}

std::pair<std::vector<LayerRange>, double> lay_bridges(const ClusterSpec& cluster, const ModelSpec& model,
                                                       const PerfModel& perf, PlacementEvaluator& evaluator,
                                                       std::vector<LayerRange> ranges) {
  double value = evaluator.max_flow(ranges);
  for (;;) {
    const FlowSolution flow = solve_planner_flow(cluster, model, perf, ranges);
    const ResidualSides sides = residual_sides(flow, cluster.num_nodes());
    std::vector<LayerRange> best;
    double best_value = value * (1 + 1e-12) + 1e-9;
    for (int entry = kCoordinator; entry < cluster.num_nodes(); ++entry) {
      if (entry != kCoordinator && !sides.source_reaches_out[at(entry)]) continue;
      const Bridge bridge = widest_bridge(cluster, model, perf, ranges, sides, entry);
      if (bridge.chain.empty()) continue;
      std::vector<LayerRange> next = ranges;
      for (const auto& [node, range] : bridge.chain) next[at(node)] = range;
      const double v = evaluator.max_flow(next);
      if (v > best_value) {
        best_value = v;
        best = std::move(next);
      }
    }
    if (best.empty()) return {std::move(ranges), value};
    ranges = std::move(best);
    value = best_value;
  }
}

}  // namespace helix
