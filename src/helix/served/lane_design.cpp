#include "helix/served/lane_design.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace helix::served {
namespace {

// Token x layer KV slots per layer a node of `group` gives holding k layers.
double kv_per_layer(const PerfModel& perf, const NodeGroup& group, int k) {
  if (k < 1 || k > group.max_layers) return 0;
  double slots = -1;
  for (int node : group.nodes) {
    const NodePerf& p = perf.node(node);
    const double s = k <= p.max_layers ? p.kv_capacity[static_cast<std::size_t>(k - 1)] : 0;
    slots = slots < 0 ? s : std::min(slots, s);
  }
  return std::max(0.0, slots) / k;
}

struct SegmentPlan {
  std::vector<Lane> lanes;
};

// KV per layer of a segment of `length` layers covered by these lanes (0 if a
// lane cannot hold it).
double segment_kv(const PerfModel& perf, const std::vector<NodeGroup>& groups, const SegmentPlan& s, int length) {
  double kv = 0;
  for (const Lane& lane : s.lanes) {
    const int k = (length + lane.nodes - 1) / lane.nodes;
    const double per = kv_per_layer(perf, groups[static_cast<std::size_t>(lane.group)], k);
    if (per <= 0) return 0;
    kv += per;
  }
  return kv;
}

int longest_holding(const std::vector<NodeGroup>& groups, const SegmentPlan& s) {
  int most = 1 << 30;
  for (const Lane& lane : s.lanes) most = std::min(most, lane.nodes * groups[static_cast<std::size_t>(lane.group)].max_layers);
  return most;
}

// Segment lengths that maximise the smallest KV per layer (bisection on the
// level; each segment takes the most layers that keep it at the level).
std::optional<std::vector<int>> balanced_lengths(const PerfModel& perf, const std::vector<NodeGroup>& groups,
                                                 const std::vector<SegmentPlan>& segments, int num_layers) {
  auto longest_at = [&](const SegmentPlan& s, double level) {
    int best = 0;
    const int cap = std::min(num_layers, longest_holding(groups, s));
    for (int len = 1; len <= cap; ++len) {
      if (segment_kv(perf, groups, s, len) >= level) best = len;
    }
    return best;
  };
  double low = 0, high = 0;
  for (const SegmentPlan& s : segments) high = std::max(high, segment_kv(perf, groups, s, 1));
  int total_at_zero = 0;
  for (const SegmentPlan& s : segments) total_at_zero += longest_at(s, 0);
  if (total_at_zero < num_layers) return std::nullopt;
  for (int it = 0; it < 50; ++it) {
    const double mid = 0.5 * (low + high);
    int total = 0;
    for (const SegmentPlan& s : segments) total += longest_at(s, mid);
    (total >= num_layers ? low : high) = mid;
  }
  std::vector<int> lengths;
  int total = 0;
  for (const SegmentPlan& s : segments) {
    lengths.push_back(longest_at(s, low));
    total += lengths.back();
  }
  // Trim the surplus from the segments with the most KV to spare.
  while (total > num_layers) {
    std::size_t best = 0;
    double spare = -1;
    for (std::size_t j = 0; j < segments.size(); ++j) {
      if (lengths[j] <= 1) continue;
      const double kv = segment_kv(perf, groups, segments[j], lengths[j] - 1);
      if (kv > spare) spare = kv, best = j;
    }
    if (spare < 0) return std::nullopt;
    --lengths[best];
    --total;
  }
  for (int len : lengths) {
    if (len < 1) return std::nullopt;
  }
  return lengths;
}

LaneDesign with_lengths(const std::vector<SegmentPlan>& segments, const std::vector<int>& lengths) {
  LaneDesign d;
  int end = 0;
  for (std::size_t j = 0; j < segments.size(); ++j) {
    end += lengths[j];
    d.segments.push_back({end, segments[j].lanes});
  }
  return d;
}

// The lanes of one segment: each assigned group as one lane of all its nodes
// or, with `split`, two lanes of half each where it has two nodes or more.
SegmentPlan lanes_of(const std::vector<NodeGroup>& groups, const std::vector<int>& members, bool split) {
  SegmentPlan s;
  for (int g : members) {
    const int n = static_cast<int>(groups[static_cast<std::size_t>(g)].nodes.size());
    if (split && n >= 2) {
      s.lanes.push_back({g, n / 2});
      s.lanes.push_back({g, n / 2});
    } else {
      s.lanes.push_back({g, n});
    }
  }
  return s;
}

// The same segments with each group's lanes packed: lanes of the fewest nodes
// that hold the segment at `fill` x their capacity, as many side by side as the
// group has nodes for. Fewer, fuller stages: each stage costs a wait, so where KV
// is plentiful a token is faster through a few full nodes than many light ones.
std::optional<LaneDesign> packed(const LaneDesign& d, const std::vector<NodeGroup>& groups, double fill) {
  LaneDesign out;
  bool changed = false;
  int start = 0;
  for (const Segment& s : d.segments) {
    const int length = s.end - start;
    std::map<int, int> nodes;  // group -> its nodes in this segment
    for (const Lane& l : s.lanes) nodes[l.group] += l.nodes;
    Segment seg{s.end, {}};
    for (const auto& [g, n] : nodes) {
      const int per_node = std::max(1, static_cast<int>(fill * groups[static_cast<std::size_t>(g)].max_layers));
      const int m = (length + per_node - 1) / per_node;
      if (m > n) return std::nullopt;
      for (int q = 0; q < n / m; ++q) seg.lanes.push_back({g, m});
      changed = changed || m != n;
    }
    out.segments.push_back(std::move(seg));
    start = s.end;
  }
  if (!changed) return std::nullopt;
  return out;
}

void add_design(const LaneDesign& d, const std::vector<NodeGroup>& groups, std::vector<LaneDesign>& out) {
  out.push_back(d);
  for (double fill : {1.0, 0.75}) {
    if (auto p = packed(d, groups, fill)) out.push_back(std::move(*p));
  }
}

void add_with_variants(const PerfModel& perf, const std::vector<NodeGroup>& groups,
                       const std::vector<SegmentPlan>& segments, int num_layers, std::vector<LaneDesign>& out) {
  std::optional<std::vector<int>> lengths = balanced_lengths(perf, groups, segments, num_layers);
  if (!lengths) return;
  add_design(with_lengths(segments, *lengths), groups, out);
  if (segments.size() < 2) return;
  // Longer or shorter first segments: KV balance is not all (fast segments may
  // deserve more layers, slow lanes fewer).
  const int step = std::max(1, num_layers / 10);
  for (int delta : {-step, step}) {
    std::vector<int> moved = *lengths;
    moved[0] += delta;
    moved[1] -= delta;
    if (moved[0] < 1 || moved[1] < 1) continue;
    if (moved[0] > longest_holding(groups, segments[0]) || moved[1] > longest_holding(groups, segments[1])) continue;
    add_design(with_lengths(segments, moved), groups, out);
  }
}

}  // namespace

