#include "helix/plan/helix_interval_milp.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"

namespace helix {
namespace {

bool has_link_from_coordinator(const ClusterSpec& cluster, int node) {
  return cluster.find_link(kCoordinator, node) != nullptr;
}

bool has_link_to_coordinator(const ClusterSpec& cluster, int node) {
  return cluster.find_link(node, kCoordinator) != nullptr;
}

struct Interval {
  int cls;
  int start;
  int k;
  int y;  // column of the node count
  int f;  // column of the flow
};

std::string column_name(const char* what, const Interval& v) {
  return fmt::format("{}_{}_{}_{}", what, v.cls, v.start, v.k);
}

// Columns y and f for every class and interval that fits the class's memory.
// Lengths worth offering a class (all, or the near-best ones in heuristic mode).
std::vector<bool> allowed_lengths(const PerfModel& perf, int node, int max_k,
                                  const IntervalMilpOptions& options) {
  std::vector<bool> allowed(static_cast<std::size_t>(max_k + 1), true);
  if (options.min_supply_fraction <= 0) return allowed;
  double cap_limit = options.flow_cap > 0 ? options.flow_cap : kMilpInfinity;
  auto supply = [&](int k) { return k * std::min(perf.capacity(node, k), cap_limit); };
  double best = 0;
  for (int k = 1; k <= max_k; ++k) best = std::max(best, supply(k));
  for (int k = 1; k <= max_k; ++k) {
    allowed[static_cast<std::size_t>(k)] = supply(k) >= options.min_supply_fraction * best;
  }
  return allowed;
}

// Intervals a class can hold: within its memory, starting at 0 only with a link
// from the coordinator and ending at L only with a link back to it.
std::vector<Interval> add_columns(MilpModel& m, const ClusterSpec& cluster, const PerfModel& perf,
                                  const std::vector<std::vector<int>>& classes, int L,
                                  const LayerRange& segment, const IntervalMilpOptions& options) {
  std::vector<Interval> out;
  for (int c = 0; c < static_cast<int>(classes.size()); ++c) {
    const auto& nodes = classes[static_cast<std::size_t>(c)];
    const bool can_start = has_link_from_coordinator(cluster, nodes.front());
    const bool can_finish = has_link_to_coordinator(cluster, nodes.front());
    int max_k = std::min(perf.node(nodes.front()).max_layers, L);
    std::vector<bool> allowed = allowed_lengths(perf, nodes.front(), max_k, options);
    for (int s = segment.start; s < segment.end; ++s) {
      for (int k = 1; k <= std::min(max_k, segment.end - s); ++k) {
        if (!allowed[static_cast<std::size_t>(k)]) continue;
        if ((s == 0 && !can_start) || (s + k == L && !can_finish)) continue;
        Interval v{c, s, k, -1, -1};
        v.y = m.add_integer(column_name("y", v), 0, static_cast<double>(nodes.size()));
        v.f = m.add_continuous(column_name("f", v), 0, kMilpInfinity, s == segment.start ? 1.0 : 0.0);
        out.push_back(v);
      }
    }
  }
  return out;
}

void add_rows(MilpModel& m, const PerfModel& perf, const std::vector<std::vector<int>>& classes,
              const std::vector<Interval>& intervals, int L, const LayerRange& segment,
              const IntervalMilpOptions& options, bool boundaries) {
  const double cap_limit = options.flow_cap;
  std::vector<std::vector<MilpTerm>> per_class(classes.size());
  std::vector<std::vector<MilpTerm>> boundary(static_cast<std::size_t>(L + 1));
  for (const Interval& v : intervals) {
    double cap = perf.capacity(classes[static_cast<std::size_t>(v.cls)].front(), v.k);
    if (cap_limit > 0) cap = std::min(cap, cap_limit);
    if (options.entry_cap > 0 && v.start == segment.start && v.start > 0) cap = std::min(cap, options.entry_cap);
    if (options.exit_cap > 0 && v.start + v.k == segment.end && segment.end < L) {
      cap = std::min(cap, options.exit_cap);
    }
    m.add_le(column_name("cap", v), {{v.f, 1.0}, {v.y, -cap}}, 0.0);
    per_class[static_cast<std::size_t>(v.cls)].push_back({v.y, 1.0});
    boundary[static_cast<std::size_t>(v.start)].push_back({v.f, -1.0});      // leaves s
    boundary[static_cast<std::size_t>(v.start + v.k)].push_back({v.f, 1.0});  // arrives at s+k
  }
  for (std::size_t c = 0; c < classes.size(); ++c) {
    m.add_le(fmt::format("count_{}", c), per_class[c], static_cast<double>(classes[c].size()));
  }
  for (int b = segment.start + 1; b < segment.end && boundaries; ++b) {
    if (!boundary[static_cast<std::size_t>(b)].empty()) {
      m.add_eq(fmt::format("boundary_{}", b), boundary[static_cast<std::size_t>(b)], 0.0);
    }
  }
}

// The slowest link from region r to region q, in tokens/s of activations (0 if
// some pair of their nodes has no link): what one node pair can carry at least.
double slowest_link(const ClusterSpec& cluster, const ModelSpec& model, int r, int q) {
  double slowest = kMilpInfinity;
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    if (cluster.nodes[static_cast<std::size_t>(i)].region != r) continue;
    for (int j = 0; j < cluster.num_nodes(); ++j) {
      if (i == j || cluster.nodes[static_cast<std::size_t>(j)].region != q) continue;
      const Link* l = cluster.find_link(i, j);
      slowest = std::min(slowest, l == nullptr ? 0.0 : l->bandwidth_Bps / model.activation_bytes_per_token);
    }
  }
  return slowest == kMilpInfinity ? 0.0 : slowest;
}

// Regional conservation, replacing "flow in = flow out" at each boundary b: flow
// ending at b in region r is split into x[b,r,q] towards every region q, and flow
// starting at b in q is the sum of x[b,r,q]. Across regions x is limited by the
// pairs of nodes that can carry it: with e nodes ending at b in r and s starting
// in q there are e*s >= e+s-1 pairs (e, s >= 1), so
//   x <= c·(e+s) - c·v,  x <= M·v  (v binary: the crossing is used),
//   x <= c·S·e,  x <= c·E·s        (no pairs, no flow),
// a restriction of the real network (never promises flow it cannot carry).
void add_regional_rows(MilpModel& m, const ClusterSpec& cluster, const ModelSpec& model,
                       const std::vector<std::vector<int>>& classes,
                       const std::vector<Interval>& intervals, int L, double flow_cap) {
  const int R = static_cast<int>(cluster.regions.size());
  auto region_of = [&](const Interval& v) {
    return cluster.nodes[static_cast<std::size_t>(classes[static_cast<std::size_t>(v.cls)].front())].region;
  };
  std::vector<int> nodes_in(static_cast<std::size_t>(R), 0);
  for (const auto& n : cluster.nodes) ++nodes_in[static_cast<std::size_t>(n.region)];
  const double big = flow_cap > 0 ? flow_cap : 1e7;
  for (int b = 1; b < L; ++b) {
    // Per region: flow arriving at / leaving b, and node counts ending / starting.
    std::vector<std::vector<MilpTerm>> in(static_cast<std::size_t>(R)), out(static_cast<std::size_t>(R)),
        ending(static_cast<std::size_t>(R)), starting(static_cast<std::size_t>(R));
    for (const Interval& v : intervals) {
      auto r = static_cast<std::size_t>(region_of(v));
      if (v.start + v.k == b) {
        in[r].push_back({v.f, 1.0});
        ending[r].push_back({v.y, 1.0});
      }
      if (v.start == b) {
        out[r].push_back({v.f, 1.0});
        starting[r].push_back({v.y, 1.0});
      }
    }
    std::vector<std::vector<int>> x(static_cast<std::size_t>(R), std::vector<int>(static_cast<std::size_t>(R), -1));
    for (int r = 0; r < R; ++r) {
      for (int q = 0; q < R; ++q) {
        if (in[static_cast<std::size_t>(r)].empty() || out[static_cast<std::size_t>(q)].empty()) continue;
        double c = r == q ? kMilpInfinity : slowest_link(cluster, model, r, q);
        if (c <= 0) continue;
        int col = m.add_continuous(fmt::format("x_{}_{}_{}", b, r, q), 0, kMilpInfinity);
        x[static_cast<std::size_t>(r)][static_cast<std::size_t>(q)] = col;
        if (r == q) continue;
        int v = m.add_binary(fmt::format("v_{}_{}_{}", b, r, q));
        std::vector<MilpTerm> pairs = {{col, 1.0}, {v, c}};
        for (auto t : ending[static_cast<std::size_t>(r)]) pairs.push_back({t.column, -c});
        for (auto t : starting[static_cast<std::size_t>(q)]) pairs.push_back({t.column, -c});
        m.add_le(fmt::format("pairs_{}_{}_{}", b, r, q), pairs, 0.0);
        m.add_le(fmt::format("used_{}_{}_{}", b, r, q), {{col, 1.0}, {v, -big}}, 0.0);
        std::vector<MilpTerm> by_end = {{col, 1.0}}, by_start = {{col, 1.0}};
        for (auto t : ending[static_cast<std::size_t>(r)]) by_end.push_back({t.column, -c * nodes_in[static_cast<std::size_t>(q)]});
        for (auto t : starting[static_cast<std::size_t>(q)]) by_start.push_back({t.column, -c * nodes_in[static_cast<std::size_t>(r)]});
        m.add_le(fmt::format("ends_{}_{}_{}", b, r, q), by_end, 0.0);
        m.add_le(fmt::format("starts_{}_{}_{}", b, r, q), by_start, 0.0);
      }
    }
    for (int r = 0; r < R; ++r) {
      auto split = in[static_cast<std::size_t>(r)];
      for (auto& t : split) t.coefficient = -1.0;
      for (int q = 0; q < R; ++q) {
        if (int col = x[static_cast<std::size_t>(r)][static_cast<std::size_t>(q)]; col >= 0) split.push_back({col, 1.0});
      }
      if (!split.empty()) m.add_eq(fmt::format("split_{}_{}", b, r), split, 0.0);
      auto gather = out[static_cast<std::size_t>(r)];
      for (auto& t : gather) t.coefficient = -1.0;
      for (int q = 0; q < R; ++q) {
        if (int col = x[static_cast<std::size_t>(q)][static_cast<std::size_t>(r)]; col >= 0) gather.push_back({col, 1.0});
      }
      if (!gather.empty()) m.add_eq(fmt::format("gather_{}_{}", b, r), gather, 0.0);
    }
  }
}

// The MIP start: y counts of a placement (intervals outside the model are dropped).
std::vector<std::pair<std::string, double>> start_values(const std::vector<LayerRange>& ranges,
                                                         const std::vector<std::vector<int>>& classes,
                                                         const std::vector<Interval>& intervals) {
  std::vector<int> class_of(ranges.size(), -1);
  for (std::size_t c = 0; c < classes.size(); ++c) {
    for (int node : classes[c]) class_of[static_cast<std::size_t>(node)] = static_cast<int>(c);
  }
  std::map<std::tuple<int, int, int>, int> count;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (!ranges[i].empty()) ++count[{class_of[i], ranges[i].start, ranges[i].size()}];
  }
  std::vector<std::pair<std::string, double>> values;
  for (const Interval& v : intervals) {
    auto it = count.find({v.cls, v.start, v.k});
    values.emplace_back(column_name("y", v), it == count.end() ? 0.0 : it->second);
  }
  return values;
}

