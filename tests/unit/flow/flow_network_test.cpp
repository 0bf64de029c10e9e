// The planner (spec §2.12) and simulator (spec §3) flow networks on clusters built
// in code, link selection (§2.10, §5.1), min-cut wording, and PlacementEvaluator.
#include "helix/flow/flow_network.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "helix/core/error.h"
#include "helix/core/units.h"
#include "unit/flow/flow_test_clusters.h"
#include "unit/flow/reference_max_flow.h"

namespace helix {
namespace {

using test::connect_all;
using test::flow_cluster;
using test::flow_gpu;
using test::flow_model;
using test::flow_node_perf;
using test::flow_node_perf_over_k;
using test::link;

constexpr double kActivationTps = 1e9 / 16384;  // a 1e9 B/s link between nodes, planner semantics

// Two T4-ish stages: n0 (A100) holds 0-3 at 1000 tokens/s, n1 (T4) holds 4-7 at 300.
struct TwoStage {
  ClusterSpec cluster = flow_cluster({flow_gpu("A100"), flow_gpu("T4")}, {0, 1});
  ModelSpec model = flow_model(8);
  PerfModel perf = PerfModel::from_tables(8, {flow_node_perf_over_k(4000, 8), flow_node_perf_over_k(1200, 8)});
  std::vector<LayerRange> ranges = {{0, 4}, {4, 8}};
};

int count_kind(const FlowSolution& s, ArcKind kind) {
  return static_cast<int>(std::count_if(s.arcs.begin(), s.arcs.end(), [kind](const FlowArc& a) { return a.kind == kind; }));
}

TEST(PlannerFlow, TwoStagePipelineIsBoundByTheSlowerNode) {
  TwoStage t;
  connect_all(t.cluster, 1e9);
  t.cluster.index_links();
  const FlowSolution s = solve_planner_flow(t.cluster, t.model, t.perf, t.ranges);
  EXPECT_NEAR(s.max_flow_tps, 300, 1e-9);
  ASSERT_EQ(s.arcs.size(), 5u);  // coordinator->n0, n0, n0->n1, n1, n1->coordinator
  EXPECT_EQ(s.arcs[0].kind, ArcKind::Link);
  EXPECT_EQ(s.arcs[0].from, kCoordinator);
  EXPECT_DOUBLE_EQ(s.arcs[0].capacity_tps, 1e9 / 2);
  EXPECT_EQ(s.arcs[1].kind, ArcKind::Compute);
  EXPECT_DOUBLE_EQ(s.arcs[1].capacity_tps, 1000);
  EXPECT_DOUBLE_EQ(s.arcs[2].capacity_tps, kActivationTps);
  EXPECT_DOUBLE_EQ(s.arcs[3].capacity_tps, 300);
  EXPECT_EQ(s.arcs[4].to, kCoordinator);
  for (const FlowArc& a : s.arcs) EXPECT_NEAR(a.flow_tps, 300, 1e-9);
  ASSERT_EQ(s.min_cut, std::vector<int>{3});

  const auto lines = describe_min_cut(s, t.cluster, t.ranges);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "node n1 (T4, layers 4-7): 300.00 tokens/s");
  EXPECT_EQ(lines[1], "compute-bound: 1 node binds (300.00 tokens/s)");
}

TEST(PlannerFlow, ASlowLinkBinds) {
  TwoStage t;
  link(t.cluster, kCoordinator, 0, 1e9);
  link(t.cluster, 0, 1, 1.6384e6);  // 100 activations/s
  link(t.cluster, 1, kCoordinator, 1e9);
  t.cluster.index_links();
  const FlowSolution s = solve_planner_flow(t.cluster, t.model, t.perf, t.ranges);
  EXPECT_NEAR(s.max_flow_tps, 100, 1e-9);
  ASSERT_EQ(s.min_cut, std::vector<int>{2});
  const auto lines = describe_min_cut(s, t.cluster, t.ranges);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "link n0 -> n1 (" + format_bandwidth(1.6384e6) + "): 100.00 tokens/s");
  EXPECT_EQ(lines[1], "network-bound: 1 link or NIC binds (100.00 tokens/s)");
}

