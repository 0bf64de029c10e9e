// check_placement (placement_check.h): valid on every published placement and on
// every baseline planner's output; each hand-broken placement or flow is caught.
#include "helix/plan/placement_check.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "helix/cluster/paper_import.h"
#include "helix/core/error.h"
#include "helix/flow/flow_network.h"
#include "helix/plan/planner.h"
#include "paper_fixtures.h"
#include "unit/flow/flow_test_clusters.h"

namespace helix {
namespace {

std::string joined(const std::vector<std::string>& problems) {
  std::string text;
  for (const auto& p : problems) text += "  " + p + "\n";
  return text;
}

// True if some problem contains `needle`.
bool mentions(const std::vector<std::string>& problems, const std::string& needle) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(needle) != std::string::npos; });
}

struct PublishedCase {
  const char* cluster;   // a config .ini, or a simulator_cluster.ini when `simulator` is set
  const char* solution;
  const char* model;
  bool overcommit = false;  // the paper's hand-written separate pipelines overfill nodes
  bool simulator = false;
};

ClusterSpec load_cluster(const PublishedCase& c) {
  if (c.simulator) return import_paper_simulator_cluster(test::artifact(c.cluster)).cluster;
  return test::paper_cluster(c.cluster);
}

class PublishedPlacement : public ::testing::TestWithParam<PublishedCase> {};

TEST_P(PublishedPlacement, IsValid) {
  const PublishedCase& c = GetParam();
  ClusterSpec cluster = load_cluster(c);
  ModelSpec model = model_preset(c.model);
  PerfOptions options;
  options.allow_overcommit = c.overcommit;
  PerfModel perf = PerfModel::build(cluster, model, options);
  Placement placement = test::paper_placement(c.solution, cluster, model);
  FlowSolution flow = solve_planner_flow(cluster, model, perf, placement.ranges);
  const auto problems = check_placement(cluster, model, perf, placement, flow);
  EXPECT_TRUE(problems.empty()) << c.solution << ":\n" << joined(problems);
}

constexpr const char* kSingle = "single_cluster/config/cluster24.ini";
constexpr const char* kThree = "distributed_clusters/config/3cluster24.ini";
constexpr const char* kHet = "high_heterogeneity/config/cluster42.ini";
constexpr const char* kHetSeparate = "high_heterogeneity/layout_llama70b/separate/";

