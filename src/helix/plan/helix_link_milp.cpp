#include "helix/plan/helix_link_milp.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace helix {
namespace {

using LinkMap = std::map<int, double>;  // peer (or kCoordinator) -> bandwidth

struct Adjacency {
  std::vector<LinkMap> out, in;
};

Adjacency adjacency(const ClusterSpec& cluster) {
  Adjacency a;
  a.out.resize(static_cast<std::size_t>(cluster.num_nodes()));
  a.in.resize(a.out.size());
  for (const Link& l : cluster.links) {
    if (l.from != kCoordinator) a.out[static_cast<std::size_t>(l.from)][l.to] = l.bandwidth_Bps;
    if (l.to != kCoordinator) a.in[static_cast<std::size_t>(l.to)][l.from] = l.bandwidth_Bps;
  }
  return a;
}

// Same links apart from those between the two nodes themselves.
bool same_links_except(const LinkMap& x, int skip_x, const LinkMap& y, int skip_y) {
  auto next = [](const LinkMap& m, LinkMap::const_iterator it, int skip) {
    while (it != m.end() && it->first == skip) ++it;
    return it;
  };
  auto i = next(x, x.begin(), skip_x);
  auto j = next(y, y.begin(), skip_y);
  for (; i != x.end() && j != y.end(); i = next(x, ++i, skip_x), j = next(y, ++j, skip_y)) {
    if (*i != *j) return false;
  }
  return i == x.end() && j == y.end();
}

bool twins(const Adjacency& adj, int a, int b) {
  const auto ua = static_cast<std::size_t>(a);
  const auto ub = static_cast<std::size_t>(b);
  return same_links_except(adj.out[ua], b, adj.out[ub], a) && same_links_except(adj.in[ua], b, adj.in[ub], a);
}

bool linked_both_ways(const ClusterSpec& cluster, int a, int b) {
  return cluster.find_link(a, b) != nullptr && cluster.find_link(b, a) != nullptr;
}

// A node joins a group if it is a twin of every member and linked to all of
// them (true twins) or to none (false twins), as the members are to each other.
bool fits_group(const ClusterSpec& cluster, const Adjacency& adj, const std::vector<int>& group, int node) {
  const bool linked = linked_both_ways(cluster, group.front(), node);
  if (!linked && (cluster.find_link(group.front(), node) || cluster.find_link(node, group.front()))) return false;
  if (group.size() > 1 && linked != linked_both_ways(cluster, group[0], group[1])) return false;
  return std::all_of(group.begin(), group.end(), [&](int m) { return twins(adj, m, node); });
}

struct Interval {
  int cls;
  int start;
  int k;
  int y;
  int f;
};

struct Model {
  MilpModel milp;
  std::vector<std::vector<int>> classes;  // node indices
  std::vector<int> group_of_class;
  std::vector<Interval> intervals;
};

std::vector<std::vector<int>> classes_within(const PerfModel& perf, const std::vector<int>& group) {
  std::vector<std::vector<int>> out;
  for (int node : group) {
    auto same = [&](const std::vector<int>& c) {
      return perf.node(c.front()).max_layers == perf.node(node).max_layers &&
             perf.node(c.front()).capacity_tps == perf.node(node).capacity_tps;
    };
    auto it = std::find_if(out.begin(), out.end(), same);
    if (it == out.end()) out.push_back({node});
    else it->push_back(node);
  }
  return out;
}

// Lengths worth offering a node: those whose useful supply is near its best.
std::vector<int> good_lengths(const PerfModel& perf, int node, int L, const LinkMilpOptions& options) {
  const int max_k = std::min(perf.node(node).max_layers, L);
  const double cap_limit = options.flow_cap > 0 ? options.flow_cap : kMilpInfinity;
  auto supply = [&](int k) { return k * std::min(perf.capacity(node, k), cap_limit); };
  double best = 0;
  for (int k = 1; k <= max_k; ++k) best = std::max(best, supply(k));
  std::vector<int> out;
  for (int k = 1; k <= max_k; ++k) {
    if (best > 0 && supply(k) >= options.min_supply_fraction * best) out.push_back(k);
  }
  return out;
}

// Whether [s, s+k) starts and ends on the grid (the last layer is always allowed).
bool on_grid(int s, int k, int L, int grid) { return s % grid == 0 && ((s + k) % grid == 0 || s + k == L); }

// The finest spacing of layer boundaries that keeps the model within
// kMaxIntervals intervals. On the 42-node pruned cluster with every boundary
// (~16,000-19,000 intervals) CBC's LP alone takes 4-10 s and its heuristics then
// find nothing; on every second boundary (~3,900) it finds pipelines in seconds,
// which the local search then refines layer by layer.
constexpr long kMaxIntervals = 8000;

int boundary_grid(const std::vector<std::vector<int>>& classes, const PerfModel& perf, int L,
                  const LinkMilpOptions& options) {
  int grid = 1;
  for (; grid < 4; grid *= 2) {
    long count = 0;
    for (const auto& c : classes) {
      for (int k : good_lengths(perf, c.front(), L, options)) {
        for (int s = 0; s + k <= L; ++s) count += on_grid(s, k, L, grid) ? 1 : 0;
      }
    }
    if (count <= kMaxIntervals) break;
  }
  return grid;
}

void add_intervals(Model& m, const ClusterSpec& cluster, const PerfModel& perf, int L,
                   const LinkMilpOptions& options, int grid) {
  for (int c = 0; c < static_cast<int>(m.classes.size()); ++c) {
    const auto& nodes = m.classes[static_cast<std::size_t>(c)];
    const int rep = nodes.front();
    const bool can_start = cluster.find_link(kCoordinator, rep) != nullptr;
    const bool can_finish = cluster.find_link(rep, kCoordinator) != nullptr;
    double cap_limit = options.flow_cap > 0 ? options.flow_cap : kMilpInfinity;
    for (int k : good_lengths(perf, rep, L, options)) {
      for (int s = 0; s + k <= L; ++s) {
        if ((s == 0 && !can_start) || (s + k == L && !can_finish)) continue;
        if (!on_grid(s, k, L, grid)) continue;
        Interval v{c, s, k, -1, -1};
        v.y = m.milp.add_integer(fmt::format("y_{}_{}_{}", c, s, k), 0, static_cast<double>(nodes.size()));
        v.f = m.milp.add_continuous(fmt::format("f_{}_{}_{}", c, s, k), 0, kMilpInfinity, s == 0 ? 1.0 : 0.0);
        m.milp.add_le(fmt::format("cap_{}_{}_{}", c, s, k),
                      {{v.f, 1.0}, {v.y, -std::min(perf.capacity(rep, k), cap_limit)}}, 0.0);
        m.intervals.push_back(v);
      }
    }
  }
}

void add_counts(Model& m) {
  std::vector<std::vector<MilpTerm>> per_class(m.classes.size());
  for (const Interval& v : m.intervals) per_class[static_cast<std::size_t>(v.cls)].push_back({v.y, 1.0});
  for (std::size_t c = 0; c < m.classes.size(); ++c) {
    if (!per_class[c].empty()) {
      m.milp.add_le(fmt::format("count_{}", c), per_class[c], static_cast<double>(m.classes[c].size()));
    }
  }
}

// Conservation per group and inner boundary, through the transfer columns g.
void add_transfers(Model& m, const ClusterSpec& cluster, const std::vector<std::vector<int>>& groups, int L) {
  const std::size_t G = groups.size();
  const auto cells = static_cast<std::size_t>(L + 1) * G;
  std::vector<std::vector<MilpTerm>> ending(cells), starting(cells);
  auto cell = [&](int b, int g) { return static_cast<std::size_t>(b) * G + static_cast<std::size_t>(g); };
  for (const Interval& v : m.intervals) {
    const int g = m.group_of_class[static_cast<std::size_t>(v.cls)];
    ending[cell(v.start + v.k, g)].push_back({v.f, 1.0});
    starting[cell(v.start, g)].push_back({v.f, 1.0});
  }
  auto linked = [&](std::size_t a, std::size_t b) {
    if (a != b) return cluster.find_link(groups[a].front(), groups[b].front()) != nullptr;
    return groups[a].size() > 1 && cluster.find_link(groups[a][0], groups[a][1]) != nullptr;
  };
  for (int b = 1; b < L; ++b) {
    for (std::size_t from = 0; from < G; ++from) {
      for (std::size_t to = 0; to < G; ++to) {
        auto& out = ending[cell(b, static_cast<int>(from))];
        auto& in = starting[cell(b, static_cast<int>(to))];
        if (out.empty() || in.empty() || !linked(from, to)) continue;
        int col = m.milp.add_continuous(fmt::format("g_{}_{}_{}", from, to, b), 0, kMilpInfinity);
        out.push_back({col, -1.0});
        in.push_back({col, -1.0});
      }
    }
    for (std::size_t g = 0; g < G; ++g) {
      const auto& out = ending[cell(b, static_cast<int>(g))];
      const auto& in = starting[cell(b, static_cast<int>(g))];
      if (!out.empty()) m.milp.add_eq(fmt::format("out_{}_{}", g, b), out, 0.0);
      if (!in.empty()) m.milp.add_eq(fmt::format("in_{}_{}", g, b), in, 0.0);
    }
  }
}

// Nodes of a class are interchangeable: each slot takes the lowest free one.
std::vector<LayerRange> realise(const Model& m, const std::vector<double>& values, int num_nodes) {
  std::vector<LayerRange> ranges(static_cast<std::size_t>(num_nodes));
  std::vector<std::size_t> next(m.classes.size(), 0);
  for (const Interval& v : m.intervals) {
    const auto& nodes = m.classes[static_cast<std::size_t>(v.cls)];
    auto& used = next[static_cast<std::size_t>(v.cls)];
    for (long n = std::lround(values[static_cast<std::size_t>(v.y)]); n > 0 && used < nodes.size(); --n) {
      ranges[static_cast<std::size_t>(nodes[used++])] = {v.start, v.start + v.k};
    }
  }
  return ranges;
}

}  // namespace