TEST(PlannerFlow, ParallelStagesAddUpAndTheWeakerStageBinds) {
  ClusterSpec c = flow_cluster({flow_gpu("A100"), flow_gpu("L4")}, {0, 0, 1, 1});
  connect_all(c, 1e9);
  c.index_links();
  const PerfModel perf = PerfModel::from_tables(
      8, {flow_node_perf({600, 550, 520, 500}), flow_node_perf({450, 420, 410, 400}),
          flow_node_perf({310, 305, 302, 300}), flow_node_perf({360, 355, 352, 350})});
  const std::vector<LayerRange> ranges = {{0, 4}, {0, 4}, {4, 8}, {4, 8}};
  const FlowSolution s = solve_planner_flow(c, flow_model(8), perf, ranges);
  EXPECT_NEAR(s.max_flow_tps, 650, 1e-9);
  const auto lines = describe_min_cut(s, c, ranges);
  ASSERT_EQ(lines.size(), 2u);  // same machine type, same range: one line
  EXPECT_EQ(lines[0], "2 L4 holding layers 4-7 (n2, n3): 300.00 + 350.00 = 650.00 tokens/s");
  EXPECT_EQ(lines[1], "compute-bound: 2 nodes bind (650.00 tokens/s)");
}

// Eight L4 in one stage behind a fast A100 stage: one grouped line with the product,
// the node list cut short; a lone T4 in the same stage keeps its own line.
TEST(PlannerFlow, MinCutGroupsAlikeNodes) {
  ClusterSpec c = flow_cluster({flow_gpu("A100"), flow_gpu("L4"), flow_gpu("T4")}, {0, 1, 1, 1, 1, 1, 1, 1, 1, 2});
  connect_all(c, 1e9);
  c.index_links();
  std::vector<NodePerf> tables = {flow_node_perf_over_k(1e5, 8)};
  for (int i = 1; i <= 8; ++i) tables.push_back(flow_node_perf_over_k(2000, 8));
  tables.push_back(flow_node_perf_over_k(1000, 8));
  const PerfModel perf = PerfModel::from_tables(8, std::move(tables));
  std::vector<LayerRange> ranges(10, LayerRange{4, 8});
  ranges[0] = {0, 4};
  const FlowSolution s = solve_planner_flow(c, flow_model(8), perf, ranges);
  EXPECT_NEAR(s.max_flow_tps, 8 * 500 + 250, 1e-6);
  const auto lines = describe_min_cut(s, c, ranges);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "8 L4 holding layers 4-7 (n1, n2, n3, n4, n5, n6 and 2 more): 8 × 500.00 = 4000.00 tokens/s");
  EXPECT_EQ(lines[1], "node n9 (T4, layers 4-7): 250.00 tokens/s");
  EXPECT_EQ(lines[2], "compute-bound: 9 nodes bind (4250.00 tokens/s)");
}

// Two pipelines across regions, each bound by its slow cross-region link: one line per region pair.
TEST(PlannerFlow, MinCutGroupsLinksByRegion) {
  ClusterSpec c = flow_cluster({flow_gpu("A100")}, {0, 0, 0, 0});
  c.regions = {"east", "west"};
  c.nodes[1].region = 1;
  c.nodes[3].region = 1;
  for (int i : {0, 2}) link(c, kCoordinator, i, 1e9);
  for (int i : {1, 3}) link(c, i, kCoordinator, 1e9);
  link(c, 0, 1, 1.6384e6);
  link(c, 2, 3, 1.6384e6);
  c.index_links();
  const PerfModel perf = PerfModel::from_tables(8, std::vector<NodePerf>(4, flow_node_perf_over_k(4000, 4)));
  const std::vector<LayerRange> ranges = {{0, 4}, {4, 8}, {0, 4}, {4, 8}};
  const FlowSolution s = solve_planner_flow(c, flow_model(8), perf, ranges);
  const auto lines = describe_min_cut(s, c, ranges);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "2 links east -> west at " + format_bandwidth(1.6384e6) +
                          " each (n0 -> n1, n2 -> n3): 2 × 100.00 = 200.00 tokens/s");
  EXPECT_EQ(lines[1], "network-bound: 2 links or NICs bind (200.00 tokens/s)");
}