INSTANTIATE_TEST_SUITE_P(
    Paper, PublishedPlacement,
    ::testing::Values(
        PublishedCase{kSingle, "single_cluster/layout_llama70b/ilp/ilp_sol.ini", "llama2-70b"},
        PublishedCase{kSingle, "single_cluster/layout_llama70b/petals/petals_sol.ini", "llama2-70b"},
        PublishedCase{kSingle, "single_cluster/layout_llama70b/swarm/swarm_sol.ini", "llama2-70b"},
        PublishedCase{kSingle, "single_cluster/layout_llama30b/petals/petals_sol.ini", "llama1-30b"},
        PublishedCase{kSingle, "single_cluster/layout_llama30b/swarm/swarm_sol.ini", "llama1-30b"},
        PublishedCase{"single_cluster/config/a100.ini", "single_cluster/layout_llama30b/ilp/a100/ilp_sol.ini", "llama1-30b"},
        PublishedCase{"single_cluster/config/l4.ini", "single_cluster/layout_llama30b/ilp/l4/ilp_sol.ini", "llama1-30b"},
        PublishedCase{"single_cluster/config/t4.ini", "single_cluster/layout_llama30b/ilp/t4/ilp_sol.ini", "llama1-30b"},
        PublishedCase{"single_cluster/config/a100.ini", "single_cluster/layout_llama70b/separate/a100_solution_file.ini", "llama2-70b", true},
        PublishedCase{"single_cluster/config/l4.ini", "single_cluster/layout_llama70b/separate/l4_solution_file.ini", "llama2-70b", true},
        PublishedCase{"single_cluster/config/t4.ini", "single_cluster/layout_llama70b/separate/t4_solution_file.ini", "llama2-70b", true},
        PublishedCase{"single_cluster/config/t4.ini", "single_cluster/layout_llama30b/separate/t4_solution_file.ini", "llama1-30b"},
        PublishedCase{kThree, "distributed_clusters/layout_llama70b/ilp/ilp_sol.ini", "llama2-70b"},
        PublishedCase{kThree, "distributed_clusters/layout_llama70b/petals/petals_sol.ini", "llama2-70b"},
        PublishedCase{kThree, "distributed_clusters/layout_llama70b/swarm/swarm_sol.ini", "llama2-70b"},
        PublishedCase{kThree, "distributed_clusters/layout_llama30b/swarm/swarm_sol.ini", "llama1-30b"},
        PublishedCase{kHet, "high_heterogeneity/layout_llama70b/ilp/ilp_sol.ini", "llama2-70b"},
        PublishedCase{kHet, "high_heterogeneity/layout_llama70b/petals/petals_sol.ini", "llama2-70b"},
        PublishedCase{kHet, "high_heterogeneity/layout_llama70b/swarm/swarm_sol.ini", "llama2-70b"},
        PublishedCase{"high_heterogeneity/layout_llama70b/separate/a100/simulator_cluster.ini",
                      "high_heterogeneity/layout_llama70b/separate/a100/solution_file.ini", "llama2-70b", true, true},
        PublishedCase{"high_heterogeneity/layout_llama70b/separate/l4x2/simulator_cluster.ini",
                      "high_heterogeneity/layout_llama70b/separate/l4x2/solution_file.ini", "llama2-70b", true, true}),
    [](const auto& param_info) { return test::test_name(param_info.param.solution); });

struct ClusterCase {
  const char* cluster;
  const char* model;
};

class PlannerOutput : public ::testing::TestWithParam<ClusterCase> {};

