// MilpModel: construction rules, the CPLEX-LP writer, and LP round trips through
// CoinUtils' reader and CBC.
#include "helix/milp/milp_model.h"

#include <gtest/gtest.h>

#include "helix/core/error.h"
#include "helix/milp/cbc_solver.h"
#include "helix/milp/lp_reader.h"
#include "milp_test_problems.h"
#include "support/test_support.h"

namespace helix {
namespace {

// A model touching every LP feature: both senses of rows, an equality, a ranged
// row, general integers, a free column, negative and fixed bounds, wrapped lines.
MilpModel mixed_model() {
  MilpModel m;
  m.name = "mixed";
  m.set_maximize(true);
  const int x = m.add_integer("x", 0, 10, 3);
  const int y = m.add_continuous("y", -5, 4.5, 2);
  const int z = m.add_binary("z", -1);
  const int f = m.add_continuous("f", -kMilpInfinity, kMilpInfinity, 0);
  const int g = m.add_continuous("g", -kMilpInfinity, 7, -0.25);
  const int h = m.add_continuous("h", 2, 2, 1);
  const int w = m.add_integer("w", -3, kMilpInfinity, -1);
  m.add_le("c1", {{x, 1}, {y, 1}, {z, 4}}, 12.5);
  m.add_ge("c2", {{x, 2}, {y, -1}, {w, 1}}, -3);
  m.add_eq("c3", {{f, 1}, {x, -1}, {g, 1}}, 0.5);
  m.add_row({"c4", {{g, 1}, {w, 1}}, -2, 6});
  std::vector<MilpTerm> many;
  for (int j : {x, y, z, f, g, h, w}) many.push_back({j, 1.0 / 3.0});
  m.add_le("long_row_that_wraps", many, 40);
  return m;
}

MilpModel read_back(const MilpModel& model) {
  test::TempDir dir;
  return read_lp_file(dir.write("model.lp", model.to_lp()));
}

TEST(MilpModel, RowsMergeRepeatedColumnsAndDropZeros) {
  MilpModel m;
  const int a = m.add_continuous("a", 0, 1);
  const int b = m.add_continuous("b", 0, 1);
  m.add_le("r", {{a, 1}, {b, 2}, {a, 2}, {b, -2}}, 1);
  ASSERT_EQ(m.row(0).terms.size(), 1u);
  EXPECT_EQ(m.row(0).terms[0].column, a);
  EXPECT_EQ(m.row(0).terms[0].coefficient, 3);
  EXPECT_EQ(m.num_nonzeros(), 1u);
}

TEST(MilpModel, RejectsBadNamesBoundsAndReferences) {
  MilpModel m;
  m.add_binary("x");
  EXPECT_THROW(m.add_binary("x"), Error);             // duplicate
  EXPECT_THROW(m.add_binary("1x"), Error);            // starts with a digit
  EXPECT_THROW(m.add_binary("a b"), Error);           // blank
  EXPECT_THROW(m.add_binary(std::string(101, 'a')), Error);
  EXPECT_THROW(m.add_continuous("y", 2, 1), Error);   // lower > upper
  EXPECT_THROW(m.add_le("r", {{5, 1}}, 1), Error);    // unknown column
  EXPECT_THROW(m.add_row({"free", {{0, 1}}, -kMilpInfinity, kMilpInfinity}), Error);
  m.add_le("r", {{0, 1}}, 1);
  EXPECT_THROW(m.add_le("r", {{0, 1}}, 1), Error);    // duplicate row
  EXPECT_EQ(m.column_index("x"), 0);
  EXPECT_EQ(m.column_index("nope"), -1);
  EXPECT_EQ(m.row_index("r"), 0);
}

TEST(MilpModel, WritesCplexLpText) {
  MilpModel m;
  m.name = "tiny";
  m.set_maximize(true);
  const int s = m.add_integer("start_0", 0, kMilpInfinity);
  const int h = m.add_binary("hold_0_1");
  const int f = m.add_continuous("flow_source_0", 0, kMilpInfinity, 1);
  m.add_eq("hold_constraint_0", {{h, 1}}, 1);
  m.add_le("end_constraint_0", {{s, 1}, {h, 1}}, 80);
  m.add_le("edge_flow_constr_source_0", {{f, 1}, {h, -5e8}}, 0);
  m.add_ge("g", {{s, -1}, {f, 0.5}}, -2);
  EXPECT_EQ(m.to_lp(),
            "\\ tiny\n"
            "Maximize\n"
            " obj: flow_source_0\n"
            "Subject To\n"
            " hold_constraint_0: hold_0_1 = 1\n"
            " end_constraint_0: start_0 + hold_0_1 <= 80\n"
            " edge_flow_constr_source_0: flow_source_0 - 500000000 hold_0_1 <= 0\n"
            " g: - start_0 + 0.5 flow_source_0 >= -2\n"
            "Bounds\n"
            "Generals\n"
            " start_0\n"
            "Binaries\n"
            " hold_0_1\n"
            "End\n");
}

TEST(MilpModel, ObjectiveAndViolation) {
  test::Knapsack k;
  MilpModel m = k.model();
  std::vector<double> x(10, 0);
  x[0] = x[1] = 1;  // weight 12
  EXPECT_EQ(m.objective_value(x), 23);
  EXPECT_EQ(m.max_violation(x), 0);
  x[2] = x[3] = x[4] = 1;  // weight 24 > 20
  EXPECT_DOUBLE_EQ(m.max_violation(x), 4);
  x[2] = 0.5;
  EXPECT_GT(m.max_violation(x), 0.4);
}

void expect_same_model(const MilpModel& a, const MilpModel& b) {
  ASSERT_EQ(a.num_columns(), b.num_columns());
  EXPECT_EQ(a.maximize(), b.maximize());
  for (int j = 0; j < a.num_columns(); ++j) {
    const MilpColumn& ca = a.column(j);
    const MilpColumn& cb = b.column(b.column_index(ca.name));
    EXPECT_EQ(ca.lower, cb.lower) << ca.name;
    EXPECT_EQ(ca.upper, cb.upper) << ca.name;
    EXPECT_EQ(ca.objective, cb.objective) << ca.name;
    EXPECT_EQ(ca.integer, cb.integer) << ca.name;
  }
  for (const MilpRow& ra : a.rows()) {
    // CoinLpIO splits a ranged row into "name" (<= upper) and "name_low" (>= lower).
    const bool ranged = std::isfinite(ra.lower) && std::isfinite(ra.upper) && ra.lower != ra.upper;
    const int r = b.row_index(ra.name);
    ASSERT_GE(r, 0) << ra.name;
    const MilpRow& rb = b.row(r);
    EXPECT_EQ(ranged ? -kMilpInfinity : ra.lower, rb.lower) << ra.name;
    EXPECT_EQ(ra.upper, rb.upper) << ra.name;
    if (ranged) {
      EXPECT_EQ(b.row(b.row_index(ra.name + "_low")).lower, ra.lower);
    }
    ASSERT_EQ(ra.terms.size(), rb.terms.size()) << ra.name;
    for (std::size_t t = 0; t < ra.terms.size(); ++t) {
      const std::string& column = a.column(ra.terms[t].column).name;
      bool found = false;
      for (const MilpTerm& tb : rb.terms) {
        if (b.column(tb.column).name != column) continue;
        EXPECT_EQ(tb.coefficient, ra.terms[t].coefficient) << ra.name << " " << column;
        found = true;
      }
      EXPECT_TRUE(found) << ra.name << " " << column;
    }
  }
}

TEST(MilpModel, LpTextReadsBackExactly) {
  const MilpModel mixed = mixed_model();
  expect_same_model(mixed, read_back(mixed));
  const MilpModel facility = test::FacilityLocation{}.model();
  expect_same_model(facility, read_back(facility));
}

TEST(MilpModel, LpRoundTripSolvesToTheSameOptimum) {
  for (const MilpModel& m : {mixed_model(), test::Knapsack{}.model(), test::FacilityLocation{}.model()}) {
    const MilpResult direct = solve_with_cbc(m);
    const MilpResult via_lp = solve_with_cbc(read_back(m));
    ASSERT_EQ(direct.status, MilpStatus::Optimal) << m.name;
    ASSERT_EQ(via_lp.status, MilpStatus::Optimal) << m.name;
    EXPECT_NEAR(direct.objective, via_lp.objective, 1e-6) << m.name;
  }
}

TEST(MilpModel, MixedModelOptimum) {
  // By hand: h = 2 is fixed; z = 0; -w - 0.25g with g >= -2 - w is best at w = -3,
  // g = 1 (+2.75); 3x + 2y with x + y <= 12.5, x <= 10 is best at x = 10, y = 2.5 (35).
  const MilpModel m = mixed_model();
  const MilpResult r = solve_with_cbc(m);
  ASSERT_EQ(r.status, MilpStatus::Optimal);
  EXPECT_NEAR(r.objective, 39.75, 1e-6);
  EXPECT_LE(m.max_violation(r.values), 1e-6);
}

}  // namespace
}  // namespace helix