TEST(PlannerFlow, ComputeAndNetworkCanBindTogether) {
  // Pipeline n0 -> n1 is bound by n0 (100), pipeline n2 -> n3 by its link (100).
  ClusterSpec c = flow_cluster({flow_gpu("T4"), flow_gpu("A100")}, {0, 1, 1, 1});
  for (int i : {0, 2}) link(c, kCoordinator, i, 1e9);
  for (int i : {1, 3}) link(c, i, kCoordinator, 1e9);
  link(c, 0, 1, 1e9);
  link(c, 2, 3, 1.6384e6);
  c.index_links();
  const PerfModel perf = PerfModel::from_tables(
      8, {flow_node_perf_over_k(400, 4), flow_node_perf_over_k(4000, 4), flow_node_perf_over_k(4000, 4),
          flow_node_perf_over_k(4000, 4)});
  const std::vector<LayerRange> ranges = {{0, 4}, {4, 8}, {0, 4}, {4, 8}};
  const FlowSolution s = solve_planner_flow(c, flow_model(8), perf, ranges);
  EXPECT_NEAR(s.max_flow_tps, 200, 1e-9);
  const auto lines = describe_min_cut(s, c, ranges);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "node n0 (T4, layers 0-3): 100.00 tokens/s");
  EXPECT_EQ(lines[2], "compute and network both bind: 1 node and 1 link or NIC (200.00 tokens/s)");
}

TEST(PlannerFlow, EmptyRangesAreSkipped) {
  ClusterSpec c = flow_cluster({flow_gpu("A100"), flow_gpu("T4")}, {0, 1, 1, 1});
  connect_all(c, 1e9);
  c.index_links();
  const PerfModel perf = PerfModel::from_tables(
      8, {flow_node_perf_over_k(4000, 8), flow_node_perf_over_k(1200, 8), flow_node_perf_over_k(1200, 8),
          flow_node_perf_over_k(1200, 8)});
  const std::vector<LayerRange> ranges = {{0, 4}, {4, 8}, {0, 0}, {4, 4}};
  const FlowSolution s = solve_planner_flow(c, flow_model(8), perf, ranges);
  EXPECT_NEAR(s.max_flow_tps, 300, 1e-9);
  for (const FlowArc& a : s.arcs) {
    EXPECT_NE(a.node, 2);
    EXPECT_NE(a.node, 3);
    for (int e : {a.from, a.to}) EXPECT_TRUE(e == kCoordinator || e < 2) << e;
  }
  EXPECT_EQ(count_kind(s, ArcKind::Compute), 2);
}

TEST(PlannerFlow, NoCoordinatorLinkMeansNoFlow) {
  TwoStage t;
  link(t.cluster, 0, 1, 1e9);
  link(t.cluster, 1, kCoordinator, 1e9);
  t.cluster.index_links();
  const FlowSolution s = solve_planner_flow(t.cluster, t.model, t.perf, t.ranges);
  EXPECT_EQ(s.max_flow_tps, 0);
  EXPECT_TRUE(s.min_cut.empty());
  const auto lines = describe_min_cut(s, t.cluster, t.ranges);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("max flow is 0"), std::string::npos) << lines[0];
}

TEST(PlannerFlow, BadInputsAreErrors) {
  TwoStage t;
  connect_all(t.cluster, 1e9);
  t.cluster.index_links();
  const std::vector<LayerRange> too_few = {{0, 8}};
  EXPECT_THROW(solve_planner_flow(t.cluster, t.model, t.perf, too_few), Error);
  const std::vector<LayerRange> past_end = {{0, 4}, {4, 9}};
  EXPECT_THROW(solve_planner_flow(t.cluster, t.model, t.perf, past_end), Error);
  PlacementEvaluator ev(t.cluster, t.model, t.perf);
  EXPECT_THROW(ev.max_flow(too_few), Error);
}

// Five nodes on a 6-layer model: A 0-2, B 3-5, C 2-4, D 5, E 3.
struct LinkCase {
  ClusterSpec cluster = flow_cluster({flow_gpu("A100")}, {0, 0, 0, 0, 0});
  std::vector<LayerRange> ranges = {{0, 3}, {3, 6}, {2, 5}, {5, 6}, {3, 4}};
  LinkCase() {
    connect_all(cluster, 1e9);
    cluster.index_links();
  }
};

