#include "helix/plan/pruning.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "helix/core/error.h"

namespace helix {
namespace {

using NodePair = std::pair<int, int>;  // (a, b) with a < b

// Candidates sorted by (bandwidth, key) descending, as Python sorts tuples with
// reverse=True. The first min_keep are kept; then, up to max_keep, those whose
// bandwidth passes the threshold (strictly above it, or at least it).
template <typename Key>
std::vector<Key> keep_best(std::vector<std::pair<double, Key>> candidates, int min_keep, int max_keep,
                           double threshold, bool strict) {
  std::sort(candidates.begin(), candidates.end(), std::greater<>());
  std::vector<Key> kept;
  for (std::size_t p = 0; p < candidates.size() && p < static_cast<std::size_t>(max_keep); ++p) {
    const double bandwidth = candidates[p].first;
    const bool passes = strict ? bandwidth > threshold : bandwidth >= threshold;
    if (p < static_cast<std::size_t>(min_keep) || passes) kept.push_back(candidates[p].second);
  }
  return kept;
}

// Bandwidth of every node pair with a link in either direction (the weaker one if both).
std::map<NodePair, double> node_pairs(const ClusterSpec& cluster) {
  std::map<NodePair, double> pairs;
  for (const Link& l : cluster.links) {
    if (l.from == kCoordinator || l.to == kCoordinator) continue;
    const NodePair key{std::min(l.from, l.to), std::max(l.from, l.to)};
    auto [it, fresh] = pairs.emplace(key, l.bandwidth_Bps);
    if (!fresh) it->second = std::min(it->second, l.bandwidth_Bps);
  }
  return pairs;
}

// §2.8 compute links: per node, its pairs by (bandwidth, "Link-a-b") descending.
std::set<NodePair> kept_node_pairs(const ClusterSpec& cluster, int min_keep, int max_keep, double threshold) {
  std::vector<std::vector<std::pair<double, std::pair<std::string, NodePair>>>> incident(
      static_cast<std::size_t>(cluster.num_nodes()));
  for (const auto& [pair, bandwidth] : node_pairs(cluster)) {
    auto entry = std::make_pair(bandwidth, std::make_pair(fmt::format("Link-{}-{}", pair.first, pair.second), pair));
    incident[static_cast<std::size_t>(pair.first)].push_back(entry);
    incident[static_cast<std::size_t>(pair.second)].push_back(entry);
  }
  std::set<NodePair> kept;
  for (auto& candidates : incident) {
    for (const auto& named : keep_best(std::move(candidates), min_keep, max_keep, threshold, false)) {
      kept.insert(named.second);
    }
  }
  return kept;
}

// §2.8 source (to_coordinator = false) or sink links: by (bandwidth, node) descending.
std::set<int> kept_coordinator_links(const ClusterSpec& cluster, bool to_coordinator, int min_keep,
                                     int max_keep, double threshold) {
  std::vector<std::pair<double, int>> candidates;
  for (const Link& l : cluster.links) {
    if (!to_coordinator && l.from == kCoordinator) candidates.emplace_back(l.bandwidth_Bps, l.to);
    if (to_coordinator && l.to == kCoordinator) candidates.emplace_back(l.bandwidth_Bps, l.from);
  }
  // The source rule is strict (> τ), the sink rule is not (>= τ), as upstream.
  const std::vector<int> kept = keep_best(std::move(candidates), min_keep, max_keep, threshold, !to_coordinator);
  return {kept.begin(), kept.end()};
}

}  // namespace

ClusterSpec prune_cluster(const ClusterSpec& cluster, int min_keep, int max_keep, double threshold_Bps) {
  if (min_keep < 0 || min_keep > max_keep) {
    fail("pruning: need 0 <= min_keep <= max_keep, got min_keep = {}, max_keep = {}", min_keep, max_keep);
  }
  const std::set<int> sources = kept_coordinator_links(cluster, false, min_keep, max_keep, threshold_Bps);
  const std::set<int> sinks = kept_coordinator_links(cluster, true, min_keep, max_keep, threshold_Bps);
  const std::set<NodePair> pairs = kept_node_pairs(cluster, min_keep, max_keep, threshold_Bps);
  auto kept = [&](const Link& l) {
    if (l.from == kCoordinator) return sources.contains(l.to);
    if (l.to == kCoordinator) return sinks.contains(l.from);
    return pairs.contains({std::min(l.from, l.to), std::max(l.from, l.to)});
  };
  ClusterSpec pruned = cluster;
  pruned.links.clear();
  for (const Link& l : cluster.links) {
    if (kept(l)) pruned.links.push_back(l);
  }
  pruned.index_links();
  return pruned;
}

}  // namespace helix
