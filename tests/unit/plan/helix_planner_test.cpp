// helix's own planner: its bounds are real bounds (checked against exhaustive
// search on tiny instances), the interval MILP is exact on a fast network, the
// search is reproducible, anytime, and honours warm starts and stops.
#include "helix/plan/helix_planner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <random>

#include "../flow/flow_test_clusters.h"
#include "helix/cluster/cluster_yaml.h"
#include "helix/flow/flow_network.h"
#include "helix/plan/helix_bounds.h"
#include "helix/plan/helix_interval_milp.h"
#include "helix/plan/helix_link_milp.h"
#include "paper_fixtures.h"

namespace helix {
namespace {

struct Tiny {
  ClusterSpec cluster;
  ModelSpec model;
  PerfModel perf;
};

// `n` nodes of random types; capacity tables that mostly fall with k but not
// always (like the paper's 30B curves). Links: all fast, or some slow.
Tiny tiny_instance(std::uint64_t seed, int n, int layers, bool slow_links) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> base(200, 2000);
  std::uniform_int_distribution<int> max_k(2, 4);
  std::vector<NodePerf> tables;
  std::vector<int> types;
  for (int i = 0; i < n; ++i) {
    int k_max = max_k(rng);
    std::vector<double> tps;
    double b = base(rng);
    for (int k = 1; k <= k_max; ++k) tps.push_back(b / k * std::uniform_real_distribution<double>(0.8, 1.25)(rng));
    tables.push_back(test::flow_node_perf(tps));
    types.push_back(i % 2);
  }
  ClusterSpec cluster = test::flow_cluster({test::flow_gpu("A"), test::flow_gpu("B")}, types);
  test::connect_all(cluster, 1e9);
  if (slow_links) {
    for (auto& l : cluster.links) {
      if (l.from != kCoordinator && l.to != kCoordinator && (l.from + l.to) % 3 == 0) l.bandwidth_Bps = 2e6;
    }
  }
  cluster.index_links();
  return {cluster, test::flow_model(layers), PerfModel::from_tables(layers, tables)};
}

// The best max flow over every placement (each node: unused or any range it fits).
double exhaustive_optimum(const Tiny& t) {
  const int n = t.cluster.num_nodes();
  const int L = t.model.num_layers;
  std::vector<std::vector<LayerRange>> options(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    options[static_cast<std::size_t>(i)].push_back({});
    for (int k = 1; k <= t.perf.node(i).max_layers; ++k) {
      for (int s = 0; s + k <= L; ++s) options[static_cast<std::size_t>(i)].push_back({s, s + k});
    }
  }
  PlacementEvaluator evaluator(t.cluster, t.model, t.perf);
  std::vector<LayerRange> ranges(static_cast<std::size_t>(n));
  double best = 0;
  std::function<void(int)> visit = [&](int i) {
    if (i == n) {
      best = std::max(best, evaluator.max_flow(ranges));
      return;
    }
    for (const auto& r : options[static_cast<std::size_t>(i)]) {
      ranges[static_cast<std::size_t>(i)] = r;
      visit(i + 1);
    }
  };
  visit(0);
  return best;
}

TEST(HelixBounds, AreRealBoundsAndTheIntervalMilpIsExactOnFastNetworks) {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    for (bool slow : {false, true}) {
      Tiny t = tiny_instance(seed, 4, 6, slow);
      double optimum = exhaustive_optimum(t);
      SCOPED_TRACE(testing::Message() << "seed " << seed << (slow ? " slow links" : " fast"));
      double supply = layer_supply_bound(t.perf, 6);
      EXPECT_GE(supply, optimum * (1 - 1e-9));
      EXPECT_GE(cover_count_bound(t.perf, 6), optimum * (1 - 1e-9));
      IntervalMilpOptions options;
      options.time_limit_s = 600;  // a hang guard: tiny instances solve to optimality in ms
      options.flow_cap = supply;
      IntervalMilpResult r = solve_interval_milp(t.cluster, t.perf, 6, options);
      ASSERT_EQ(r.status, MilpStatus::Optimal);
      EXPECT_GE(r.bound, optimum * (1 - 1e-6));
      double realised = solve_planner_flow(t.cluster, t.model, t.perf, r.ranges).max_flow_tps;
      EXPECT_LE(realised, optimum * (1 + 1e-9));
      if (!slow) {
        EXPECT_NEAR(realised, optimum, 1e-6 * optimum);  // exact when links do not bind
      }

      PlanContext ctx(t.cluster, t.model, t.perf, seed);
      ctx.time_limit_s = 600;  // a hang guard: the evaluation budget ends the run
      Placement p = HelixPlanner(3000).plan(ctx);
      double found = solve_planner_flow(t.cluster, t.model, t.perf, p.ranges).max_flow_tps;
      EXPECT_LE(found, optimum * (1 + 1e-9));
      EXPECT_GE(p.details["upper_bound_tps"].get<double>(), optimum * (1 - 1e-6));
      if (!slow) {
        EXPECT_NEAR(found, optimum, 1e-6 * optimum);
      }
    }
  }
}