TEST(SelectPipelineLinks, StrictRuleInGeneratorOrder) {
  LinkCase lc;
  const std::vector<LinkPair> expected = {{kCoordinator, 0}, {0, 1}, {0, 4}, {1, kCoordinator}, {2, 3}, {3, kCoordinator}};
  EXPECT_EQ(select_pipeline_links(lc.cluster, lc.ranges, 6, {.allow_partial = false, .drop_dangling = false}), expected);
}

TEST(SelectPipelineLinks, DanglingLinksDropInOnePassEach) {
  LinkCase lc;
  // Pass 1 drops 0->4 (E has no way out); pass 2 drops 2->3 (C has no way in).
  // D -> coordinator stays: the passes are not repeated to a fixpoint (§2.10).
  const std::vector<LinkPair> expected = {{kCoordinator, 0}, {0, 1}, {1, kCoordinator}, {3, kCoordinator}};
  EXPECT_EQ(select_pipeline_links(lc.cluster, lc.ranges, 6), expected);
}

TEST(SelectPipelineLinks, PartialInferenceAddsOverlappingSuccessors) {
  LinkCase lc;
  const std::vector<LinkPair> expected = {{kCoordinator, 0}, {0, 1}, {0, 2}, {0, 4}, {1, kCoordinator},
                                          {2, 1}, {2, 3}, {3, kCoordinator}, {4, 1}, {4, 2}};
  EXPECT_EQ(select_pipeline_links(lc.cluster, lc.ranges, 6, {.allow_partial = true, .drop_dangling = false}), expected);
  EXPECT_EQ(select_pipeline_links(lc.cluster, lc.ranges, 6, {.allow_partial = true}), expected);
}

TEST(SelectPipelineLinks, OnlyLinksTheClusterHas) {
  ClusterSpec c = flow_cluster({flow_gpu("A100")}, {0, 0, 0});
  link(c, kCoordinator, 0, 1e9);
  link(c, 0, 2, 1e9);  // no 0 -> 1
  link(c, 1, kCoordinator, 1e9);
  link(c, 2, kCoordinator, 1e9);
  c.index_links();
  const std::vector<LayerRange> ranges = {{0, 2}, {2, 4}, {2, 4}};
  const std::vector<LinkPair> expected = {{kCoordinator, 0}, {0, 2}, {2, kCoordinator}};
  EXPECT_EQ(select_pipeline_links(c, ranges, 4), expected);  // 1 -> coordinator dropped: no way in
}

TEST(SimulatorFlow, NicsAndLinksChargeTokenPlusActivation) {
  TwoStage t;
  connect_all(t.cluster, 1e9);
  t.cluster.index_links();
  // Capacity (planner) is half of the throughput (simulator) here, to tell them apart.
  NodePerf slow = flow_node_perf_over_k(1200, 8);
  for (double& c : slow.capacity_tps) c /= 2;
  t.perf = PerfModel::from_tables(8, {flow_node_perf_over_k(4000, 8), slow});
  const auto links = select_pipeline_links(t.cluster, t.ranges, 8);
  const FlowSolution s = solve_simulator_flow(t.cluster, t.model, t.perf, t.ranges, links);
  EXPECT_NEAR(s.max_flow_tps, 300, 1e-9);
  EXPECT_NEAR(solve_planner_flow(t.cluster, t.model, t.perf, t.ranges).max_flow_tps, 150, 1e-9);

  auto find = [&](ArcKind kind, int node, int from = kCoordinator, int to = kCoordinator) {
    for (const FlowArc& a : s.arcs) {
      if (a.kind == kind && a.node == node && a.from == from && a.to == to) return a.capacity_tps;
    }
    ADD_FAILURE() << "arc not found";
    return -1.0;
  };
  EXPECT_DOUBLE_EQ(find(ArcKind::CoordinatorOut, kCoordinator), 1.25e9 / 2);
  EXPECT_DOUBLE_EQ(find(ArcKind::CoordinatorIn, kCoordinator), 1.25e9 / 2);
  EXPECT_DOUBLE_EQ(find(ArcKind::NicIn, 0), 1.25e9 / 2);  // only neighbour in: the coordinator
  EXPECT_DOUBLE_EQ(find(ArcKind::NicOut, 0), 1.25e9 / 16386);
  EXPECT_DOUBLE_EQ(find(ArcKind::NicIn, 1), 1.25e9 / 16386);
  EXPECT_DOUBLE_EQ(find(ArcKind::NicOut, 1), 1.25e9 / 2);  // only neighbour out: the coordinator
  EXPECT_DOUBLE_EQ(find(ArcKind::Compute, 1), 300);
  EXPECT_DOUBLE_EQ(find(ArcKind::Link, -1, kCoordinator, 0), 1e9 / 2);
  EXPECT_DOUBLE_EQ(find(ArcKind::Link, -1, 0, 1), 1e9 / 16386);
  EXPECT_DOUBLE_EQ(find(ArcKind::Link, -1, 1, kCoordinator), 1e9 / 2);
}

