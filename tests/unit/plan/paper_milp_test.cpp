// The paper's MILP (planner spec §2): sizes equal §2.11's table, rows and columns
// equal the published ilp_model.lp files name by name, CBC's optimum on a tiny
// cluster equals brute force, and the milp-paper planner's contract.
#include "helix/plan/paper_milp.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>

#include "helix/core/error.h"
#include "helix/flow/flow_network.h"
#include "helix/milp/cbc_solver.h"
#include "helix/milp/lp_reader.h"
#include "helix/plan/pruning.h"
#include "paper_fixtures.h"

namespace helix {
namespace {

struct PaperInstance {
  ClusterSpec cluster;
  ModelSpec model;
  PerfModel perf;
};

// `prune`: (12, 12, 1) as the paper's runs (§2.8).
PaperInstance instance(const std::string& config, const std::string& model_name, bool prune) {
  ClusterSpec cluster = test::paper_cluster(config);
  if (prune) cluster = prune_cluster(cluster, 12, 12, 1);
  ModelSpec model = model_preset(model_name);
  PerfModel perf = PerfModel::build(cluster, model);
  return {std::move(cluster), std::move(model), std::move(perf)};
}

// ---- sizes (§2.11) ----------------------------------------------------------------------

struct SizeCase {
  const char* name;
  const char* config;
  bool prune;
  int rows, columns;
  std::size_t nonzeros;
};

class PaperMilpSize : public ::testing::TestWithParam<SizeCase> {};

TEST_P(PaperMilpSize, MatchesTheTraceSizes) {
  const SizeCase& c = GetParam();
  const PaperInstance p = instance(c.config, "llama2-70b", c.prune);
  const PaperMilp milp = build_paper_milp(p.cluster, p.model, p.perf);
  EXPECT_EQ(milp.model.num_rows(), c.rows);
  EXPECT_EQ(milp.model.num_columns(), c.columns);
  EXPECT_EQ(milp.model.num_nonzeros(), c.nonzeros);
}

INSTANTIATE_TEST_SUITE_P(
    Spec211, PaperMilpSize,
    ::testing::Values(SizeCase{"single24", "single_cluster/config/cluster24.ini", false, 1848, 1376, 13960},
                      SizeCase{"three_region_pruned", "distributed_clusters/config/3cluster24.ini", true, 1122, 876, 8326},
                      SizeCase{"three_region_full", "distributed_clusters/config/3cluster24.ini", false, 1848, 1376, 13960},
                      SizeCase{"high_het_pruned", "high_heterogeneity/config/cluster42.ini", true, 2772, 2144, 25025},
                      SizeCase{"high_het_full", "high_heterogeneity/config/cluster42.ini", false, 5502, 4004, 49546}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(PaperMilp, KeepingRedundantRowsAddsOneRowPerCoordinatorArc) {
  // §2.11: remove_redundant = false adds |S| + |T| rows (the source/sink enable
  // rows; node arcs have none) and bounds start_i by L - 1.
  const PaperInstance p = instance("distributed_clusters/config/3cluster24.ini", "llama2-70b", true);
  const PaperMilp lean = build_paper_milp(p.cluster, p.model, p.perf);
  const PaperMilp full = build_paper_milp(p.cluster, p.model, p.perf, {.remove_redundant = false});
  EXPECT_EQ(full.model.num_rows(), lean.model.num_rows() + 12 + 12);
  EXPECT_EQ(full.model.num_columns(), lean.model.num_columns());
  EXPECT_EQ(full.model.column(full.start[0]).upper, 79);
  EXPECT_TRUE(std::isinf(lean.model.column(lean.start[0]).upper));
}

TEST(PaperMilp, PartialInferenceAddsTwoBinariesPerNodeArc) {
  const PaperInstance p = instance("distributed_clusters/config/3cluster24.ini", "llama2-70b", true);
  const PaperMilp lean = build_paper_milp(p.cluster, p.model, p.perf);
  const PaperMilp partial = build_paper_milp(p.cluster, p.model, p.perf, {.allow_partial_inference = true});
  const int node_arcs = 2 * 163;
  EXPECT_EQ(partial.model.num_columns(), lean.model.num_columns() + 2 * node_arcs);
  // Per node arc: cond1, cond2 and d = c1 & c2 rows replace the two disable rows.
  EXPECT_EQ(partial.model.num_rows(), lean.model.num_rows() + node_arcs);
}

// ---- against the published ilp_model.lp files ------------------------------------------

bool same_number(double a, double b) {
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= 1e-12 * std::max({1.0, std::abs(a), std::abs(b)});
}

// Every published row and column exists in helix's model with the same bounds
// and coefficients, and vice versa (by count).
void expect_same_as_published(const MilpModel& ours, const MilpModel& published) {
  ASSERT_EQ(ours.num_rows(), published.num_rows());
  ASSERT_EQ(ours.num_columns(), published.num_columns());
  EXPECT_EQ(ours.num_nonzeros(), published.num_nonzeros());
  EXPECT_EQ(ours.maximize(), published.maximize());
  for (const MilpColumn& c : published.columns()) {
    const int j = ours.column_index(c.name);
    ASSERT_GE(j, 0) << "missing column " << c.name;
    const MilpColumn& mine = ours.column(j);
    EXPECT_EQ(mine.integer, c.integer) << c.name;
    EXPECT_TRUE(same_number(mine.lower, c.lower) && same_number(mine.upper, c.upper)) << c.name;
    EXPECT_EQ(mine.objective, c.objective) << c.name;
  }
  int mismatches = 0;
  for (const MilpRow& row : published.rows()) {
    const int r = ours.row_index(row.name);
    ASSERT_GE(r, 0) << "missing row " << row.name;
    const MilpRow& mine = ours.row(r);
    bool same = same_number(mine.lower, row.lower) && same_number(mine.upper, row.upper) &&
                mine.terms.size() == row.terms.size();
    for (const MilpTerm& t : mine.terms) {
      const std::string& column = ours.column(t.column).name;
      const auto it = std::find_if(row.terms.begin(), row.terms.end(), [&](const MilpTerm& p) {
        return published.column(p.column).name == column;
      });
      same = same && it != row.terms.end() && same_number(it->coefficient, t.coefficient);
    }
    if (!same && ++mismatches <= 5) ADD_FAILURE() << "row " << row.name << " differs";
  }
  EXPECT_EQ(mismatches, 0);
}

struct PublishedModel {
  const char* name;
  const char* config;
  const char* profiles_dir;  // "" = beside the config
  const char* model;
  const char* lp;
  bool prune;
  bool remove_redundant;
};

class PaperMilpPublished : public ::testing::TestWithParam<PublishedModel> {};

TEST_P(PaperMilpPublished, EqualsTheGurobiModelRowByRow) {
  const PublishedModel& c = GetParam();
  ClusterSpec cluster = test::paper_cluster(c.config, c.profiles_dir);
  if (c.prune) cluster = prune_cluster(cluster, 12, 12, 1);
  const ModelSpec model = model_preset(c.model);
  const PerfModel perf = PerfModel::build(cluster, model);
  const PaperMilp milp = build_paper_milp(cluster, model, perf, {.remove_redundant = c.remove_redundant});
  const MilpModel published = read_lp_file(test::artifact(c.lp));
  expect_same_as_published(milp.model, published);
  // helix's LP text of the model reads back as the same model.
  const test::TempDir dir;
  expect_same_as_published(read_lp_file(dir.write("ilp_model.lp", milp.model.to_lp())), published);
}

INSTANTIATE_TEST_SUITE_P(
    Artifact, PaperMilpPublished,
    ::testing::Values(
        PublishedModel{"single24_70b", "single_cluster/config/cluster24.ini", "", "llama2-70b",
                       "single_cluster/layout_llama70b/ilp/ilp_model.lp", false, true},
        PublishedModel{"three_region_70b_pruned", "distributed_clusters/config/3cluster24.ini", "", "llama2-70b",
                       "distributed_clusters/layout_llama70b/ilp/ilp_model.lp", true, true},
        PublishedModel{"high_het_70b_pruned", "high_heterogeneity/config/cluster42.ini", "", "llama2-70b",
                       "high_heterogeneity/layout_llama70b/ilp/ilp_model.lp", true, true},
        PublishedModel{"a100_30b_redundant", "single_cluster/config/a100.ini", "", "llama1-30b",
                       "single_cluster/layout_llama30b/ilp/a100/ilp_model.lp", false, false},
        PublishedModel{"t4_30b_redundant", "single_cluster/config/t4.ini", "", "llama1-30b",
                       "single_cluster/layout_llama30b/ilp/t4/ilp_model.lp", false, false}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// ---- a tiny cluster: CBC's optimum equals brute force ----------------------------------

// Three nodes, 5 layers; capacities non-monotone in k; links slow enough to bind.
struct TinyInstance {
  ClusterSpec cluster;
  ModelSpec model;
  PerfModel perf;
};

TinyInstance tiny_instance() {
  ClusterSpec c;
  c.name = "tiny";
  c.gpu_types.push_back(GpuType{"G", 1e10, 1e10, 1e10, 1e9, 0, 0, "", ""});
  c.regions = {"r"};
  for (int i = 0; i < 3; ++i) c.nodes.push_back({"ComputeNode-" + std::to_string(i), 0, 0});
  const double coordinator_bw[3] = {400, 120, 300};  // B/s; token = 2 B -> 200, 60, 150 tok/s
  for (int i = 0; i < 3; ++i) {
    c.links.push_back({kCoordinator, i, coordinator_bw[i], 0});
    c.links.push_back({i, kCoordinator, coordinator_bw[2 - i], 0});
  }
  c.links.push_back({0, 1, 9000, 0});  // activation 100 B -> 90 tok/s
  c.links.push_back({1, 0, 9000, 0});
  c.links.push_back({1, 2, 4000, 0});  // 40 tok/s
  c.links.push_back({2, 1, 4000, 0});
  c.links.push_back({0, 2, 25000, 0});  // 250 tok/s, one way only
  c.index_links();
  ModelSpec m;
  m.name = "tiny-model";
  m.num_layers = 5;
  m.token_size_bytes = 2;
  m.activation_bytes_per_token = 100;
  auto node = [](std::vector<double> caps) {
    NodePerf n;
    n.max_layers = static_cast<int>(caps.size());
    n.throughput_tps = caps;
    n.capacity_tps = caps;
    n.kv_capacity.assign(caps.size(), 1000);
    return n;
  };
  PerfModel perf = PerfModel::from_tables(5, {node({120, 70, 50}), node({90, 80}), node({150, 60, 55, 30})});
  return {std::move(c), std::move(m), std::move(perf)};
}

// Max over every placement in which each node holds 1..K_i layers (the MILP's domain).
double enumerate_placements(const TinyInstance& t) {
  double best = 0;
  std::vector<LayerRange> ranges(3);
  std::function<void(std::size_t)> visit = [&](std::size_t i) {
    if (i == ranges.size()) {
      best = std::max(best, solve_planner_flow(t.cluster, t.model, t.perf, ranges).max_flow_tps);
      return;
    }
    for (int k = 1; k <= t.perf.node(static_cast<int>(i)).max_layers; ++k) {
      for (int s = 0; s + k <= t.model.num_layers; ++s) {
        ranges[i] = {s, s + k};
        visit(i + 1);
      }
    }
  };
  visit(0);
  return best;
}

// The tiny instance's optimum, enumerated once.
double brute_force(const TinyInstance& t) {
  static const double best = enumerate_placements(t);
  return best;
}

TEST(PaperMilp, TinyClusterOptimumEqualsBruteForce) {
  const TinyInstance t = tiny_instance();
  const double expected = brute_force(t);
  ASSERT_GT(expected, 0);
  for (bool remove_redundant : {true, false}) {
    const PaperMilp milp = build_paper_milp(t.cluster, t.model, t.perf, {.remove_redundant = remove_redundant});
    const MilpResult r = solve_with_cbc(milp.model);
    ASSERT_EQ(r.status, MilpStatus::Optimal);
    EXPECT_NEAR(r.objective, expected, 1e-6) << "remove_redundant " << remove_redundant;
    const std::vector<LayerRange> ranges = paper_milp_ranges(milp, r.values);
    EXPECT_NEAR(solve_planner_flow(t.cluster, t.model, t.perf, ranges).max_flow_tps, expected, 1e-6);
  }
}

TEST(PaperMilp, PartialInferenceNeverDoesWorse) {
  // Every arc valid without partial inference is valid with it (e_i = s_j implies
  // s_j <= e_i < e_j), so the optimum can only grow.
  const TinyInstance t = tiny_instance();
  const PaperMilp partial = build_paper_milp(t.cluster, t.model, t.perf, {.allow_partial_inference = true});
  const MilpResult r = solve_with_cbc(partial.model);
  ASSERT_EQ(r.status, MilpStatus::Optimal);
  EXPECT_GE(r.objective, brute_force(t) - 1e-6);
}

// ---- warm start and solution conversion (§2.5, §2.6) -----------------------------------

TEST(PaperMilp, StartFollowsSection26) {
  const TinyInstance t = tiny_instance();
  const PaperMilp milp = build_paper_milp(t.cluster, t.model, t.perf);
  const std::vector<LayerRange> ranges{{0, 2}, {2, 4}, {4, 5}};
  const auto start = paper_milp_start(milp, ranges);
  std::map<std::string, double> values(start.begin(), start.end());
  EXPECT_EQ(values.size(), 3u + 3 + 2 + 4);  // start_i and every hold_i_k, nothing else
  EXPECT_EQ(values["start_1"], 2);
  EXPECT_EQ(values["hold_1_2"], 1);
  EXPECT_EQ(values["hold_1_1"], 0);
  EXPECT_EQ(values["hold_2_1"], 1);
  const auto with_switches = paper_milp_start(milp, ranges, true);
  std::map<std::string, double> all(with_switches.begin(), with_switches.end());
  EXPECT_EQ(all["switch_source_0"], 1);
  EXPECT_EQ(all["switch_source_1"], 0);
  EXPECT_EQ(all["switch_0_1"], 1);
  EXPECT_EQ(all["switch_1_2"], 1);
  EXPECT_EQ(all["switch_0_2"], 0);
  EXPECT_EQ(all["switch_2_sink"], 1);
  // A node holding more than K_i layers, or nothing, is left out of the start.
  const auto skipped = paper_milp_start(milp, std::vector<LayerRange>{{0, 4}, {}, {0, 5}});
  EXPECT_TRUE(skipped.empty());
}

TEST(PaperMilp, SolutionValuesConvertToRanges) {
  const TinyInstance t = tiny_instance();
  const PaperMilp milp = build_paper_milp(t.cluster, t.model, t.perf);
  std::vector<double> values(static_cast<std::size_t>(milp.model.num_columns()), 0.0);
  values[static_cast<std::size_t>(milp.start[0])] = 2.0000001;
  values[static_cast<std::size_t>(milp.hold[0][2])] = 0.9999999;
  values[static_cast<std::size_t>(milp.hold[1][0])] = 1;
  values[static_cast<std::size_t>(milp.start[2])] = 1;
  values[static_cast<std::size_t>(milp.hold[2][3])] = 1;
  EXPECT_EQ(paper_milp_ranges(milp, values), (std::vector<LayerRange>{{2, 5}, {0, 1}, {1, 5}}));
  values[static_cast<std::size_t>(milp.hold[1][0])] = 0;
  EXPECT_THROW(paper_milp_ranges(milp, values), Error);
}

TEST(PaperMilp, RejectsNodesThatHoldNothing) {
  TinyInstance t = tiny_instance();
  auto empty = t.perf.node(0);
  empty.max_layers = 0;
  empty.throughput_tps.clear();
  empty.capacity_tps.clear();
  empty.kv_capacity.clear();
  const PerfModel perf = PerfModel::from_tables(5, {empty, t.perf.node(1), t.perf.node(2)});
  EXPECT_THROW(build_paper_milp(t.cluster, t.model, perf), Error);
}

// ---- the planner -------------------------------------------------------------------------

TEST(PaperMilpPlanner, FindsTheTinyOptimumAndReportsDetails) {
  const TinyInstance t = tiny_instance();
  PlanContext ctx{t.cluster, t.model, t.perf, 0};
  ctx.time_limit_s = 600;  // a hang guard: CBC proves the tiny optimum in ms
  std::vector<PlanProgress> progress;
  ctx.on_progress = [&](const PlanProgress& p) { progress.push_back(p); };
  const std::unique_ptr<Planner> planner = make_planner("milp-paper");
  const Placement p = plan_and_evaluate(*planner, ctx);
  EXPECT_EQ(p.method, "milp-paper");
  EXPECT_NEAR(p.objective_tps, brute_force(t), 1e-6);
  EXPECT_EQ(p.details["status"], "optimal");
  EXPECT_NEAR(p.details["upper_bound_tps"].get<double>(), p.objective_tps, 1e-6);
  EXPECT_NEAR(p.details["gap"].get<double>(), 0, 1e-9);
  EXPECT_EQ(p.details["warm_start"], "petals");
  EXPECT_EQ(p.details["bound_method"], "CBC branch-and-bound on the paper's MILP");
  EXPECT_EQ(p.details["milp_columns"], 3 + 9 + 2 * 11);
  EXPECT_TRUE(p.details.contains("time_to_best_s"));
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.front().source, "start: petals");
}

TEST(PaperMilpPlanner, StopFlagReturnsTheWarmStartOnThePaperCluster) {
  // Single-24 70B: stopped at once, the result is at least the Petals start (531.703, §2.6).
  const PaperInstance inst = instance("single_cluster/config/cluster24.ini", "llama2-70b", false);
  PlanContext ctx{inst.cluster, inst.model, inst.perf, 0};
  std::atomic<bool> stop{true};
  ctx.stop = &stop;
  ctx.time_limit_s = 30;
  const Placement p = PaperMilpPlanner().plan(ctx);
  EXPECT_EQ(p.details["status"], "stopped");
  EXPECT_NEAR(p.details["warm_start_tps"].get<double>(), 531.703, 1e-3);
  EXPECT_GE(p.objective_tps, 531.703 - 1e-3);
  EXPECT_EQ(p.details["milp_rows"], 1848);
  EXPECT_EQ(p.details["milp_nonzeros"], 13960);
}

TEST(PaperMilpPlanner, UsesAGivenStartAndPrunes) {
  const PaperInstance inst = instance("distributed_clusters/config/3cluster24.ini", "llama2-70b", false);
  const Placement swarm = test::paper_placement("distributed_clusters/layout_llama70b/swarm/swarm_sol.ini",
                                                inst.cluster, inst.model);
  PlanContext ctx{inst.cluster, inst.model, inst.perf, 0};
  ctx.start = &swarm;
  std::atomic<bool> stop{true};
  ctx.stop = &stop;
  PaperMilpPlannerOptions options;
  options.prune = true;
  const Placement p = PaperMilpPlanner(options).plan(ctx);
  EXPECT_EQ(p.details["warm_start"], "given");
  EXPECT_EQ(p.details["pruned_links"], 12 + 12 + 2 * 163);
  EXPECT_EQ(p.details["milp_rows"], 1122);
  // §2.12: the Swarm layout flows 616.455 on the full cluster (0 once pruned); the
  // planner keeps whichever placement flows more on the real cluster.
  EXPECT_GE(p.objective_tps, 616.455 - 1e-3);
}

// The 60-second measurement of CBC on the paper MILP lives in bench/planner.sh.

}  // namespace
}  // namespace helix
