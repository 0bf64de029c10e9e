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
              const IntervalMilpOptions& options) {
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
  for (int b = segment.start + 1; b < segment.end; ++b) {
    if (!boundary[static_cast<std::size_t>(b)].empty()) {
      m.add_eq(fmt::format("boundary_{}", b), boundary[static_cast<std::size_t>(b)], 0.0);
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

IntervalMilpResult solve_interval_milp(const ClusterSpec& cluster, const PerfModel& perf, int num_layers,
                                       const IntervalMilpOptions& options) {
  const LayerRange segment = options.segment.empty() ? LayerRange{0, num_layers} : options.segment;
  auto classes = capacity_classes(cluster, perf, false, options.nodes);
  MilpModel model;
  model.name = "helix interval model";
  model.set_maximize(true);
  auto intervals = add_columns(model, cluster, perf, classes, num_layers, segment, options);
  add_rows(model, perf, classes, intervals, num_layers, segment, options);

  MilpOptions milp;
  milp.time_limit_s = options.time_limit_s;
  milp.max_nodes = options.max_nodes;
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
