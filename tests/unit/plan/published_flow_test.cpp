// The max flow of every published placement (planner spec §2.12 and §3), from the
// paper's own files: the check that helix scores placements exactly as the paper.
#include <gtest/gtest.h>

#include "helix/flow/flow_network.h"
#include "paper_fixtures.h"

namespace helix {
namespace {

struct PlannerCase {
  const char* cluster;
  const char* placement;
  const char* model;
  double expected;
  const char* profiles_dir = "";
};

class PublishedPlannerFlow : public ::testing::TestWithParam<PlannerCase> {};

TEST_P(PublishedPlannerFlow, ReproducesTheMilpObjective) {
  const PlannerCase& c = GetParam();
  ClusterSpec cluster = test::paper_cluster(c.cluster, c.profiles_dir);
  ModelSpec model = model_preset(c.model);
  PerfModel perf = PerfModel::build(cluster, model);
  Placement placement = test::paper_placement(c.placement, cluster, model);
  FlowSolution s = solve_planner_flow(cluster, model, perf, placement.ranges);
  EXPECT_NEAR(s.max_flow_tps, c.expected, 1e-3) << c.placement << " on " << c.cluster;
  PlacementEvaluator evaluator(cluster, model, perf);
  EXPECT_NEAR(evaluator.max_flow(placement.ranges), s.max_flow_tps, 1e-6);
}

constexpr const char* kSingle = "single_cluster/config/cluster24.ini";
constexpr const char* kThree = "distributed_clusters/config/3cluster24.ini";
constexpr const char* kThreePruned = "distributed_clusters/layout_llama70b/ilp/pruned_cluster.ini";
constexpr const char* kHet = "high_heterogeneity/config/cluster42.ini";
constexpr const char* kHetPruned = "high_heterogeneity/layout_llama70b/ilp/pruned_cluster.ini";

INSTANTIATE_TEST_SUITE_P(
    Section2_12, PublishedPlannerFlow,
    ::testing::Values(
        PlannerCase{kSingle, "single_cluster/layout_llama70b/ilp/ilp_sol.ini", "llama2-70b", 1289.556},
        PlannerCase{kSingle, "single_cluster/layout_llama70b/petals/petals_sol.ini", "llama2-70b", 531.703},
        PlannerCase{kSingle, "single_cluster/layout_llama70b/swarm/swarm_sol.ini", "llama2-70b", 757.853},
        PlannerCase{kThree, "distributed_clusters/layout_llama70b/ilp/ilp_sol.ini", "llama2-70b", 1212.177},
        PlannerCase{kThreePruned, "distributed_clusters/layout_llama70b/ilp/ilp_sol.ini", "llama2-70b",
                    1212.177, "distributed_clusters/config"},
        PlannerCase{kThree, "distributed_clusters/layout_llama70b/swarm/swarm_sol.ini", "llama2-70b", 616.455},
        PlannerCase{kThreePruned, "distributed_clusters/layout_llama70b/swarm/swarm_sol.ini", "llama2-70b",
                    0.0, "distributed_clusters/config"},
        PlannerCase{kHet, "high_heterogeneity/layout_llama70b/ilp/ilp_sol.ini", "llama2-70b", 4137.548},
        PlannerCase{kHetPruned, "high_heterogeneity/layout_llama70b/ilp/ilp_sol.ini", "llama2-70b",
                    4137.548, "high_heterogeneity/config"},
        PlannerCase{kHet, "high_heterogeneity/layout_llama70b/swarm/swarm_sol.ini", "llama2-70b", 4892.242},
        PlannerCase{kHetPruned, "high_heterogeneity/layout_llama70b/swarm/swarm_sol.ini", "llama2-70b",
                    0.0, "high_heterogeneity/config"},
        PlannerCase{"single_cluster/config/a100.ini", "single_cluster/layout_llama30b/ilp/a100/ilp_sol.ini",
                    "llama1-30b", 1044.533},
        PlannerCase{"single_cluster/config/l4.ini", "single_cluster/layout_llama30b/ilp/l4/ilp_sol.ini",
                    "llama1-30b", 214.981},
        PlannerCase{"single_cluster/config/t4.ini", "single_cluster/layout_llama30b/ilp/t4/ilp_sol.ini",
                    "llama1-30b", 397.685}),
    [](const auto& param_info) {
      std::string cluster = std::filesystem::path(param_info.param.cluster).stem().string();
      return test::test_name(std::string(param_info.param.placement) + "_on_" + cluster);
    });

struct SimulatorCase {
  const char* dir;  // holds simulator_cluster.ini and the solution file
  const char* solution;
  const char* model;
  double expected;
  bool partial_links;  // how the paper's generator selected this layout's links
};

class PublishedSimulatorFlow : public ::testing::TestWithParam<SimulatorCase> {};

TEST_P(PublishedSimulatorFlow, ReproducesTheSimulatorGraph) {
  const SimulatorCase& c = GetParam();
  std::string dir = c.dir;
  PaperSimulatorCluster sim = import_paper_simulator_cluster(test::artifact(dir + "/simulator_cluster.ini"));
  ModelSpec model = model_preset(c.model);
  PerfModel perf = PerfModel::build(sim.cluster, model);
  Placement placement = test::paper_placement(dir + "/" + c.solution, sim.cluster, model);
  FlowSolution s = solve_simulator_flow(sim.cluster, model, perf, placement.ranges, sim.links);
  EXPECT_NEAR(s.max_flow_tps, c.expected, 1e-3) << dir;

  // helix's own link selection finds the same links the paper's generator wrote.
  LinkSelection selection;
  selection.allow_partial = c.partial_links;
  auto links = select_pipeline_links(sim.cluster, placement.ranges, model.num_layers, selection);
  FlowSolution generated = solve_simulator_flow(sim.cluster, model, perf, placement.ranges, links);
  EXPECT_NEAR(generated.max_flow_tps, c.expected, 1e-3) << dir << " with generated links";
  auto sorted = [](std::vector<LinkPair> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(sorted(links), sorted(sim.links)) << dir;
}

INSTANTIATE_TEST_SUITE_P(
    Section3, PublishedSimulatorFlow,
    ::testing::Values(
        SimulatorCase{"single_cluster/layout_llama70b/ilp", "ilp_sol.ini", "llama2-70b", 1289.556, false},
        SimulatorCase{"single_cluster/layout_llama70b/petals", "petals_sol.ini", "llama2-70b", 952.107, true},
        SimulatorCase{"single_cluster/layout_llama70b/swarm", "swarm_sol.ini", "llama2-70b", 757.853, false},
        SimulatorCase{"distributed_clusters/layout_llama70b/ilp", "ilp_sol.ini", "llama2-70b", 1212.177, false},
        SimulatorCase{"distributed_clusters/layout_llama70b/petals", "petals_sol.ini", "llama2-70b", 952.107, true},
        SimulatorCase{"distributed_clusters/layout_llama70b/swarm", "swarm_sol.ini", "llama2-70b", 616.380, false},
        SimulatorCase{"high_heterogeneity/layout_llama70b/ilp", "ilp_sol.ini", "llama2-70b", 4137.548, false},
        SimulatorCase{"high_heterogeneity/layout_llama70b/petals", "petals_sol.ini", "llama2-70b", 3292.244, true},
        SimulatorCase{"high_heterogeneity/layout_llama70b/swarm", "swarm_sol.ini", "llama2-70b", 4892.242, false}),
    [](const auto& param_info) { return test::test_name(param_info.param.dir); });

}  // namespace
}  // namespace helix