// How well node j would connect as the holder of [start, end): bandwidth from the
// nodes already ending at `start` (or a coordinator link when start = 0), plus a
// coordinator link back when end = L. Coordinator links dominate: without them a
// pipeline cannot exist at all.
double connectivity(const ClusterSpec& cluster, const std::vector<LayerRange>& ranges, int j,
                    const LayerRange& r, int L) {
  constexpr double kEssential = 1e15;
  double score = 0;
  if (r.start == 0) {
    score += cluster.find_link(kCoordinator, j) != nullptr ? kEssential : 0;
  } else {
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      if (ranges[i].empty() || ranges[i].end != r.start) continue;
      if (const Link* l = cluster.find_link(static_cast<int>(i), j)) score += l->bandwidth_Bps;
    }
  }
  if (r.end == L && cluster.find_link(j, kCoordinator) != nullptr) score += kEssential;
  return score;
}

// Gives y[c,s,k] nodes of class c the range [s, s+k), front to back; each slot
// takes the free node of its class that connects best to what is already placed
// (ties: lowest index), so pipelines stay inside regions and on existing links.
std::vector<LayerRange> realise(const std::vector<double>& values, const ClusterSpec& cluster,
                                const std::vector<std::vector<int>>& classes,
                                const std::vector<Interval>& intervals, int L,
                                const std::vector<LayerRange>* placed) {
  std::vector<LayerRange> ranges = placed != nullptr ? *placed : std::vector<LayerRange>{};
  ranges.resize(static_cast<std::size_t>(cluster.num_nodes()));
  std::vector<Interval> ordered;
  for (const Interval& v : intervals) {
    for (long n = std::lround(values[static_cast<std::size_t>(v.y)]); n > 0; --n) ordered.push_back(v);
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const Interval& a, const Interval& b) { return a.start < b.start; });
  std::vector<bool> taken(ranges.size(), false);
  // Look-ahead: links from a candidate to free nodes of the classes that will
  // start where it ends (on sparse, pruned networks the next stage needs them).
  auto onward = [&](int j, int end) {
    double score = 0;
    for (const Interval& w : ordered) {
      if (w.start != end) continue;
      for (int next : classes[static_cast<std::size_t>(w.cls)]) {
        if (taken[static_cast<std::size_t>(next)] || next == j) continue;
        if (const Link* l = cluster.find_link(j, next)) score += l->bandwidth_Bps;
      }
    }
    return score;
  };
  for (const Interval& v : ordered) {
    LayerRange r{v.start, v.start + v.k};
    int chosen = -1;
    double best = -1;
    for (int j : classes[static_cast<std::size_t>(v.cls)]) {
      if (taken[static_cast<std::size_t>(j)]) continue;
      double score = connectivity(cluster, ranges, j, r, L) + 1e-3 * onward(j, r.end);
      if (score > best) {
        best = score;
        chosen = j;
      }
    }
    if (chosen < 0) continue;  // more slots than nodes: cannot happen for a feasible y
    taken[static_cast<std::size_t>(chosen)] = true;
    ranges[static_cast<std::size_t>(chosen)] = r;
  }
  return ranges;
}

}  // namespace