// Pruned but fast networks: with every length allowed, the link-aware model's
// optimum is the real optimum and its placement realises it.
TEST(HelixLinkMilp, IsExactOnPrunedFastNetworks) {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    Tiny t = tiny_instance(seed, 4, 6, false);
    std::mt19937_64 rng(seed);
    std::erase_if(t.cluster.links, [&](const Link& l) {
      bool coordinator = l.from == kCoordinator || l.to == kCoordinator;
      return coordinator ? (l.from + l.to) % 2 == 0 : rng() % 2 == 0;  // nodes 0 and 2 keep theirs
    });
    t.cluster.index_links();
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    double optimum = exhaustive_optimum(t);
    LinkMilpOptions options;
    options.min_supply_fraction = 0;
    LinkMilpResult r = solve_link_milp(t.cluster, t.perf, 6, options);
    ASSERT_EQ(r.status, MilpStatus::Optimal);
    EXPECT_NEAR(r.objective, optimum, 1e-6 * std::max(1.0, optimum));
    EXPECT_NEAR(solve_planner_flow(t.cluster, t.model, t.perf, r.ranges).max_flow_tps, optimum,
                1e-6 * std::max(1.0, optimum));
  }
}

// The paper's pruned 42-node cluster: hubs 4-9 and 38-41 (linked to everyone),
// and leaves that share their peers (10-19, 20-29, 30-35 with the coordinator).
TEST(HelixLinkMilp, GroupsThePrunedHighHeterogeneityClusterIntoTwins) {
  ClusterSpec cluster = test::paper_cluster("high_heterogeneity/layout_llama70b/ilp/pruned_cluster.ini",
                                            "high_heterogeneity/config");
  auto groups = twin_groups(cluster);
  EXPECT_EQ(groups.size(), 10u);
  auto contains = [&](const std::vector<int>& members) {
    return std::find(groups.begin(), groups.end(), members) != groups.end();
  };
  EXPECT_TRUE(contains({4, 5, 6, 7, 8, 9}));
  EXPECT_TRUE(contains({10, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
  EXPECT_TRUE(contains({30, 31, 32, 33, 34, 35}));
  EXPECT_TRUE(contains({38, 39, 40, 41}));
}

TEST(HelixBounds, CoverCountProvesCluster10Optimal) {
  // cluster10 (4 L4 + 6 T4, LLaMA-1 30B): the paper's Gurobi run proved 286.587
  // optimal after 3803 s. The layer-supply bound alone stops at 340.70.
  ClusterSpec cluster = load_cluster(test::source_dir() / "examples/clusters/cluster10.yaml");
  ModelSpec model = model_preset("llama1-30b");
  PerfModel perf = PerfModel::build(cluster, model);
  EXPECT_NEAR(cover_count_bound(perf, 60), 286.587, 1e-3);
  EXPECT_GT(layer_supply_bound(perf, 60), 340);
  PlanContext ctx(cluster, model, perf, 0);
  ctx.time_limit_s = 600;  // a hang guard: the evaluation budget ends the run
  Placement p = HelixPlanner(20000).plan(ctx);
  EXPECT_EQ(p.details["status"], "optimal");
  EXPECT_NEAR(solve_planner_flow(cluster, model, perf, p.ranges).max_flow_tps, 286.587, 1e-3);
}

TEST(HelixPlanner, IsReproducibleForASeedAndThreadCount) {
  Tiny t = tiny_instance(42, 5, 10, true);
  for (int threads : {1, 2}) {
    PlanContext ctx(t.cluster, t.model, t.perf, 7);
    ctx.threads = threads;
    ctx.time_limit_s = 600;  // a hang guard: the evaluation budget ends the runs
    Placement a = HelixPlanner(5000).plan(ctx);
    Placement b = HelixPlanner(5000).plan(ctx);
    EXPECT_EQ(a.ranges, b.ranges) << threads << " threads";
  }
}

TEST(HelixPlanner, ReportsProgressAndStopsWhenAsked) {
  ClusterSpec cluster = test::paper_cluster("high_heterogeneity/config/cluster42.ini");
  ModelSpec model = model_preset("llama2-70b");
  PerfModel perf = PerfModel::build(cluster, model);
  std::vector<PlanProgress> seen;
  std::atomic<bool> stop{false};
  PlanContext ctx(cluster, model, perf, 0);
  ctx.time_limit_s = 600;
  ctx.stop = &stop;
  ctx.on_progress = [&](const PlanProgress& p) {
    seen.push_back(p);
    if (seen.size() == 2) stop = true;  // a user pressing Ctrl-C early on
  };
  auto t0 = std::chrono::steady_clock::now();
  Placement p = HelixPlanner().plan(ctx);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 60);  // stopped long before the 600 s limit
  ASSERT_FALSE(seen.empty());
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i].objective_tps, seen[i - 1].objective_tps);
  EXPECT_EQ(p.details["status"], "stopped");
  EXPECT_NEAR(solve_planner_flow(cluster, model, perf, p.ranges).max_flow_tps, seen.back().objective_tps, 1e-6);
}

