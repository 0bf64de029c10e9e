// prune_cluster reproduces the paper's published pruned clusters exactly (planner
// spec §2.8) and follows its tie-break and threshold rules.
#include "helix/plan/pruning.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "helix/core/error.h"
#include "paper_fixtures.h"

namespace helix {
namespace {

using LinkSet = std::set<std::pair<int, int>>;

LinkSet link_set(const ClusterSpec& cluster) {
  LinkSet links;
  for (const Link& l : cluster.links) links.insert({l.from, l.to});
  return links;
}

struct Counts {
  int source = 0, sink = 0, pairs = 0;
};

Counts count(const ClusterSpec& cluster) {
  Counts c;
  for (const Link& l : cluster.links) {
    if (l.from == kCoordinator) ++c.source;
    else if (l.to == kCoordinator) ++c.sink;
    else if (l.from < l.to) ++c.pairs;
  }
  return c;
}

struct PublishedPruning {
  const char* name;
  const char* config_dir;
  const char* cluster;
  const char* pruned;
  int pairs;
};

class PublishedPruned : public ::testing::TestWithParam<PublishedPruning> {};

TEST_P(PublishedPruned, EqualsThePaperFile) {
  const PublishedPruning& c = GetParam();
  const std::string dir = c.config_dir;
  const ClusterSpec full = test::paper_cluster(dir + "/" + c.cluster);
  const ClusterSpec published = test::paper_cluster(c.pruned, dir);
  const ClusterSpec pruned = prune_cluster(full, 12, 12, 1);
  EXPECT_EQ(link_set(pruned), link_set(published));
  const Counts n = count(pruned);
  EXPECT_EQ(n.source, 12);
  EXPECT_EQ(n.sink, 12);
  EXPECT_EQ(n.pairs, c.pairs);
  // Bandwidths and latencies are carried over untouched.
  for (const Link& l : pruned.links) {
    const Link* original = full.find_link(l.from, l.to);
    ASSERT_NE(original, nullptr);
    EXPECT_EQ(l.bandwidth_Bps, original->bandwidth_Bps);
    EXPECT_EQ(l.latency_s, original->latency_s);
  }
  EXPECT_EQ(pruned.num_nodes(), full.num_nodes());
}

INSTANTIATE_TEST_SUITE_P(
    Paper, PublishedPruned,
    ::testing::Values(
        PublishedPruning{"three_region_24", "distributed_clusters/config", "3cluster24.ini",
                         "distributed_clusters/layout_llama70b/ilp/pruned_cluster.ini", 163},
        PublishedPruning{"high_het_42", "high_heterogeneity/config", "cluster42.ini",
                         "high_heterogeneity/layout_llama70b/ilp/pruned_cluster.ini", 426}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Pruning, UniformBandwidthKeepsTheHighestIndicesForTheCoordinator) {
  // cluster42 has one bandwidth everywhere: the tie-break keeps nodes 30..41 (§2.8).
  const ClusterSpec pruned = prune_cluster(test::paper_cluster("high_heterogeneity/config/cluster42.ini"), 12, 12, 1);
  for (const Link& l : pruned.links) {
    if (l.from == kCoordinator) {
      EXPECT_GE(l.to, 30);
    }
    if (l.to == kCoordinator) {
      EXPECT_GE(l.from, 30);
    }
  }
}

// Three nodes; every link 100 B/s except where noted.
ClusterSpec small_cluster(double source_bw, double sink_bw) {
  ClusterSpec c;
  c.gpu_types.push_back(GpuType{"G", 1e9, 1e9, 1e9, 1e9, 0, 0, "", ""});
  c.regions = {"r"};
  for (int i = 0; i < 3; ++i) c.nodes.push_back({"ComputeNode-" + std::to_string(i), 0, 0});
  for (int i = 0; i < 3; ++i) {
    c.links.push_back({kCoordinator, i, source_bw, 0});
    c.links.push_back({i, kCoordinator, sink_bw, 0});
    for (int j = 0; j < 3; ++j) {
      if (i != j) c.links.push_back({i, j, 100, 0});
    }
  }
  c.index_links();
  return c;
}

TEST(Pruning, SourceThresholdIsStrictSinkAndComputeAreNot) {
  // min_keep 0: everything is decided by the threshold, equal to every bandwidth.
  const Counts n = count(prune_cluster(small_cluster(100, 100), 0, 3, 100));
  EXPECT_EQ(n.source, 0);  // 100 > 100 fails
  EXPECT_EQ(n.sink, 3);    // 100 >= 100 holds
  EXPECT_EQ(n.pairs, 3);
}

TEST(Pruning, ComputeTieBreakUsesTheLinkNameAsAString) {
  // 12 nodes, all links equal: node 0 keeps one pair, the largest name among
  // "Link-0-1" .. "Link-0-11" as strings: "Link-0-9".
  ClusterSpec c;
  c.gpu_types.push_back(GpuType{"G", 1e9, 1e9, 1e9, 1e9, 0, 0, "", ""});
  c.regions = {"r"};
  for (int i = 0; i < 12; ++i) c.nodes.push_back({"ComputeNode-" + std::to_string(i), 0, 0});
  for (int i = 0; i < 12; ++i) {
    for (int j = 0; j < 12; ++j) {
      if (i != j) c.links.push_back({i, j, 5, 0});
    }
  }
  c.index_links();
  const ClusterSpec pruned = prune_cluster(c, 1, 1, 1e9);
  EXPECT_NE(pruned.find_link(0, 9), nullptr);
  EXPECT_NE(pruned.find_link(9, 0), nullptr);
  EXPECT_EQ(pruned.find_link(0, 11), nullptr);
  EXPECT_EQ(pruned.find_link(0, 1), nullptr);
}

TEST(Pruning, KeptLinksAreTheUnionOverNodes) {
  // Star: node 0 is every other node's best neighbour, so it keeps 11 pairs
  // although max_keep is 1.
  ClusterSpec c;
  c.gpu_types.push_back(GpuType{"G", 1e9, 1e9, 1e9, 1e9, 0, 0, "", ""});
  c.regions = {"r"};
  for (int i = 0; i < 12; ++i) c.nodes.push_back({"ComputeNode-" + std::to_string(i), 0, 0});
  for (int i = 0; i < 12; ++i) {
    for (int j = 0; j < 12; ++j) {
      if (i != j) c.links.push_back({i, j, (i == 0 || j == 0) ? 50.0 : 5.0, 0});
    }
  }
  c.index_links();
  const ClusterSpec pruned = prune_cluster(c, 1, 1, 1e9);
  EXPECT_EQ(count(pruned).pairs, 11);
  for (int j = 1; j < 12; ++j) EXPECT_NE(pruned.find_link(0, j), nullptr);
}

TEST(Pruning, RejectsBadKeepCounts) {
  const ClusterSpec c = small_cluster(100, 100);
  EXPECT_THROW(prune_cluster(c, 3, 2, 1), Error);
  EXPECT_THROW(prune_cluster(c, -1, 2, 1), Error);
}

}  // namespace
}  // namespace helix