double region_pair_capacity(const ClusterSpec& cluster, const ModelSpec& model, int r, int q) {
  // Mean capacity of the links that exist between the regions, scaled by the
  // share of node pairs that have one (pruned networks keep few).
  double sum = 0;
  long links = 0;
  long pairs = 0;
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    if (cluster.nodes[static_cast<std::size_t>(i)].region != r) continue;
    for (int j = 0; j < cluster.num_nodes(); ++j) {
      if (i == j || cluster.nodes[static_cast<std::size_t>(j)].region != q) continue;
      ++pairs;
      if (const Link* l = cluster.find_link(i, j)) {
        sum += l->bandwidth_Bps / model.activation_bytes_per_token;
        ++links;
      }
    }
  }
  if (links == 0) return 0;
  return sum / static_cast<double>(links) * static_cast<double>(links) / static_cast<double>(pairs);
}

std::vector<std::vector<int>> capacity_classes(const ClusterSpec& cluster, const PerfModel& perf,
                                               bool by_region, const std::vector<int>& subset) {
  std::vector<std::vector<int>> classes;
  auto same = [&](int a, int b) {
    const NodePerf& pa = perf.node(a);
    const NodePerf& pb = perf.node(b);
    if (by_region && cluster.nodes[static_cast<std::size_t>(a)].region !=
                         cluster.nodes[static_cast<std::size_t>(b)].region) {
      return false;
    }
    return pa.max_layers == pb.max_layers && pa.capacity_tps == pb.capacity_tps &&
           has_link_from_coordinator(cluster, a) == has_link_from_coordinator(cluster, b) &&
           has_link_to_coordinator(cluster, a) == has_link_to_coordinator(cluster, b);
  };
  std::vector<int> nodes = subset;
  if (nodes.empty()) {
    for (int i = 0; i < perf.num_nodes(); ++i) nodes.push_back(i);
  }
  for (int i : nodes) {
    auto it = std::find_if(classes.begin(), classes.end(), [&](const auto& c) { return same(c.front(), i); });
    if (it == classes.end()) {
      classes.push_back({i});
    } else {
      it->push_back(i);
    }
  }
  return classes;
}