TEST(SimulatorFlow, ANodeNicCanBind) {
  TwoStage t;
  t.cluster.gpu_types[1].nic_in_Bps = 1.6386e6;  // 100 tokens/s of token + activation
  connect_all(t.cluster, 1e9);
  t.cluster.index_links();
  const auto links = select_pipeline_links(t.cluster, t.ranges, 8);
  const FlowSolution s = solve_simulator_flow(t.cluster, t.model, t.perf, t.ranges, links);
  EXPECT_NEAR(s.max_flow_tps, 100, 1e-9);
  const auto lines = describe_min_cut(s, t.cluster, t.ranges);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "receiving NIC of node n1 (T4, " + format_bandwidth(1.6386e6) + "): 100.00 tokens/s");
  EXPECT_EQ(lines[1], "network-bound: 1 link or NIC binds (100.00 tokens/s)");
}

TEST(SimulatorFlow, PartialInferenceLinksCarryFlow) {
  // A 0-3 (100), B 2-5 (100), C 4-5 (50). Strictly only A -> C continues; with
  // partial inference A -> B also does (B runs only layers 4-5).
  ClusterSpec c = flow_cluster({flow_gpu("A100")}, {0, 0, 0});
  connect_all(c, 1e9);
  c.index_links();
  const PerfModel perf = PerfModel::from_tables(
      6, {flow_node_perf({100, 100, 100, 100}), flow_node_perf({100, 100, 100, 100}), flow_node_perf({50, 50})});
  const std::vector<LayerRange> ranges = {{0, 4}, {2, 6}, {4, 6}};
  const ModelSpec model = flow_model(6);
  EXPECT_NEAR(solve_planner_flow(c, model, perf, ranges).max_flow_tps, 50, 1e-9);
  const auto strict = select_pipeline_links(c, ranges, 6);
  EXPECT_NEAR(solve_simulator_flow(c, model, perf, ranges, strict).max_flow_tps, 50, 1e-9);
  const auto partial = select_pipeline_links(c, ranges, 6, {.allow_partial = true});
  const std::vector<LinkPair> expected = {{kCoordinator, 0}, {0, 1}, {0, 2}, {1, kCoordinator}, {2, kCoordinator}};
  EXPECT_EQ(partial, expected);
  EXPECT_NEAR(solve_simulator_flow(c, model, perf, ranges, partial).max_flow_tps, 100, 1e-9);
}

TEST(SimulatorFlow, UnknownLinksAreErrorsAndEmptyNodesAreLeftOut) {
  TwoStage t;
  link(t.cluster, kCoordinator, 0, 1e9);
  link(t.cluster, 0, 1, 1e9);
  t.cluster.index_links();
  const std::vector<LinkPair> missing = {{kCoordinator, 0}, {1, kCoordinator}};
  EXPECT_THROW(solve_simulator_flow(t.cluster, t.model, t.perf, t.ranges, missing), Error);
  const std::vector<LayerRange> one_empty = {{0, 4}, {4, 4}};
  const std::vector<LinkPair> links = {{kCoordinator, 0}, {0, 1}};
  const FlowSolution s = solve_simulator_flow(t.cluster, t.model, t.perf, one_empty, links);
  EXPECT_EQ(s.max_flow_tps, 0);
  for (const FlowArc& a : s.arcs) EXPECT_NE(a.to, 1);
}