TEST(HelixPlanner, WarmStartWithAHugeMovePenaltyKeepsThePlacement) {
  Tiny t = tiny_instance(3, 5, 8, false);
  Placement start = empty_placement(t.cluster, t.model.name, 8, "start");
  PlanContext seed_ctx(t.cluster, t.model, t.perf, 0);
  start.ranges = make_planner("petals")->plan(seed_ctx).ranges;
  PlanContext ctx(t.cluster, t.model, t.perf, 0);
  ctx.start = &start;
  ctx.move_penalty_tps = 1e9;
  ctx.time_limit_s = 600;  // a hang guard: the evaluation budgets end the runs
  Placement kept = HelixPlanner(2000).plan(ctx);
  double before = solve_planner_flow(t.cluster, t.model, t.perf, start.ranges).max_flow_tps;
  double after = solve_planner_flow(t.cluster, t.model, t.perf, kept.ranges).max_flow_tps;
  // No layer may move, so nothing is newly loaded; the flow cannot get worse.
  for (std::size_t i = 0; i < kept.ranges.size(); ++i) {
    const LayerRange& now = kept.ranges[i];
    const LayerRange& was = start.ranges[i];
    if (!now.empty()) {
      EXPECT_TRUE(!was.empty() && now.start >= was.start && now.end <= was.end) << i;
    }
  }
  EXPECT_GE(after, before - 1e-9);
  ctx.move_penalty_tps = 0;
  Placement free = HelixPlanner(2000).plan(ctx);
  EXPECT_GE(solve_planner_flow(t.cluster, t.model, t.perf, free.ranges).max_flow_tps, before - 1e-9);
}

TEST(HelixPlanner, ProvesTheOptimumOfTheSingleClusterAndBeatsThePaper) {
  ClusterSpec cluster = test::paper_cluster("single_cluster/config/cluster24.ini");
  ModelSpec model = model_preset("llama2-70b");
  PerfModel perf = PerfModel::build(cluster, model);
  PlanContext ctx(cluster, model, perf, 0);
  ctx.time_limit_s = 600;  // a hang guard: the evaluation budget ends the run
  Placement p = HelixPlanner(20000).plan(ctx);
  double flow = solve_planner_flow(cluster, model, perf, p.ranges).max_flow_tps;
  EXPECT_GT(flow, 1289.556 * 1.5);  // the paper's MILP (Gurobi, 600 s): 1289.556
  EXPECT_EQ(p.details["status"], "optimal");
  EXPECT_NEAR(p.details["upper_bound_tps"].get<double>(), flow, 1e-6 * flow);
}

}  // namespace
}  // namespace helix
