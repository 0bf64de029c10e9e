// The closed-form estimate of what a placement serves: its bounds are real
// bounds of what the simulator (either runtime model) serves, its concurrency is
// what the KV cache admits, and its calibration recovers the factor it is fed.
#include "helix/served/served_estimate.h"

#include <gtest/gtest.h>

#include "../plan/paper_fixtures.h"
#include "helix/plan/planner.h"
#include "helix/sim/simulator.h"

namespace helix::served {
namespace {

struct Case {
  ClusterSpec cluster = test::paper_cluster("single_cluster/config/cluster24.ini");
  ModelSpec model = model_preset("llama2-70b");
  PerfModel perf = PerfModel::build(cluster, model);
  sim::LengthDataset lengths = sim::length_dataset("azure-conv");
};

sim::SimReport run(const Case& c, const std::vector<LayerRange>& ranges, sim::Runtime runtime) {
  Placement p = empty_placement(c.cluster, c.model.name, c.model.num_layers, "test");
  p.ranges = ranges;
  sim::SimConfig config;
  config.runtime = runtime;
  config.warm_up_s = 60;
  config.duration_s = 120;
  return sim::simulate(sim::sim_cluster_from_placement(c.cluster, c.model, p, false), config);
}

TEST(ServedEstimate, BoundsHoldForWhatEitherRuntimeModelServes) {
  Case c;
  const ServedEstimator estimator(c.cluster, c.model, c.perf, c.lengths, sched::KvParameters{0.85, 1.0}, 0.8);
  PlanContext ctx(c.cluster, c.model, c.perf, 0);
  std::vector<std::vector<LayerRange>> placements = {
      test::paper_placement("single_cluster/layout_llama70b/ilp/ilp_sol.ini", c.cluster, c.model).ranges,
      make_planner("swarm")->plan(ctx).ranges, make_planner("homogeneous")->plan(ctx).ranges};
  for (const auto& ranges : placements) {
    const ServedBounds b = estimator.bounds(ranges);
    EXPECT_GT(b.decode_tps, 0);
    EXPECT_LE(b.decode_tps, b.compute_decode_tps);
    for (sim::Runtime runtime : {sim::Runtime::Paper, sim::Runtime::Helix}) {
      const sim::SimReport r = run(c, ranges, runtime);
      SCOPED_TRACE(sim::to_string(runtime));
      EXPECT_LE(r.decode_tps, b.decode_tps);
      EXPECT_GE(r.decode_latency.mean_s, b.time_per_token_s);
      EXPECT_GE(r.decode_latency.p5_s, b.time_per_token_s);
    }
  }
}

TEST(ServedEstimate, ConcurrencyIsWhatTheTightestLayersKvAdmits) {
  Case c;
  const ServedEstimator estimator(c.cluster, c.model, c.perf, c.lengths, sched::KvParameters{0.85, 1.0}, 0.8);
  const auto ranges = test::paper_placement("single_cluster/layout_llama70b/ilp/ilp_sol.ini", c.cluster, c.model).ranges;
  const ServedEstimate e = estimator.estimate(ranges);
  // The paper's placement: its tightest layers (14-22 on one A100 holding 9) give
  // 514,528 slots per layer; the feeder fills 80% with queries charging I + 240.
  const sim::SimReport r = run(c, ranges, sim::Runtime::Paper);
  const double simulated = r.decode_tps * r.decode_latency.mean_s;  // Little's law
  EXPECT_NEAR(e.concurrency, simulated, 0.1 * simulated);
  EXPECT_GT(e.max_flow_tps, 1289);
  EXPECT_GT(e.time_per_token_s, 0);
}

TEST(ServedEstimate, CalibrationRecoversTheFactorItIsFed) {
  Case c;
  const ServedEstimator estimator(c.cluster, c.model, c.perf, c.lengths, sched::KvParameters{0.85, 1.0}, 0.8);
  const auto ranges = test::paper_placement("single_cluster/layout_llama70b/ilp/ilp_sol.ini", c.cluster, c.model).ranges;
  ServedEstimator::Sample s;
  s.estimate = estimator.estimate(ranges);
  s.share = s.estimate.node_share;
  s.stay_s = s.estimate.node_stay_s;
  for (double& stay : s.stay_s) stay *= 2;  // every node twice as slow as modelled
  s.concurrency = 0.5 * s.estimate.concurrency;
  const ServedEstimator::Calibration fit = estimator.fit_calibration({s});
  for (double f : fit.stay_factor) EXPECT_NEAR(f, 2.0, 1e-9);
  EXPECT_NEAR(fit.concurrency_factor, 0.5, 1e-9);
  // Half the queries, each twice as slow (links aside): about a quarter of the tokens.
  const double calibrated = ServedEstimator::calibrated_decode_tps(s.estimate, fit);
  EXPECT_LT(calibrated, 0.3 * s.estimate.decode_tps);
  EXPECT_GT(calibrated, 0.2 * s.estimate.decode_tps);
}

}  // namespace
}  // namespace helix::served