TEST(SimulatorFlow, SameInputSameFlows) {
  ClusterSpec c = flow_cluster({flow_gpu("A100"), flow_gpu("T4")}, {0, 1, 1, 0, 1, 1});
  connect_all(c, 1e9);
  c.index_links();
  std::vector<NodePerf> nodes;
  for (int i = 0; i < 6; ++i) nodes.push_back(flow_node_perf_over_k(1000 + 137 * i, 6));
  const PerfModel perf = PerfModel::from_tables(6, nodes);
  const std::vector<LayerRange> ranges = {{0, 3}, {0, 2}, {2, 6}, {3, 6}, {0, 3}, {3, 6}};
  const auto links = select_pipeline_links(c, ranges, 6);
  const FlowSolution a = solve_simulator_flow(c, flow_model(6), perf, ranges, links);
  const FlowSolution b = solve_simulator_flow(c, flow_model(6), perf, ranges, links);
  ASSERT_EQ(a.arcs.size(), b.arcs.size());
  for (std::size_t i = 0; i < a.arcs.size(); ++i) EXPECT_EQ(a.arcs[i].flow_tps, b.arcs[i].flow_tps);
  EXPECT_EQ(a.min_cut, b.min_cut);
}

// --- PlacementEvaluator on random clusters and placements ------------------------

struct RandomCase {
  ClusterSpec cluster;
  PerfModel perf;
  ModelSpec model;
};

RandomCase random_case(std::mt19937_64& rng, int n, int layers) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  RandomCase rc{flow_cluster({flow_gpu("A100"), flow_gpu("L4"), flow_gpu("T4")}, {}), {}, flow_model(layers)};
  std::vector<NodePerf> nodes;
  for (int i = 0; i < n; ++i) {
    const int type = static_cast<int>(unit(rng) * 3);
    rc.cluster.nodes.push_back(ComputeNode{"n" + std::to_string(i), type, 0});
    nodes.push_back(flow_node_perf_over_k(500 + 3000 * unit(rng), 2 + static_cast<int>(unit(rng) * (layers - 1))));
  }
  for (int a = kCoordinator; a < n; ++a) {
    for (int b = kCoordinator; b < n; ++b) {
      // Mixed speeds: mostly fast, some slow enough to bind.
      if (a != b && unit(rng) < 0.7) link(rc.cluster, a, b, unit(rng) < 0.2 ? 1e6 + 4e7 * unit(rng) : 1e9);
    }
  }
  rc.cluster.index_links();
  rc.perf = PerfModel::from_tables(layers, nodes);
  return rc;
}

// Mostly staged (stages of 3, 4 or 6 layers, so that flows are usually positive),
// otherwise random intervals; some nodes empty.
std::vector<LayerRange> random_ranges(std::mt19937_64& rng, const RandomCase& rc) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int layers = rc.model.num_layers;  // 12
  const bool staged = unit(rng) < 0.7;
  const int stage = std::vector<int>{3, 4, 6}[static_cast<std::size_t>(unit(rng) * 3)];
  std::vector<LayerRange> ranges;
  for (int i = 0; i < rc.cluster.num_nodes(); ++i) {
    const int max_k = std::min(rc.perf.node(i).max_layers, layers);
    if (unit(rng) < 0.1) {
      ranges.push_back({0, 0});
    } else if (staged && stage <= max_k) {
      const int s = stage * static_cast<int>(unit(rng) * (layers / stage));
      ranges.push_back({s, s + stage});
    } else {
      const int s = static_cast<int>(unit(rng) * layers);
      const int k = 1 + static_cast<int>(unit(rng) * std::min(max_k, layers - s));
      ranges.push_back({s, s + k});
    }
  }
  return ranges;
}

// The planner graph rebuilt from the FlowSolution's arcs, for the reference.
test::Graph reference_graph(const FlowSolution& s, int n) {
  auto in = [](int e) { return e == kCoordinator ? 1 : 2 + 2 * e; };   // into the sink
  auto out = [](int e) { return e == kCoordinator ? 0 : 3 + 2 * e; };  // out of the source
  test::Graph g{2 + 2 * n, {}};
  for (const FlowArc& a : s.arcs) {
    if (a.kind == ArcKind::Compute) g.arcs.push_back({in(a.node), out(a.node), a.capacity_tps});
    if (a.kind == ArcKind::Link) g.arcs.push_back({out(a.from), in(a.to), a.capacity_tps});
  }
  return g;
}

