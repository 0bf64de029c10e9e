// Re-planning a running cluster (runtime/replan.h): sub-clusters, moved-layer
// counts, and plans over the surviving nodes that cover the model, warm from
// what they hold, moving as little as the penalty makes worth it.
#include <gtest/gtest.h>

#include "helix/cluster/cluster_yaml.h"
#include "helix/core/error.h"
#include "helix/model/model_spec.h"
#include "helix/runtime/replan.h"

namespace helix::runtime {
namespace {

// Four equal machines on one fast network; LLaMA-2-7B fits on each.
ClusterSpec four_nodes() {
  return parse_cluster_yaml(R"(format: helix-cluster/1
name: four
gpu_types:
  A100: {vram: 80 GB, nic: 10 Gbps}
coordinator:
  nic: 10 Gbps
network:
  in_region: {bandwidth: 10 Gbps, latency: 0.1 ms}
nodes:
  - {name: a, gpu: A100}
  - {name: b, gpu: A100}
  - {name: c, gpu: A100}
  - {name: d, gpu: A100}
)",
                            "four");
}

TEST(Replan, LayersAddedCountsOnlyWhatIsNew) {
  EXPECT_EQ(layers_added({}, {0, 5}), 5);
  EXPECT_EQ(layers_added({0, 5}, {}), 0);
  EXPECT_EQ(layers_added({0, 5}, {0, 5}), 0);
  EXPECT_EQ(layers_added({0, 5}, {3, 8}), 3);
  EXPECT_EQ(layers_added({3, 8}, {0, 10}), 5);
  EXPECT_EQ(layers_added({0, 2}, {5, 7}), 2);
}

TEST(Replan, KeepNodesRenumbersNodesAndLinks) {
  const ClusterSpec c = four_nodes();
  std::vector<int> index;
  const ClusterSpec sub = keep_nodes(c, {1, 0, 1, 0}, &index);
  ASSERT_EQ(sub.num_nodes(), 2);
  EXPECT_EQ(sub.nodes[0].name, "a");
  EXPECT_EQ(sub.nodes[1].name, "c");
  EXPECT_EQ(index, (std::vector<int>{0, 2}));
  EXPECT_NE(sub.find_link(0, 1), nullptr);
  EXPECT_NE(sub.find_link(kCoordinator, 1), nullptr);
  for (const Link& l : sub.links) {
    EXPECT_LT(l.from, 2);
    EXPECT_LT(l.to, 2);
  }
}

TEST(Replan, TheSurvivorsCoverTheModelAndKeepWhatTheyHold) {
  const ClusterSpec c = four_nodes();
  const ModelSpec m = resolve_model("llama2-7b");
  const int L = m.num_layers;
  // Two pipelines; b (second half of the first) is lost.
  const std::vector<LayerRange> now = {{0, L / 2}, {L / 2, L}, {0, L / 2}, {L / 2, L}};
  ReplanOptions o;
  o.max_evaluations = 200;
  o.move_penalty_tps = 1.0;
  const Replan p = replan(c, m, now, {1, 0, 1, 1}, o);
  ASSERT_EQ(p.ranges.size(), 4u);
  EXPECT_TRUE(p.ranges[1].empty()) << "a lost node gets no layers";
  // Every layer is held by some survivor.
  for (int layer = 0; layer < L; ++layer) {
    bool held = false;
    for (const LayerRange& r : p.ranges) held = held || (r.start <= layer && layer < r.end);
    EXPECT_TRUE(held) << "layer " << layer;
  }
  EXPECT_GT(p.max_flow_after_tps, 0);
  EXPECT_GE(p.max_flow_after_tps, p.max_flow_before_tps);
  // The same inputs give the same plan (a fixed budget, a fixed seed).
  const Replan again = replan(c, m, now, {1, 0, 1, 1}, o);
  EXPECT_EQ(again.ranges, p.ranges);
  EXPECT_EQ(again.layers_loaded, p.layers_loaded);
}

TEST(Replan, AHeavyMovePenaltyKeepsTheCurrentPlacementWhenItAlreadyCovers) {
  const ClusterSpec c = four_nodes();
  const ModelSpec m = resolve_model("llama2-7b");
  const int L = m.num_layers;
  const std::vector<LayerRange> now = {{0, L / 2}, {L / 2, L}, {0, L / 2}, {L / 2, L}};
  ReplanOptions o;
  o.max_evaluations = 200;
  o.move_penalty_tps = 1e9;  // no throughput gain is worth loading a layer
  const Replan p = replan(c, m, now, {1, 1, 1, 1}, o);
  EXPECT_EQ(p.layers_loaded, 0) << describe_moves(c, now, p.ranges);
}

TEST(Replan, NoUsableNodeIsAnError) {
  const ClusterSpec c = four_nodes();
  const ModelSpec m = resolve_model("llama2-7b");
  EXPECT_THROW(replan(c, m, std::vector<LayerRange>(4), {0, 0, 0, 0}, {}), helix::Error);
}

TEST(Replan, DescribeMovesNamesOnlyTheNodesThatChange) {
  const ClusterSpec c = four_nodes();
  EXPECT_EQ(describe_moves(c, {{0, 3}, {3, 5}, {}, {}}, {{0, 3}, {}, {3, 5}, {}}), "b [3, 5) -> none, c none -> [3, 5)");
  EXPECT_EQ(describe_moves(c, {{0, 3}, {}, {}, {}}, {{0, 3}, {}, {}, {}}), "no layer moves");
}

}  // namespace
}  // namespace helix::runtime
