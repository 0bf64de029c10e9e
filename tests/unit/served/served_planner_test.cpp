// The planner for what is served: reproducible on a simulation budget, keeps the
// best candidate it simulated, and reports served figures with real bounds.
#include "helix/served/served_planner.h"

#include <gtest/gtest.h>

#include "helix/cluster/cluster_yaml.h"
#include "helix/flow/flow_network.h"
#include "helix/perf/perf_model.h"
#include "support/test_support.h"

namespace helix::served {
namespace {

struct Cluster10 {
  ClusterSpec cluster = load_cluster(test::source_dir() / "examples/clusters/cluster10.yaml");
  ModelSpec model = model_preset("llama1-30b");
  PerfModel perf = PerfModel::build(cluster, model);
};

Placement plan(const Cluster10& c, sim::Runtime runtime, long simulations) {
  PlanContext ctx(c.cluster, c.model, c.perf, 3);
  ctx.threads = 2;
  ctx.time_limit_s = 600;  // a hang guard: the simulation budget ends the run
  ServingTarget target;
  target.runtime = runtime;
  return ServedPlanner(target, simulations).plan(ctx);
}

TEST(ServedPlanner, IsReproducibleOnASimulationBudget) {
  const Cluster10 c;
  const Placement a = plan(c, sim::Runtime::Paper, 10);
  const Placement b = plan(c, sim::Runtime::Paper, 10);
  EXPECT_EQ(a.ranges, b.ranges);
  EXPECT_EQ(a.details["chosen_from"], b.details["chosen_from"]);
  EXPECT_EQ(a.details["served"]["decode_tps"], b.details["served"]["decode_tps"]);
  EXPECT_LE(a.details["simulations"].get<long>(), 10 + 2);  // a budget, plus a second-seed check
}

TEST(ServedPlanner, KeepsTheBestCandidateItSimulated) {
  const Cluster10 c;
  const Placement p = plan(c, sim::Runtime::Helix, 12);
  const nlohmann::json& d = p.details;
  ASSERT_TRUE(d.contains("screened"));
  const double chosen = d["served_score"]["decode_tps"].get<double>();
  bool max_flow_seen = false;
  for (const auto& s : d["screened"]) {
    EXPECT_LE(s["served_decode_tps"].get<double>(), chosen + 1e-9) << s["source"];
    max_flow_seen = max_flow_seen || s["source"] == "max flow";
  }
  EXPECT_TRUE(max_flow_seen) << "the max-flow optimum is always a candidate";
  EXPECT_EQ(d["objective"], "served");
  EXPECT_EQ(d["runtime"], "helix");
}

TEST(ServedPlanner, ReportsServedFiguresUnderRealBounds) {
  const Cluster10 c;
  const Placement p = plan(c, sim::Runtime::Paper, 8);
  const nlohmann::json& d = p.details;
  const double served = d["served"]["decode_tps"].get<double>();
  EXPECT_GT(served, 0);
  EXPECT_LE(served, d["served_bound"]["decode_tps"].get<double>());
  EXPECT_GE(d["served"]["mean_decode_latency_s"].get<double>(), d["served_bound"]["min_time_per_token_s"].get<double>());
  // The max flow of the chosen placement, and the max-flow bound of the cluster.
  const double flow = solve_planner_flow(c.cluster, c.model, c.perf, p.ranges).max_flow_tps;
  EXPECT_NEAR(d["max_flow_of_placement_tps"].get<double>(), flow, 1e-6 * flow);
  EXPECT_LE(flow, d["upper_bound_tps"].get<double>() * (1 + 1e-9));
}

}  // namespace
}  // namespace helix::served