IntervalMilpResult solve_interval_milp(const ClusterSpec& cluster, const ModelSpec& model_spec,
                                       const PerfModel& perf, int num_layers,
                                       const IntervalMilpOptions& options) {
  const bool regional = options.regional && cluster.regions.size() > 1;
  const LayerRange segment = options.segment.empty() ? LayerRange{0, num_layers} : options.segment;
  auto classes = capacity_classes(cluster, perf, regional, options.nodes);
  MilpModel model;
  model.name = "helix interval model";
  model.set_maximize(true);
  auto intervals = add_columns(model, cluster, perf, classes, num_layers, segment, options);
  add_rows(model, perf, classes, intervals, num_layers, segment, options, !regional);
  if (regional) add_regional_rows(model, cluster, model_spec, classes, intervals, num_layers, options.flow_cap);

  MilpOptions milp;
  milp.time_limit_s = options.time_limit_s;
  milp.threads = options.threads;
  milp.stop = options.stop;
  if (options.start != nullptr) milp.mip_start = start_values(*options.start, classes, intervals);
  MilpResult solved = solve_with_cbc(model, milp);

  IntervalMilpResult out;
  out.status = solved.status;
  out.bound = solved.best_bound;
  out.seconds = solved.seconds;
  out.columns = model.num_columns();
  out.rows = model.num_rows();
  if (solved.has_solution()) {
    out.objective = solved.objective;
    out.ranges = realise(solved.values, cluster, classes, intervals, num_layers, options.placed);
  }
  return out;
}

}  // namespace helix
