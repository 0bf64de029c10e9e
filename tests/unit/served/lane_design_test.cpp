// Lane designs: groups of interchangeable nodes, realising a design into ranges,
// and the enumeration that the served planner ranks.
#include "helix/served/lane_design.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "../plan/paper_fixtures.h"

namespace helix::served {
namespace {

struct Single24 {
  ClusterSpec cluster = test::paper_cluster("single_cluster/config/cluster24.ini");
  ModelSpec model = model_preset("llama2-70b");
  PerfModel perf = PerfModel::build(cluster, model);
  std::vector<NodeGroup> groups = node_groups(cluster, perf);
  int group(const std::string& gpu) const {
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (groups[g].name == gpu) return static_cast<int>(g);
    }
    return -1;
  }
};

TEST(LaneDesign, GroupsAreTheGpuTypesOfARegion) {
  Single24 s;
  ASSERT_EQ(s.groups.size(), 3u);
  ASSERT_GE(s.group("A100"), 0);
  EXPECT_EQ(s.groups[static_cast<std::size_t>(s.group("A100"))].nodes.size(), 4u);
  EXPECT_EQ(s.groups[static_cast<std::size_t>(s.group("L4"))].nodes.size(), 8u);
  EXPECT_EQ(s.groups[static_cast<std::size_t>(s.group("T4"))].max_layers, 4);
  EXPECT_EQ(s.groups[static_cast<std::size_t>(s.group("A100"))].max_layers, 12);
}

TEST(LaneDesign, RealisingSplitsEachSegmentEvenlyOverALanesNodes) {
  Single24 s;
  LaneDesign d;
  d.segments = {{32, {{s.group("A100"), 4}}}, {80, {{s.group("L4"), 8}, {s.group("T4"), 12}}}};
  EXPECT_EQ(d.describe(s.groups), "0-32: A100x4 | 32-80: L4x8 T4x12");
  auto ranges = realise(d, s.groups, s.cluster.num_nodes());
  ASSERT_TRUE(ranges);
  std::vector<int> a100_starts, t4_sizes;
  for (int i = 0; i < s.cluster.num_nodes(); ++i) {
    const LayerRange& r = (*ranges)[static_cast<std::size_t>(i)];
    ASSERT_FALSE(r.empty()) << i;
    const std::string& gpu = s.cluster.gpu_of(i).name;
    if (gpu == "A100") {
      a100_starts.push_back(r.start);
      EXPECT_EQ(r.size(), 8);
    } else {
      EXPECT_EQ(r.size(), gpu == "L4" ? 6 : 4) << gpu;
      EXPECT_GE(r.start, 32);
    }
  }
  std::sort(a100_starts.begin(), a100_starts.end());
  EXPECT_EQ(a100_starts, (std::vector<int>{0, 8, 16, 24}));
  // Uneven: 10 layers over 4 A100 are 3, 3, 2, 2.
  d.segments = {{10, {{s.group("A100"), 4}}}, {80, {{s.group("L4"), 8}, {s.group("T4"), 12}}}};
  EXPECT_FALSE(realise(d, s.groups, s.cluster.num_nodes())) << "70 layers over 12 T4 is more than 4 each";
}

TEST(LaneDesign, RealisingRefusesWhatDoesNotFit) {
  Single24 s;
  LaneDesign d;
  d.segments = {{80, {{s.group("T4"), 12}}}};  // 80 layers over 12 T4: 7 each > 4
  EXPECT_FALSE(realise(d, s.groups, s.cluster.num_nodes()));
  d.segments = {{40, {{s.group("A100"), 4}}}, {80, {{s.group("A100"), 4}}}};  // the A100 twice
  EXPECT_FALSE(realise(d, s.groups, s.cluster.num_nodes()));
}

TEST(LaneDesign, EnumerationHoldsTheKvBalancedHeadAndLanes) {
  Single24 s;
  const auto designs = enumerate_designs(s.groups, s.perf, 80, 3, 100000);
  EXPECT_GT(designs.size(), 20u);
  bool found = false;
  for (const LaneDesign& d : designs) {
    found = found || d.describe(s.groups) == "0-32: A100x4 | 32-80: L4x8 T4x12";
    EXPECT_EQ(d.segments.back().end, 80);
  }
  // Four A100 at 8 layers leave 631,072 KV slots per layer; the tail's eight L4 at
  // 6 and twelve T4 at 4 give 641,984: the balance the enumeration looks for.
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace helix::served
