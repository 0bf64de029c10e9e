// Regional stages: swarm's equal stages dealt out region by region, in an order
// that crosses each region boundary once and avoids slow crossings.
#include "helix/served/regional_stages.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "../plan/paper_fixtures.h"
#include "helix/cluster/cluster_yaml.h"

namespace helix::served {
namespace {

struct Generated64 {
  ClusterSpec cluster = load_cluster(test::source_dir() / "examples/clusters/generated64.yaml");
  ModelSpec model = model_preset("llama2-70b");
  PerfModel perf = PerfModel::build(cluster, model);
  double prompt_bytes = 1000 * model.activation_bytes_per_token;
  std::string region_of(int node) const {
    return cluster.regions[static_cast<std::size_t>(cluster.nodes[static_cast<std::size_t>(node)].region)];
  }
};

TEST(RegionalStages, EachStageLivesInOneRegionAndEachRegionHoldsOneRunOfStages) {
  Generated64 g;
  const auto layouts = regional_stage_layouts(g.cluster, g.perf, g.model.num_layers, g.prompt_bytes, 2);
  ASSERT_FALSE(layouts.empty());
  for (const RegionalStages& layout : layouts) {
    // Equal stages: one width, every layer covered, nodes of a stage in one region.
    std::map<int, std::set<std::string>> regions_of_stage;
    std::set<int> widths;
    for (int i = 0; i < g.cluster.num_nodes(); ++i) {
      const LayerRange& r = layout.ranges[static_cast<std::size_t>(i)];
      if (r.empty()) continue;
      widths.insert(r.size());
      ASSERT_EQ(r.start % r.size(), 0) << layout.describe;
      EXPECT_LE(r.size(), g.perf.node(i).max_layers);
      regions_of_stage[r.start].insert(g.region_of(i));
    }
    ASSERT_EQ(widths.size(), 1u) << layout.describe;
    const int w = *widths.begin();
    ASSERT_EQ(static_cast<int>(regions_of_stage.size()), g.model.num_layers / w) << layout.describe;
    // Walking the stages in layer order, the region changes once per region.
    std::vector<std::string> runs;
    for (const auto& [start, regions] : regions_of_stage) {
      ASSERT_EQ(regions.size(), 1u) << layout.describe << " stage " << start;
      if (runs.empty() || runs.back() != *regions.begin()) runs.push_back(*regions.begin());
    }
    EXPECT_EQ(std::set<std::string>(runs.begin(), runs.end()).size(), runs.size()) << layout.describe;
    // The coordinator's region comes first.
    EXPECT_EQ(runs.front(), "us-east") << layout.describe;
  }
}

TEST(RegionalStages, TheCheapestOrderAvoidsTheSlowCrossing) {
  // eu-west <-> ap-south is 200 Mbps and 80 ms; every other crossing 1-2 Gbps.
  Generated64 g;
  for (const RegionalStages& layout : regional_stage_layouts(g.cluster, g.perf, g.model.num_layers, g.prompt_bytes, 1)) {
    ASSERT_EQ(layout.order_rank, 0);
    const auto eu = layout.describe.find("eu-west"), ap = layout.describe.find("ap-south");
    ASSERT_NE(eu, std::string::npos);
    ASSERT_NE(ap, std::string::npos);
    // Adjacent in the order would mean crossing the slow link.
    const std::string between = layout.describe.substr(std::min(eu, ap), std::max(eu, ap) - std::min(eu, ap));
    EXPECT_NE(between.find("us-west"), std::string::npos) << layout.describe;
  }
}

TEST(RegionalStages, StagesFollowTheSharesOfCapacityOrKv) {
  Generated64 g;
  bool by_kv = false, by_capacity = false;
  for (const RegionalStages& layout : regional_stage_layouts(g.cluster, g.perf, g.model.num_layers, g.prompt_bytes, 1)) {
    by_kv |= layout.describe.find("by KV cache") != std::string::npos;
    by_capacity |= layout.describe.find("by capacity") != std::string::npos;
    // A region's stages never outnumber its nodes.
    std::map<std::string, std::set<int>> stages;
    std::map<std::string, int> nodes;
    for (int i = 0; i < g.cluster.num_nodes(); ++i) {
      const LayerRange& r = layout.ranges[static_cast<std::size_t>(i)];
      if (r.empty()) continue;
      stages[g.region_of(i)].insert(r.start);
      ++nodes[g.region_of(i)];
    }
    for (const auto& [region, s] : stages) EXPECT_LE(static_cast<int>(s.size()), nodes[region]) << layout.describe;
  }
  EXPECT_TRUE(by_kv);
  EXPECT_TRUE(by_capacity);
}

TEST(RegionalStages, NothingOnASingleRegion) {
  ClusterSpec cluster = test::paper_cluster("single_cluster/config/cluster24.ini");
  ModelSpec model = model_preset("llama2-70b");
  PerfModel perf = PerfModel::build(cluster, model);
  EXPECT_TRUE(regional_stage_layouts(cluster, perf, model.num_layers, 1e6, 2).empty());
}

}  // namespace
}  // namespace helix::served