std::vector<NodeGroup> node_groups(const ClusterSpec& cluster, const PerfModel& perf) {
  std::map<std::pair<int, int>, std::size_t> index;
  std::vector<NodeGroup> groups;
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    const ComputeNode& n = cluster.nodes[static_cast<std::size_t>(i)];
    if (perf.node(i).max_layers < 1) continue;
    auto [it, fresh] = index.try_emplace({n.gpu_type, n.region}, groups.size());
    if (fresh) {
      NodeGroup g;
      g.name = cluster.gpu_types[static_cast<std::size_t>(n.gpu_type)].name +
               (cluster.regions.size() > 1 ? "@" + cluster.regions[static_cast<std::size_t>(n.region)] : "");
      g.max_layers = perf.node(i).max_layers;
      groups.push_back(std::move(g));
    }
    NodeGroup& g = groups[it->second];
    g.nodes.push_back(i);
    g.max_layers = std::min(g.max_layers, perf.node(i).max_layers);
  }
  return groups;
}

std::string LaneDesign::describe(const std::vector<NodeGroup>& groups) const {
  std::string out;
  int start = 0;
  for (const Segment& s : segments) {
    if (!out.empty()) out += " | ";
    out += fmt::format("{}-{}:", start, s.end);
    for (const Lane& l : s.lanes) out += fmt::format(" {}x{}", groups[static_cast<std::size_t>(l.group)].name, l.nodes);
    start = s.end;
  }
  return out;
}

std::optional<std::vector<LayerRange>> realise(const LaneDesign& design, const std::vector<NodeGroup>& groups,
                                               int num_nodes) {
  std::vector<LayerRange> ranges(static_cast<std::size_t>(num_nodes));
  std::vector<std::size_t> used(groups.size(), 0);
  int start = 0;
  for (const Segment& s : design.segments) {
    const int length = s.end - start;
    for (const Lane& lane : s.lanes) {
      const NodeGroup& g = groups[static_cast<std::size_t>(lane.group)];
      const auto m = static_cast<std::size_t>(std::min(lane.nodes, length));
      if (m == 0 || used[static_cast<std::size_t>(lane.group)] + m > g.nodes.size()) return std::nullopt;
      int at = start;
      for (std::size_t j = 0; j < m; ++j) {
        const int k = length / static_cast<int>(m) + (static_cast<int>(j) < length % static_cast<int>(m) ? 1 : 0);
        if (k > g.max_layers) return std::nullopt;
        ranges[static_cast<std::size_t>(g.nodes[used[static_cast<std::size_t>(lane.group)]++])] = {at, at + k};
        at += k;
      }
    }
    start = s.end;
  }
  return ranges;
}

