// solve_with_cbc: known optima, infeasibility, the wall-clock limit, the stop flag,
// MIP starts and the incumbent callback. Serial CBC (threads = 1): deterministic.
#include "helix/milp/cbc_solver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>

#include "helix/core/error.h"
#include "milp_test_problems.h"

namespace helix {
namespace {

double wall_seconds(const auto& body) {
  const auto t0 = std::chrono::steady_clock::now();
  body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(CbcSolver, KnapsackOptimum) {
  const test::Knapsack k;
  const MilpModel m = k.model();
  const MilpResult r = solve_with_cbc(m);
  ASSERT_EQ(r.status, MilpStatus::Optimal);
  EXPECT_DOUBLE_EQ(r.objective, k.brute_force());
  EXPECT_NEAR(r.best_bound, r.objective, 1e-6);
  EXPECT_LE(m.max_violation(r.values), 1e-9);
  EXPECT_EQ(to_string(r.status), "optimal");
}

TEST(CbcSolver, FacilityLocationOptimum) {
  const test::FacilityLocation f;
  const MilpModel m = f.model();
  const MilpResult r = solve_with_cbc(m);
  ASSERT_EQ(r.status, MilpStatus::Optimal);
  EXPECT_NEAR(r.objective, f.brute_force(), 1e-6);
  EXPECT_LE(m.max_violation(r.values), 1e-6);
}

TEST(CbcSolver, ReportsInfeasibility) {
  MilpModel m;
  const int x = m.add_integer("x", 0, 10, 1);
  const int y = m.add_integer("y", 0, 10, 1);
  m.add_eq("odd", {{x, 2}, {y, 2}}, 7);  // LP-feasible, integer-infeasible
  const MilpResult r = solve_with_cbc(m);
  EXPECT_EQ(r.status, MilpStatus::Infeasible);
  EXPECT_FALSE(r.has_solution());

  MilpModel lp_infeasible;
  const int z = lp_infeasible.add_binary("z");
  lp_infeasible.add_ge("too_much", {{z, 1}}, 2);
  EXPECT_EQ(solve_with_cbc(lp_infeasible).status, MilpStatus::Infeasible);
}

TEST(CbcSolver, HonoursTheWallClockLimit) {
  const MilpModel m = test::market_split();
  MilpOptions options;
  options.time_limit_s = 0.5;
  MilpResult r;
  const double wall = wall_seconds([&] { r = solve_with_cbc(m, options); });
  // Usually the limit ends the search (feasible or no solution yet); now and then
  // CBC proves this instance optimal within the 0.5 s — also within the limit.
  // (Seen in a clean-clone CI run: "optimal" after 0.50 s.)
  EXPECT_TRUE(r.status == MilpStatus::Feasible || r.status == MilpStatus::NoSolution ||
              r.status == MilpStatus::Optimal)
      << to_string(r.status);
  EXPECT_LT(wall, 2.5);
  if (r.has_solution()) {
    EXPECT_LE(m.max_violation(r.values), 1e-6);
    EXPECT_LE(r.best_bound, r.objective + 1e-6);  // minimisation: bound below
  }
}

TEST(CbcSolver, StopFlagSetBeforehandStopsAtOnce) {
  const MilpModel m = test::market_split();
  std::atomic<bool> stop{true};
  MilpOptions options;
  options.stop = &stop;
  MilpResult r;
  const double wall = wall_seconds([&] { r = solve_with_cbc(m, options); });
  EXPECT_EQ(r.status, MilpStatus::Stopped);
  EXPECT_LT(wall, 2.0);
}

TEST(CbcSolver, StopFlagKeepsTheIncumbent) {
  const MilpModel m = test::market_split();
  std::atomic<bool> stop{false};
  MilpOptions options;
  options.stop = &stop;
  options.time_limit_s = 600;  // a hang guard only
  options.on_incumbent = [&](const MilpIncumbent&) { stop = true; };
  MilpResult r;
  const double wall = wall_seconds([&] { r = solve_with_cbc(m, options); });
  EXPECT_EQ(r.status, MilpStatus::Stopped);
  ASSERT_TRUE(r.has_solution());
  EXPECT_LE(m.max_violation(r.values), 1e-6);
  EXPECT_LT(wall, 5.0);
}

TEST(CbcSolver, AcceptsAPartialMipStart) {
  // Start: every x = 0 (the slacks are left to CBC). Objective = sum of the d_i.
  const MilpModel m = test::market_split();
  MilpOptions options;
  double start_objective = 0;
  for (const MilpRow& row : m.rows()) start_objective += row.upper;
  for (int j = 0; j < 30; ++j) options.mip_start.emplace_back("x" + std::to_string(j), 0.0);
  std::atomic<bool> stop{true};  // stop at the first event: only the start is known
  options.stop = &stop;
  std::vector<MilpIncumbent> seen;
  options.on_incumbent = [&](const MilpIncumbent& i) { seen.push_back(i); };
  const MilpResult r = solve_with_cbc(m, options);
  ASSERT_TRUE(r.has_solution());
  EXPECT_LE(r.objective, start_objective + 1e-6);
  ASSERT_FALSE(seen.empty());
  EXPECT_NEAR(seen.front().objective, start_objective, 1e-6);
}

TEST(CbcSolver, RejectsAStartNamingUnknownColumns) {
  MilpOptions options;
  options.mip_start = {{"no_such_column", 1}};
  EXPECT_THROW(solve_with_cbc(test::Knapsack{}.model(), options), Error);
}

TEST(CbcSolver, IncumbentsImproveAndEndAtTheResult) {
  const MilpModel m = test::market_split(3, 16);  // small enough to finish
  std::vector<MilpIncumbent> seen;
  MilpOptions options;
  options.time_limit_s = 600;  // a hang guard: the instance is solved to optimality
  options.on_incumbent = [&](const MilpIncumbent& i) { seen.push_back(i); };
  const MilpResult r = solve_with_cbc(m, options);
  ASSERT_EQ(r.status, MilpStatus::Optimal);
  ASSERT_FALSE(seen.empty());
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_LT(seen[i].objective, seen[i - 1].objective);
    EXPECT_GE(seen[i].seconds, seen[i - 1].seconds);
  }
  EXPECT_NEAR(seen.back().objective, r.objective, 1e-6);
  EXPECT_NEAR(r.time_to_best_s, seen.back().seconds, 1e-9);
  EXPECT_LE(r.time_to_best_s, r.seconds);
}


TEST(CbcSolver, ParallelSearchFindsTheOptimumToo) {
  const test::FacilityLocation f;
  MilpOptions options;
  options.threads = 2;
  const MilpResult r = solve_with_cbc(f.model(), options);
  ASSERT_EQ(r.status, MilpStatus::Optimal);
  EXPECT_NEAR(r.objective, f.brute_force(), 1e-6);
}

void custom_sigint(int) {}

TEST(CbcSolver, LeavesTheApplicationsSigintHandlerAlone) {
  const auto previous = std::signal(SIGINT, custom_sigint);
  solve_with_cbc(test::Knapsack{}.model());
  EXPECT_EQ(std::signal(SIGINT, previous), custom_sigint);
}

}  // namespace
}  // namespace helix
