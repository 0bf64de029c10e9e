#include "helix/served/regional_stages.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

namespace helix::served {
namespace {

// What crossing from `a`'s members to `b`'s costs (kCoordinator stands for the
// coordinator), averaged over their links: the latency, plus sending a mean
// prompt's activations, which the decodes behind it wait for (a 200 Mbps link
// spends 0.6 s on a 1000-token prompt of LLaMA-2-70B). A pair without links
// costs 10 s, which ranks it last.
double crossing_cost(const ClusterSpec& cluster, const std::vector<int>& a, const std::vector<int>& b,
                     double prompt_bytes) {
  double sum = 0;
  int count = 0;
  for (int x : a) {
    for (int y : b) {
      if (x == y) continue;
      const Link* l = cluster.find_link(x, y);
      if (l == nullptr || !(l->bandwidth_Bps > 0)) continue;
      sum += l->latency_s + prompt_bytes / l->bandwidth_Bps;
      ++count;
    }
  }
  return count > 0 ? sum / count : 10.0;
}

std::vector<int> usable_widths(const PerfModel& perf, int num_layers) {
  int narrowest = num_layers, widest = 0;
  for (int i = 0; i < perf.num_nodes(); ++i) {
    const int k = perf.node(i).max_layers;
    if (k < 1) continue;
    narrowest = std::min(narrowest, k);
    widest = std::max(widest, k);
  }
  std::vector<int> out;
  int first = 0;
  for (int w = narrowest; w >= 1 && first == 0; --w) {
    if (num_layers % w == 0) first = w;
  }
  if (first == 0) return out;
  for (int w = first; w <= widest && out.size() < 3; ++w) {
    if (num_layers % w == 0) out.push_back(w);
  }
  return out;
}

// Stages per region in proportion to `weight`, at least one each (while there
// are stages) and no more than the region has nodes.
std::vector<int> apportion(int stages, const std::vector<double>& weight, const std::vector<int>& room) {
  const double total = std::accumulate(weight.begin(), weight.end(), 0.0);
  std::vector<int> s(weight.size(), 0);
  for (std::size_t r = 0; r < s.size(); ++r) {
    s[r] = std::min(room[r], std::max(1, static_cast<int>(std::floor(stages * weight[r] / total))));
  }
  auto sum = [&] { return std::accumulate(s.begin(), s.end(), 0); };
  while (sum() > stages) {  // take from the region with the most stages per weight
    std::size_t pick = s.size();
    for (std::size_t r = 0; r < s.size(); ++r) {
      if (s[r] > 1 && (pick == s.size() || s[r] / weight[r] > s[pick] / weight[pick])) pick = r;
    }
    if (pick == s.size()) return {};
    --s[pick];
  }
  while (sum() < stages) {  // give to the region with the fewest stages per weight
    std::size_t pick = s.size();
    for (std::size_t r = 0; r < s.size(); ++r) {
      if (s[r] < room[r] && (pick == s.size() || s[r] / weight[r] < s[pick] / weight[pick])) pick = r;
    }
    if (pick == s.size()) return {};
    ++s[pick];
  }
  return s;
}

// Region orders that start at the coordinator's region, cheapest round trip first.
std::vector<std::vector<int>> region_orders(const ClusterSpec& cluster, const std::vector<std::vector<int>>& members,
                                            double prompt_bytes, std::size_t max_orders) {
  const std::size_t R = members.size();
  std::vector<std::vector<double>> lat(R, std::vector<double>(R, 0));
  std::vector<double> from_coord(R), to_coord(R);
  for (std::size_t a = 0; a < R; ++a) {
    from_coord[a] = crossing_cost(cluster, {kCoordinator}, members[a], prompt_bytes);
    // Results go back as token ids: latency only.
    to_coord[a] = crossing_cost(cluster, members[a], {kCoordinator}, 0);
    for (std::size_t b = 0; b < R; ++b) lat[a][b] = a == b ? 0 : crossing_cost(cluster, members[a], members[b], prompt_bytes);
  }
  auto cost = [&](const std::vector<int>& order) {
    double c = from_coord[static_cast<std::size_t>(order.front())] + to_coord[static_cast<std::size_t>(order.back())];
    for (std::size_t i = 1; i < order.size(); ++i) {
      c += lat[static_cast<std::size_t>(order[i - 1])][static_cast<std::size_t>(order[i])];
    }
    return c;
  };
  std::size_t home = 0;
  for (std::size_t r = 0; r < R; ++r) {
    if (from_coord[r] + to_coord[r] < from_coord[home] + to_coord[home]) home = r;
  }
  std::vector<int> rest;
  for (std::size_t r = 0; r < R; ++r) {
    if (r != home) rest.push_back(static_cast<int>(r));
  }
  std::vector<std::pair<double, std::vector<int>>> ranked;
  if (R <= 6) {
    do {
      std::vector<int> order{static_cast<int>(home)};
      order.insert(order.end(), rest.begin(), rest.end());
      ranked.emplace_back(cost(order), std::move(order));
    } while (std::next_permutation(rest.begin(), rest.end()));
  } else {
    std::vector<int> order{static_cast<int>(home)};
    while (!rest.empty()) {
      auto next = std::min_element(rest.begin(), rest.end(), [&](int a, int b) {
        return lat[static_cast<std::size_t>(order.back())][static_cast<std::size_t>(a)] <
               lat[static_cast<std::size_t>(order.back())][static_cast<std::size_t>(b)];
      });
      order.push_back(*next);
      rest.erase(next);
    }
    ranked.emplace_back(cost(order), std::move(order));
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::vector<int>> out;
  for (auto& [c, order] : ranked) {
    if (out.size() == max_orders) break;
    out.push_back(std::move(order));
  }
  return out;
}

}  // namespace

std::vector<RegionalStages> regional_stage_layouts(const ClusterSpec& cluster, const PerfModel& perf, int num_layers,
                                                   double prompt_bytes, std::size_t max_orders) {
  std::vector<RegionalStages> out;
  if (cluster.regions.size() < 2) return out;
  const std::vector<int> widths = usable_widths(perf, num_layers);
  for (std::size_t width_rank = 0; width_rank < widths.size(); ++width_rank) {
    const int w = widths[width_rank];
    // The regions that have nodes able to hold w layers, and those nodes.
    std::vector<int> region_of_slot;
    std::vector<std::vector<int>> members;
    for (std::size_t r = 0; r < cluster.regions.size(); ++r) {
      std::vector<int> nodes;
      for (int i = 0; i < cluster.num_nodes(); ++i) {
        if (cluster.nodes[static_cast<std::size_t>(i)].region == static_cast<int>(r) && perf.node(i).max_layers >= w) {
          nodes.push_back(i);
        }
      }
      if (!nodes.empty()) members.push_back(std::move(nodes)), region_of_slot.push_back(static_cast<int>(r));
    }
    const int stages = num_layers / w;
    if (members.size() < 2 || static_cast<int>(members.size()) > stages) continue;
    std::vector<int> room;
    std::vector<double> compute, kv;
    for (const auto& m : members) {
      room.push_back(static_cast<int>(m.size()));
      double c = 0, k = 0;
      for (int i : m) c += perf.capacity(i, w), k += perf.node(i).kv_capacity[static_cast<std::size_t>(w - 1)] / w;
      compute.push_back(c);
      kv.push_back(k);
    }
    for (const auto& [mode, weight] : {std::pair{"capacity", compute}, std::pair{"KV cache", kv}}) {
      const std::vector<int> share = apportion(stages, weight, room);
      if (share.empty()) continue;
      const std::vector<std::vector<int>> orders = region_orders(cluster, members, prompt_bytes, max_orders);
      for (std::size_t order_rank = 0; order_rank < orders.size(); ++order_rank) {
        const std::vector<int>& order = orders[order_rank];
        RegionalStages layout;
        layout.width_rank = static_cast<int>(width_rank);
        layout.order_rank = static_cast<int>(order_rank);
        layout.ranges.assign(static_cast<std::size_t>(cluster.num_nodes()), LayerRange{});
        layout.describe = fmt::format("w={} by {}:", w, mode);
        int first_stage = 0;
        for (int slot : order) {
          const auto s = static_cast<std::size_t>(slot);
          // Swarm within the region: strongest nodes first join its weakest stage.
          std::vector<std::pair<double, int>> items;
          for (int i : members[s]) items.emplace_back(perf.capacity(i, w), i);
          std::sort(items.begin(), items.end(), std::greater<>());
          std::vector<double> stage_capacity(static_cast<std::size_t>(share[s]), 0.0);
          for (const auto& [capacity, node] : items) {
            auto weakest = std::min_element(stage_capacity.begin(), stage_capacity.end());
            const int stage = first_stage + static_cast<int>(weakest - stage_capacity.begin());
            layout.ranges[static_cast<std::size_t>(node)] = {stage * w, (stage + 1) * w};
            *weakest += capacity;
          }
          first_stage += share[s];
          layout.describe += fmt::format(" {} {}", cluster.regions[static_cast<std::size_t>(region_of_slot[s])], share[s]);
        }
        out.push_back(std::move(layout));
      }
    }
  }
  return out;
}

}  // namespace helix::served