// Every method that applies to the cluster (the others throw Error) produces a valid placement.
TEST_P(PlannerOutput, EveryPlannerIsValid) {
  const ClusterCase& c = GetParam();
  ClusterSpec cluster = test::paper_cluster(c.cluster);
  ModelSpec model = model_preset(c.model);
  int checked = 0;
  for (const std::string& method : planner_names()) {
    PerfOptions options;
    options.allow_overcommit = method == "separate-paper";
    PerfModel perf = PerfModel::build(cluster, model, options);
    PlanContext ctx{cluster, model, perf, 0};
    ctx.time_limit_s = 0.3;  // anytime planners: whatever they return in time must be valid
    Placement placement;
    try {
      placement = plan_and_evaluate(*make_planner(method), ctx);
    } catch (const Error&) {
      continue;  // not applicable here
    }
    FlowSolution flow = solve_planner_flow(cluster, model, perf, placement.ranges);
    const auto problems = check_placement(cluster, model, perf, placement, flow);
    EXPECT_TRUE(problems.empty()) << method << " on " << c.cluster << ":\n" << joined(problems);
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

INSTANTIATE_TEST_SUITE_P(Paper, PlannerOutput,
                         ::testing::Values(ClusterCase{kSingle, "llama2-70b"}, ClusterCase{kSingle, "llama1-30b"},
                                           ClusterCase{kThree, "llama2-70b"}, ClusterCase{kHet, "llama2-70b"}),
                         [](const auto& param_info) {
                           return test::test_name(std::string(param_info.param.cluster) + "_" +
                                                  param_info.param.model);
                         });

// The single-24 ILP placement and its flow, to break by hand.
struct SingleIlp {
  ClusterSpec cluster = test::paper_cluster(kSingle);
  ModelSpec model = model_preset("llama2-70b");
  PerfModel perf = PerfModel::build(cluster, model);
  Placement placement = test::paper_placement("single_cluster/layout_llama70b/ilp/ilp_sol.ini", cluster, model);
  FlowSolution flow = solve_planner_flow(cluster, model, perf, placement.ranges);

  std::vector<std::string> check() const { return check_placement(cluster, model, perf, placement, flow); }
  // Index of the first arc of `kind` carrying flow.
  std::size_t busy_arc(ArcKind kind) const {
    for (std::size_t a = 0; a < flow.arcs.size(); ++a) {
      const FlowArc& arc = flow.arcs[a];
      const bool inner = arc.kind != ArcKind::Link || (arc.from != kCoordinator && arc.to != kCoordinator);
      if (arc.kind == kind && arc.flow_tps > 1 && inner) return a;
    }
    ADD_FAILURE() << "no busy arc";
    return 0;
  }
};

TEST(BrokenPlacement, UntouchedIsValid) {
  SingleIlp t;
  EXPECT_TRUE(t.check().empty()) << joined(t.check());
}

TEST(BrokenPlacement, FlowAboveCapacity) {
  SingleIlp t;
  FlowArc& arc = t.flow.arcs[t.busy_arc(ArcKind::Compute)];
  arc.flow_tps = arc.capacity_tps * 1.5;
  const auto problems = t.check();
  EXPECT_TRUE(mentions(problems, "exceeds its capacity")) << joined(problems);
  EXPECT_TRUE(mentions(problems, "not conserved")) << joined(problems);
}

TEST(BrokenPlacement, FlowNotConservedOnALink) {
  SingleIlp t;
  t.flow.arcs[t.busy_arc(ArcKind::Link)].flow_tps += 10;
  const auto problems = t.check();
  EXPECT_TRUE(mentions(problems, "not conserved")) << joined(problems);
}

TEST(BrokenPlacement, NegativeFlow) {
  SingleIlp t;
  t.flow.arcs[t.busy_arc(ArcKind::Link)].flow_tps = -5;
  EXPECT_TRUE(mentions(t.check(), "negative flow")) << joined(t.check());
}

TEST(BrokenPlacement, WrongMaxFlowValue) {
  SingleIlp t;
  t.flow.max_flow_tps += 100;
  const auto problems = t.check();
  EXPECT_TRUE(mentions(problems, "the flow paths carry")) << joined(problems);
  EXPECT_TRUE(mentions(problems, "min cut's capacity")) << joined(problems);
}

TEST(BrokenPlacement, MinCutThatDoesNotSeparate) {
  SingleIlp t;
  t.flow.min_cut.pop_back();
  EXPECT_TRUE(mentions(t.check(), "does not separate")) << joined(t.check());
}

TEST(BrokenPlacement, MalformedArc) {
  SingleIlp t;
  FlowArc& arc = t.flow.arcs[t.busy_arc(ArcKind::Link)];
  arc.from = arc.to;
  EXPECT_TRUE(mentions(t.check(), "does not join two distinct endpoints")) << joined(t.check());
}

// A flow network without one of the placement's usable links may understate the max flow.
TEST(BrokenPlacement, MissingLinkArc) {
  SingleIlp t;
  auto idle = std::find_if(t.flow.arcs.begin(), t.flow.arcs.end(), [](const FlowArc& a) {
    return a.kind == ArcKind::Link && a.flow_tps == 0 && a.from != kCoordinator && a.to != kCoordinator;
  });
  ASSERT_NE(idle, t.flow.arcs.end());
  const std::string words = "lacks the usable link " + t.cluster.endpoint_name(idle->from) + " -> " +
                            t.cluster.endpoint_name(idle->to);
  const int removed = static_cast<int>(idle - t.flow.arcs.begin());
  t.flow.arcs.erase(idle);
  std::erase(t.flow.min_cut, removed);
  for (int& a : t.flow.min_cut) a -= a > removed ? 1 : 0;
  const auto problems = t.check();
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_NE(problems[0].find(words), std::string::npos) << problems[0];
}

TEST(BrokenPlacement, OverfullNode) {
  // A T4 holding 20 layers: planned under overcommit, checked without it.
  SingleIlp t;
  int t4 = 0;
  while (t.cluster.gpu_of(t4).name != "T4") ++t4;
  PerfOptions overcommit;
  overcommit.allow_overcommit = true;
  PerfModel lenient = PerfModel::build(t.cluster, t.model, overcommit);
  t.placement.ranges[static_cast<std::size_t>(t4)] = {0, 20};
  FlowSolution flow = solve_planner_flow(t.cluster, t.model, lenient, t.placement.ranges);
  EXPECT_TRUE(check_placement(t.cluster, t.model, lenient, t.placement, flow).empty());
  const auto problems = check_placement(t.cluster, t.model, t.perf, t.placement, flow);
  ASSERT_EQ(problems.size(), 1u) << joined(problems);
  EXPECT_EQ(problems[0], "node " + t.cluster.nodes[static_cast<std::size_t>(t4)].name + " (T4) holds 20 layers but fits 4");
}

TEST(BrokenPlacement, RangeOutsideTheModel) {
  SingleIlp t;
  t.placement.ranges[0] = {75, 85};
  EXPECT_TRUE(mentions(t.check(), "outside [0, 80)")) << joined(t.check());
}

TEST(BrokenPlacement, WrongShape) {
  SingleIlp t;
  t.placement.ranges.pop_back();
  const auto problems = t.check();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "the placement has 23 ranges for 24 cluster nodes");
}

// Two nodes n0 [0, 4) and n1 [5, 8): a flow through both skips layer 4.
TEST(BrokenPlacement, PathWithALayerGap) {
  ClusterSpec c = test::flow_cluster({test::flow_gpu("A100")}, {0, 0});
  test::connect_all(c, 1e9);
  c.index_links();
  ModelSpec model = test::flow_model(8);
  PerfModel perf = PerfModel::from_tables(8, {test::flow_node_perf_over_k(4000, 8), test::flow_node_perf_over_k(4000, 8)});
  Placement p = empty_placement(c, model.name, 8, "hand");
  p.ranges = {{0, 4}, {5, 8}};
  auto link = [](int from, int to, double cap) {
    FlowArc a;
    a.from = from;
    a.to = to;
    a.capacity_tps = cap;
    a.flow_tps = 100;
    return a;
  };
  auto compute = [&](int node) {
    FlowArc a;
    a.kind = ArcKind::Compute;
    a.node = node;
    a.capacity_tps = perf.capacity(node, p.ranges[static_cast<std::size_t>(node)].size());
    a.flow_tps = 100;
    return a;
  };
  FlowSolution s;
  s.max_flow_tps = 100;
  s.arcs = {link(kCoordinator, 0, 1e9 / 2), compute(0), link(0, 1, 1e9 / 16384), compute(1),
            link(1, kCoordinator, 1e9 / 2)};
  s.min_cut = {};
  const auto problems = check_placement(c, model, perf, p, s);
  EXPECT_TRUE(mentions(problems, "n0 ends before layer 4 but n1 starts at layer 5")) << joined(problems);
  EXPECT_TRUE(mentions(problems, "path coordinator -> n0 (layers 0-3) -> n1 (layers 5-7) -> coordinator"))
      << joined(problems);
}

TEST(BrokenPlacement, LinkTheClusterLacks) {
  SingleIlp t;
  const std::size_t a = t.busy_arc(ArcKind::Link);
  const int from = t.flow.arcs[a].from;
  const int to = t.flow.arcs[a].to;
  std::erase_if(t.cluster.links, [&](const Link& l) { return l.from == from && l.to == to; });
  t.cluster.index_links();
  EXPECT_TRUE(mentions(t.check(), "the cluster has no such link")) << joined(t.check());
}

TEST(BrokenPlacement, SimulatorFlowIsNotAPlannerFlow) {
  SingleIlp t;
  auto links = select_pipeline_links(t.cluster, t.placement.ranges, 80);
  FlowSolution sim = solve_simulator_flow(t.cluster, t.model, t.perf, t.placement.ranges, links);
  EXPECT_TRUE(mentions(check_placement(t.cluster, t.model, t.perf, t.placement, sim), "NIC arc"));
}

}  // namespace
}  // namespace helix
