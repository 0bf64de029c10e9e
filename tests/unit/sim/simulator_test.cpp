// The simulator end to end on small runs: determinism (byte-identical reports),
// conservation (every finished query produced its prompt and all its decodes),
// resource accounting, and clear errors for bad input.
#include <gtest/gtest.h>

#include <string>

#include "helix/cluster/paper_import.h"
#include "helix/core/error.h"
#include "helix/model/model_spec.h"
#include "helix/sim/simulator.h"
#include "support/test_support.h"

namespace helix::sim {
namespace {

SimCluster paper_cluster(const std::string& experiment, const std::string& layout, const std::string& model) {
  const auto dir = test::artifact(experiment + "/" + layout);
  const std::string sol = layout.find("swarm") != std::string::npos ? "swarm_sol.ini" : "ilp_sol.ini";
  return sim_cluster_from_paper(dir / "simulator_cluster.ini", dir / sol, model_preset(model));
}

SimConfig short_offline(SchedulerKind kind) {
  SimConfig c;
  c.scheduler = kind;
  c.mode = Mode::Offline;
  c.warm_up_s = 10;
  c.duration_s = 40;
  c.initial_queries = kind == SchedulerKind::Helix ? 20 : 60;
  return c;
}

TEST(Simulator, ModelLoadingEndsWhereThePaperSays) {
  // reference_traces/index.csv: single_cluster llama70b starts at 20 s, llama30b a100 at 16 s.
  EXPECT_DOUBLE_EQ(model_loading_end_s(paper_cluster("single_cluster", "layout_llama70b/ilp", "llama2-70b")), 20);
  EXPECT_DOUBLE_EQ(model_loading_end_s(paper_cluster("single_cluster", "layout_llama30b/ilp/a100", "llama1-30b")), 16);
}

TEST(Simulator, MaxFlowOfThePublishedPlacement) {
  const SimCluster c = paper_cluster("single_cluster", "layout_llama70b/ilp", "llama2-70b");
  Simulator s(c, short_offline(SchedulerKind::Helix));
  EXPECT_NEAR(s.max_flow_tps(), 1289.556, 1e-3);
}

TEST(Simulator, SameInputsGiveByteIdenticalReports) {
  const SimCluster c = paper_cluster("single_cluster", "layout_llama30b/ilp/a100", "llama1-30b");
  for (SchedulerKind kind : {SchedulerKind::Helix, SchedulerKind::Random}) {
    const std::string a = report_to_json(simulate(c, short_offline(kind)), true).dump();
    const std::string b = report_to_json(simulate(c, short_offline(kind)), true).dump();
    EXPECT_EQ(a, b) << to_string(kind);
    EXPECT_GT(a.size(), 1000u);
  }
}

TEST(Simulator, OfflineRunProducesDecodesAndAccountsResources) {
  const SimCluster c = paper_cluster("single_cluster", "layout_llama30b/ilp/a100", "llama1-30b");
  const SimReport r = simulate(c, short_offline(SchedulerKind::Helix));
  EXPECT_GT(r.decode_tps, 50);            // the 4-A100 pipeline decodes hundreds of tokens/s
  EXPECT_LT(r.decode_tps, r.max_flow_tps);
  EXPECT_GT(r.prompts_in_window, 0);
  EXPECT_EQ(r.kv_overflows, 0);
  EXPECT_EQ(r.window_start_s, 26);
  EXPECT_EQ(r.window_end_s, 66);
  ASSERT_EQ(r.nodes.size(), 4u);
  for (const NodeReport& n : r.nodes) {
    EXPECT_GT(n.busy_share, 0.1);
    EXPECT_LE(n.busy_share, 1.0 + 1e-9);
    EXPECT_LE(n.kv_peak_share, 1.0);
  }
  // Every query that finished gave one prompt and all its decodes; in-flight ones fewer.
  EXPECT_GE(static_cast<std::int64_t>(r.samples.prompt_finish_s.size()), r.queries_finished);
  for (std::size_t i = 1; i < r.samples.decode_finish_s.size(); ++i) {
    EXPECT_LE(r.samples.decode_finish_s[i - 1], r.samples.decode_finish_s[i]);  // gathered in time order
  }
}

TEST(Simulator, OnlineRunFinishesEveryQueryOfTheTrace) {
  const SimCluster c = paper_cluster("single_cluster", "layout_llama30b/ilp/a100", "llama1-30b");
  SimConfig config;
  config.mode = Mode::Online;
  config.duration_s = 60;
  config.online.avg_throughput_tps = 300;
  const SimReport r = simulate(c, config);
  EXPECT_GT(r.queries_created, 5);
  EXPECT_EQ(r.queries_finished, r.queries_created);
  EXPECT_EQ(r.queries_rejected, 0);
  EXPECT_NEAR(r.offered_tps, 300, 150);
  EXPECT_EQ(static_cast<std::int64_t>(r.samples.prompt_finish_s.size()), r.queries_created);
}

TEST(Simulator, BaselinesRunOnTheSwarmPlacement) {
  const SimCluster c = paper_cluster("single_cluster", "layout_llama70b/swarm", "llama2-70b");
  for (SchedulerKind kind : {SchedulerKind::Swarm, SchedulerKind::Random, SchedulerKind::ShortestQueue}) {
    const SimReport r = simulate(c, short_offline(kind));
    EXPECT_GT(r.decodes_in_window, 0) << to_string(kind);
  }
}

TEST(Simulator, RejectsAPlacementThatDoesNotCoverTheModel) {
  SimCluster c = paper_cluster("single_cluster", "layout_llama30b/ilp/a100", "llama1-30b");
  c.ranges[3] = LayerRange{45, 59};  // nobody holds layer 59 any more
  try {
    Simulator s(c, short_offline(SchedulerKind::Random));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not cover the model"), std::string::npos) << e.what();
  }
}

TEST(Simulator, RejectsBadSettings) {
  const SimCluster c = paper_cluster("single_cluster", "layout_llama30b/ilp/a100", "llama1-30b");
  SimConfig online;
  online.mode = Mode::Online;
  online.online.avg_throughput_tps = 0;
  EXPECT_THROW(Simulator(c, online), Error);
  SimConfig offline = short_offline(SchedulerKind::Helix);
  offline.initial_queries = 0;
  EXPECT_THROW(Simulator(c, offline), Error);
  offline = short_offline(SchedulerKind::Helix);
  offline.duration_s = -5;
  EXPECT_THROW(Simulator(c, offline), Error);
  offline = short_offline(SchedulerKind::Helix);
  offline.lengths = "/nonexistent/lengths.csv";
  EXPECT_THROW(Simulator(c, offline), Error);
}

}  // namespace
}  // namespace helix::sim
