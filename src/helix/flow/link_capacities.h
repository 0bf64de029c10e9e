// LinkCapacities: a cluster's links as planner-semantics capacities in tokens/s
// (spec §1.7, §2.12: bandwidth / token size for coordinator hops, bandwidth /
// activation size between nodes), looked up in the placement evaluator's hot loop.
//
// Why not ClusterSpec::find_link(): on a big cluster it costs two dependent cache
// misses per candidate pair (its (n+1)² index, then the Link array), and the
// evaluator tests every pair (i, j) with end_i = start_j. Here a candidate is one
// bit test in an n×n bitmap (125 KB for 1,000 nodes, L2-resident) and only an
// existing link reads its capacity, located by a popcount rank. Clusters above
// kBitmapLimit nodes fall back to find_link() to bound memory.
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"

namespace helix::flow_internal {

class LinkCapacities {
 public:
  // Keeps a pointer to `cluster` (for the fallback): it must outlive this object.
  LinkCapacities(const ClusterSpec& cluster, const ModelSpec& model);

  // Capacity of the link i -> j between nodes, or -1 if the cluster has none.
  double between(int i, int j) const {
    if (bits_.empty()) return between_slow(i, j);
    const std::size_t w = static_cast<std::size_t>(i) * words_ + static_cast<std::size_t>(j >> 6);
    const std::uint64_t bit = std::uint64_t{1} << (j & 63);
    if (!(bits_[w] & bit)) return -1.0;
    return caps_[static_cast<std::size_t>(slot(i, w, bit))];
  }
  // Capacity of coordinator -> i and of i -> coordinator, or -1 without a link.
  double from_coordinator(int i) const { return from_coordinator_[static_cast<std::size_t>(i)]; }
  double to_coordinator(int i) const { return to_coordinator_[static_cast<std::size_t>(i)]; }

 private:
  static constexpr int kBitmapLimit = 8192;

  void index_node_links();
  double between_slow(int i, int j) const;
  // Index in caps_ of the link whose bit is `bit` in word `w` of row i.
  int slot(int i, std::size_t w, std::uint64_t bit) const {
    return row_first_[static_cast<std::size_t>(i)] + rank_[w] + std::popcount(bits_[w] & (bit - 1));
  }

  const ClusterSpec* cluster_;
  double activation_bytes_;
  int n_;
  std::size_t words_;  // 64-bit words per bitmap row
  std::vector<double> from_coordinator_, to_coordinator_;
  // Row i = links out of node i: bit j set if i -> j exists. rank_[w] counts the
  // set bits of the row before word w; caps_ holds row after row in target order.
  std::vector<std::uint64_t> bits_;
  std::vector<int> rank_, row_first_;
  std::vector<double> caps_;
};

}  // namespace helix::flow_internal