namespace {

// The segments of an assignment (group -> segment, S = none), in segment order.
void add_assignment(const PerfModel& perf, const std::vector<NodeGroup>& groups, const std::vector<int>& assign,
                    int segments_used, int num_layers, std::vector<LaneDesign>& out) {
  const int G = static_cast<int>(groups.size());
  for (bool split : {false, true}) {
    std::vector<SegmentPlan> segments;
    for (int j = 0; j < segments_used; ++j) {
      std::vector<int> members;
      for (int g = 0; g < G; ++g) {
        if (assign[static_cast<std::size_t>(g)] == j) members.push_back(g);
      }
      segments.push_back(lanes_of(groups, members, split));
    }
    add_with_variants(perf, groups, segments, num_layers, out);
    // Segments in reverse order too: it matters where regions meet.
    if (segments.size() >= 2) {
      std::reverse(segments.begin(), segments.end());
      add_with_variants(perf, groups, segments, num_layers, out);
    }
  }
}

// Many groups: tiers of speed instead of every assignment. Groups ranked by how
// many layer-tokens/s their nodes supply; the fastest t form the first segment,
// the next ones the second, the rest the last.
void add_tiers(const PerfModel& perf, const std::vector<NodeGroup>& groups, int num_layers, int max_segments,
               std::vector<LaneDesign>& out) {
  const int G = static_cast<int>(groups.size());
  std::vector<double> speed(groups.size(), 0);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const NodePerf& p = perf.node(groups[g].nodes.front());
    for (int k = 1; k <= p.max_layers; ++k) speed[g] = std::max(speed[g], p.capacity(k) * k);
  }
  std::vector<int> rank(groups.size());
  for (int g = 0; g < G; ++g) rank[static_cast<std::size_t>(g)] = g;
  std::stable_sort(rank.begin(), rank.end(), [&](int a, int b) { return speed[static_cast<std::size_t>(a)] > speed[static_cast<std::size_t>(b)]; });
  std::vector<int> assign(groups.size(), 0);
  add_assignment(perf, groups, assign, 1, num_layers, out);
  for (int t1 = 1; t1 < G; ++t1) {
    // t2 == t1: two tiers; t1 < t2 < G: three.
    for (int t2 = t1; t2 < (max_segments >= 3 ? G : t1 + 1); ++t2) {
      for (int r = 0; r < G; ++r) {
        assign[static_cast<std::size_t>(rank[static_cast<std::size_t>(r)])] = r < t1 ? 0 : (r < t2 ? 1 : (t2 > t1 ? 2 : 1));
      }
      add_assignment(perf, groups, assign, t2 > t1 ? 3 : 2, num_layers, out);
    }
  }
}

}  // namespace

std::vector<LaneDesign> enumerate_designs(const std::vector<NodeGroup>& groups, const PerfModel& perf, int num_layers,
                                          int max_segments, std::size_t limit) {
  std::vector<LaneDesign> out;
  const int G = static_cast<int>(groups.size());
  if (G == 0) return out;
  if (G > 7) {
    add_tiers(perf, groups, num_layers, max_segments, out);
    if (out.size() > limit) out.resize(limit);
    return out;
  }
  // Each group goes to a segment 0..S-1 or (few groups only) to none. Segment
  // labels appear in order of first use, so that relabellings are not repeated.
  const bool allow_unused = G <= 7;
  const int S = std::clamp(max_segments, 1, G);
  const int options = S + (allow_unused ? 1 : 0);
  std::vector<int> assign(static_cast<std::size_t>(G), 0);
  while (out.size() < limit) {
    int used_segments = 0;
    bool canonical = true;
    for (int g = 0; g < G && canonical; ++g) {
      const int a = assign[static_cast<std::size_t>(g)];
      if (a == S) continue;  // unused
      if (a > used_segments) canonical = false;
      if (a == used_segments) ++used_segments;
    }
    if (canonical && used_segments >= 1) add_assignment(perf, groups, assign, used_segments, num_layers, out);
    int g = 0;
    while (g < G && ++assign[static_cast<std::size_t>(g)] == options) assign[static_cast<std::size_t>(g++)] = 0;
    if (g == G) break;
  }
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace helix::served
