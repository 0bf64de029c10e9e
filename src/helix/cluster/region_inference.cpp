#include "helix/cluster/region_inference.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

namespace helix {
namespace {

class UnionFind {
 public:
  explicit UnionFind(int n) : parent_(static_cast<std::size_t>(n)) {
    std::iota(parent_.begin(), parent_.end(), 0);
  }
  int root(int x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  // Keeps the smaller index as the root, so roots are each set's lowest node.
  void join(int a, int b) {
    a = root(a);
    b = root(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<int> parent_;
};

bool is_compute_link(const Link& l) { return l.from != kCoordinator && l.to != kCoordinator; }

double fast_threshold(const ClusterSpec& cluster) {
  double compute_max = 0;
  double any_max = 0;
  for (const auto& l : cluster.links) {
    any_max = std::max(any_max, l.bandwidth_Bps);
    if (is_compute_link(l)) compute_max = std::max(compute_max, l.bandwidth_Bps);
  }
  return (compute_max > 0 ? compute_max : any_max) / 2;
}

// Index of the region the coordinator joins, or -1 if none of its links is fast.
int coordinator_region(const ClusterSpec& cluster, double threshold) {
  std::vector<int> fast_links(cluster.regions.size(), 0);
  for (const auto& l : cluster.links) {
    if (is_compute_link(l) || l.bandwidth_Bps < threshold) continue;
    int node = l.from == kCoordinator ? l.to : l.from;
    ++fast_links[cluster.nodes[node].region];
  }
  auto best = std::max_element(fast_links.begin(), fast_links.end());
  if (best == fast_links.end() || *best == 0) return -1;
  return static_cast<int>(best - fast_links.begin());
}

}  // namespace

void infer_regions(ClusterSpec& cluster) {
  const int n = cluster.num_nodes();
  const double threshold = fast_threshold(cluster);
  UnionFind sets(n);
  for (const auto& l : cluster.links) {
    if (is_compute_link(l) && l.bandwidth_Bps >= threshold) sets.join(l.from, l.to);
  }
  // Number the regions in order of their lowest node (= the union-find root).
  std::vector<int> region_of_root(static_cast<std::size_t>(n), -1);
  cluster.regions.clear();
  for (int i = 0; i < n; ++i) {
    int& r = region_of_root[sets.root(i)];
    if (r < 0) {
      r = static_cast<int>(cluster.regions.size());
      cluster.regions.push_back("region-" + std::to_string(r));
    }
    cluster.nodes[i].region = r;
  }
  int coord = coordinator_region(cluster, threshold);
  if (coord < 0) {
    coord = static_cast<int>(cluster.regions.size());
    cluster.regions.push_back("coordinator");
  }
  cluster.coordinator.region = coord;
}

}  // namespace helix