std::vector<std::vector<int>> twin_groups(const ClusterSpec& cluster) {
  const Adjacency adj = adjacency(cluster);
  std::vector<std::vector<int>> groups;
  for (int node = 0; node < cluster.num_nodes(); ++node) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const std::vector<int>& g) { return fits_group(cluster, adj, g, node); });
    if (it == groups.end()) groups.push_back({node});
    else it->push_back(node);
  }
  return groups;
}

LinkMilpResult solve_link_milp(const ClusterSpec& cluster, const PerfModel& perf, int num_layers,
                               const LinkMilpOptions& options) {
  const auto groups = twin_groups(cluster);
  Model m;
  m.milp.name = "helix link-aware interval model";
  m.milp.set_maximize(true);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (auto& c : classes_within(perf, groups[g])) {
      m.classes.push_back(std::move(c));
      m.group_of_class.push_back(static_cast<int>(g));
    }
  }
  add_intervals(m, cluster, perf, num_layers, options, boundary_grid(m.classes, perf, num_layers, options));
  add_counts(m);
  add_transfers(m, cluster, groups, num_layers);

  MilpOptions milp;
  milp.time_limit_s = options.time_limit_s;
  milp.max_nodes = options.max_nodes;
  milp.threads = 1;  // serial: reproducible, and CBC 2.10 leaks its thread clones
  milp.stop = options.stop;
  MilpResult solved = solve_with_cbc(m.milp, milp);
  LinkMilpResult out;
  out.status = solved.status;
  if (solved.has_solution()) {
    out.objective = solved.objective;
    out.ranges = realise(m, solved.values, cluster.num_nodes());
  }
  return out;
}

}  // namespace helix
