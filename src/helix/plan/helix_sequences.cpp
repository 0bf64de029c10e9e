#include "helix/plan/helix_sequences.h"

#include <algorithm>
#include <random>

#include "helix/plan/helix_bounds.h"
#include "helix/plan/helix_interval_milp.h"

namespace helix {
namespace {

// Every order of up to 4 groups; beyond, the given order and 23 seeded shuffles.
std::vector<std::vector<int>> group_orders(const PlanContext& ctx, std::size_t count) {
  std::vector<int> order(count);
  for (std::size_t r = 0; r < count; ++r) order[r] = static_cast<int>(r);
  std::vector<std::vector<int>> out;
  if (count <= 4) {
    do out.push_back(order);
    while (std::next_permutation(order.begin(), order.end()));
    return out;
  }
  std::mt19937_64 rng(ctx.seed + 12345);
  out.push_back(order);
  for (int i = 0; i < 23; ++i) {
    std::shuffle(order.begin(), order.end(), rng);
    out.push_back(order);
  }
  return out;
}

// Node indices grouped by key(node) in [0, count), empty groups dropped.
template <typename Key>
std::vector<std::vector<int>> grouped(const ClusterSpec& cluster, std::size_t count, Key key) {
  std::vector<std::vector<int>> out(count);
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    out[static_cast<std::size_t>(key(cluster.nodes[static_cast<std::size_t>(i)]))].push_back(i);
  }
  std::erase_if(out, [](const auto& g) { return g.empty(); });
  return out;
}

std::vector<std::vector<int>> nodes_by_type(const ClusterSpec& cluster) {
return grouped(cluster, cluster.gpu_types.size(), [](const ComputeNode& n) { return n.gpu_type; });
}

std::vector<std::vector<int>> nodes_by_region(const ClusterSpec& cluster) {
return grouped(cluster, cluster.regions.size(), [](const ComputeNode& n) { return n.region; });
}

int region_of(const ClusterSpec& cluster, int index, const std::vector<std::vector<int>>& groups) {
return cluster.nodes[static_cast<std::size_t>(groups[static_cast<std::size_t>(index)].front())].region;
}

// Segment lengths: the largest F such that the regions' longest segments
// supporting F (by the layer-supply bound) add up to L; then each region's
// segment is solved in order and appended.
// `width`: how many partners across a region boundary each boundary node is
// assumed to have (caps its flow at width x the slowest link between the regions).
std::vector<LayerRange> region_sequence(const PlanContext& ctx,
                                      const std::vector<std::vector<int>>& regions,
                                      const std::vector<int>& order, double budget, long max_nodes, int width) {
  const int L = ctx.model.num_layers;
  auto longest = [&](const std::vector<int>& nodes, double flow) {
    int m = 0;
    while (m < L && layer_supply_bound(ctx.perf, m + 1, nodes) >= flow) ++m;
    return m;
  };
  double low = 0, high = layer_supply_bound(ctx.perf, L);
  for (int it = 0; it < 40; ++it) {
    double mid = 0.5 * (low + high);
    int total = 0;
    for (const auto& r : regions) total += longest(r, mid);
    (total >= L ? low : high) = mid;
  }
  std::vector<int> lengths;
  int total = 0;
  for (int r : order) {
    lengths.push_back(longest(regions[static_cast<std::size_t>(r)], low));
    total += lengths.back();
  }
  if (total < L) return {};
  for (std::size_t j = 0; total > L; j = (j + 1) % lengths.size()) {  // trim evenly
    if (lengths[j] > 0) {
      --lengths[j];
      --total;
    }
  }
  std::vector<LayerRange> ranges(static_cast<std::size_t>(ctx.cluster.num_nodes()));
  int start = 0;
  for (std::size_t j = 0; j < order.size(); ++j) {
    if (lengths[j] == 0) continue;
    IntervalMilpOptions options;
    options.time_limit_s = budget;
    options.max_nodes = max_nodes;
    options.threads = 1;
    options.nodes = regions[static_cast<std::size_t>(order[j])];
    options.segment = {start, start + lengths[j]};
    options.flow_cap = layer_supply_bound(ctx.perf, lengths[j], options.nodes);
    const int here = region_of(ctx.cluster, order[j], regions);
    // A missing link between the regions (cap 0) would read as "no cap": use a
    // token capacity instead, so the segment still spreads its boundary.
    if (width > 0 && j > 0) {
      options.entry_cap = width * region_pair_capacity(ctx.cluster, ctx.model,
                                                       region_of(ctx.cluster, order[j - 1], regions), here);
    }
    if (width > 0 && j + 1 < order.size()) {
      options.exit_cap = width * region_pair_capacity(ctx.cluster, ctx.model, here,
                                                      region_of(ctx.cluster, order[j + 1], regions));
    }
    if (width > 0) {
      options.entry_cap = j > 0 ? std::max(options.entry_cap, 1e-3) : 0;
      options.exit_cap = j + 1 < order.size() ? std::max(options.exit_cap, 1e-3) : 0;
    }
    options.placed = &ranges;
    options.stop = ctx.stop;
    IntervalMilpResult r = solve_interval_milp(ctx.cluster, ctx.perf, L, options);
    if (r.ranges.empty()) return {};
    ranges = std::move(r.ranges);
    start += lengths[j];
  }
  return ranges;
}

}  // namespace

void sequence_placements(
    const PlanContext& ctx, double time_budget_s, long max_nodes, const std::function<bool()>& keep_going,
    const std::function<void(const std::vector<LayerRange>&, const std::string&)>& consider) {
  // Groups: the regions; on a one-region cluster, the GPU types.
  std::vector<std::vector<int>> groups = nodes_by_region(ctx.cluster);
  const bool regions = groups.size() >= 2;
  if (!regions) groups = nodes_by_type(ctx.cluster);
  if (groups.size() < 2) return;
  const auto orders = group_orders(ctx, groups.size());
  const double budget = max_nodes > 0 ? time_budget_s
                                      : std::clamp(time_budget_s / static_cast<double>(orders.size() * groups.size()), 0.2, 3.0);
  const std::string name = regions ? "region sequence" : "GPU-type sequence";
  for (const auto& order : orders) {
    for (int width : regions ? std::vector<int>{1, 2, 3, 4} : std::vector<int>{0}) {
      if (!keep_going()) return;
      auto ranges = region_sequence(ctx, groups, order, budget, max_nodes, width);
      if (!ranges.empty()) consider(ranges, name);
    }
  }
}

}  // namespace helix