// Through every node, flow in = flow on its compute arc = flow out.
void expect_node_conservation(const FlowSolution& s, int n) {
  std::vector<double> in(static_cast<std::size_t>(n), 0), through(in), out(in);
  for (const FlowArc& a : s.arcs) {
    if (a.kind == ArcKind::Compute) through[static_cast<std::size_t>(a.node)] += a.flow_tps;
    if (a.kind != ArcKind::Link) continue;
    if (a.to != kCoordinator) in[static_cast<std::size_t>(a.to)] += a.flow_tps;
    if (a.from != kCoordinator) out[static_cast<std::size_t>(a.from)] += a.flow_tps;
    EXPECT_LE(a.flow_tps, a.capacity_tps);
  }
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_NEAR(in[i], through[i], 1e-6);
    EXPECT_NEAR(out[i], through[i], 1e-6);
  }
}

TEST(PlacementEvaluator, EqualsSolvePlannerFlowOnRandomPlacements) {
  std::mt19937_64 rng(20250325);
  int positive = 0;
  for (int c = 0; c < 6; ++c) {
    const RandomCase rc = random_case(rng, 6 + 3 * c, 12);
    PlacementEvaluator ev(rc.cluster, rc.model, rc.perf);
    for (int p = 0; p < 40; ++p) {
      const auto ranges = random_ranges(rng, rc);
      const FlowSolution s = solve_planner_flow(rc.cluster, rc.model, rc.perf, ranges);
      const double value = ev.max_flow(ranges);
      ASSERT_EQ(value, s.max_flow_tps) << "case " << c << " placement " << p;
      const test::Graph g = reference_graph(s, rc.cluster.num_nodes());
      ASSERT_NEAR(value, test::edmonds_karp(g, 0, 1), 1e-6) << "case " << c << " placement " << p;
      double cut = 0;
      for (int a : s.min_cut) cut += s.arcs[static_cast<std::size_t>(a)].capacity_tps;
      EXPECT_NEAR(cut, value, 1e-6);
      expect_node_conservation(s, rc.cluster.num_nodes());
      positive += value > 0;
    }
  }
  EXPECT_GT(positive, 60);  // the generator does exercise non-trivial flows
}

// The planner network's links (buckets + bitmap) against select_pipeline_links
// (all pairs + find_link): same links, same order. 150 nodes: multi-word bitmap rows.
TEST(PlannerFlow, LinksMatchSelectPipelineLinksOnABigCluster) {
  std::mt19937_64 rng(7);
  const RandomCase rc = random_case(rng, 150, 12);
  for (int p = 0; p < 10; ++p) {
    const auto ranges = random_ranges(rng, rc);
    const FlowSolution s = solve_planner_flow(rc.cluster, rc.model, rc.perf, ranges);
    std::vector<LinkPair> used;
    for (const FlowArc& a : s.arcs) {
      if (a.kind == ArcKind::Link) used.emplace_back(a.from, a.to);
    }
    EXPECT_GT(used.size(), 50u);
    EXPECT_EQ(used, select_pipeline_links(rc.cluster, ranges, 12, {.allow_partial = false, .drop_dangling = false}));
    for (const FlowArc& a : s.arcs) {
      if (a.kind != ArcKind::Link) continue;
      const double bytes = a.from == kCoordinator || a.to == kCoordinator ? 2 : 16384;
      EXPECT_EQ(a.capacity_tps, rc.cluster.find_link(a.from, a.to)->bandwidth_Bps / bytes);
    }
  }
}

TEST(PlacementEvaluator, MovesAndReuses) {
  TwoStage t;
  connect_all(t.cluster, 1e9);
  t.cluster.index_links();
  PlacementEvaluator a(t.cluster, t.model, t.perf);
  PlacementEvaluator b = std::move(a);
  EXPECT_NEAR(b.max_flow(t.ranges), 300, 1e-9);
  const std::vector<LayerRange> swapped = {{4, 8}, {0, 4}};
  EXPECT_NEAR(b.max_flow(swapped), 300, 1e-9);  // the T4 first: still 300
  const std::vector<LayerRange> whole = {{0, 8}, {0, 0}};
  EXPECT_NEAR(b.max_flow(whole), 500, 1e-9);  // A100 alone: 4000 / 8
}

}  // namespace
}  // namespace helix
