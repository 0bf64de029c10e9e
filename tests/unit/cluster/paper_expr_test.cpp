#include "helix/cluster/paper_expr.h"

#include <gtest/gtest.h>

#include "cluster_test_util.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;

TEST(PaperExpr, NumbersUseThePapersByteConvention) {
  EXPECT_EQ(paper_number("1000 * mbps"), 1e9);  // bytes per second, not bits
  EXPECT_EQ(paper_number("10.6 * mbps"), 10.6 * 1e6);
  EXPECT_EQ(paper_number("10 * gbps"), 1e10);
  EXPECT_EQ(paper_number("1 * MilliSec"), 1e-3);
  EXPECT_EQ(paper_number("16 * GB"), 16e9);
  EXPECT_EQ(paper_number("48000.0 * MB"), 48e9);
  EXPECT_EQ(paper_number("-1"), -1);
  EXPECT_EQ(paper_number("853088"), 853088);
  EXPECT_EQ(paper_number("  2 * 3 / 4 "), 1.5);
  EXPECT_EQ(paper_number("1e3*kbps"), 1e6);
}

TEST(PaperExpr, BadNumbersSayWhy) {
  expect_contains(error_message([] { paper_number("1000 * mpbs"); }), {"unknown unit 'mpbs'", "mbps"});
  expect_contains(error_message([] { paper_number("1000 *"); }), {"missing"});
  expect_contains(error_message([] { paper_number("10 gbps"); }), {"unexpected"});
  expect_contains(error_message([] { paper_number("1 / 0"); }), {"division by zero"});
  EXPECT_THROW(paper_number(""), Error);
}

TEST(PaperExpr, Integers) {
  EXPECT_EQ(paper_integer("24"), 24);
  EXPECT_THROW(paper_integer("2.5"), Error);
}

TEST(PaperExpr, StringsAndLists) {
  EXPECT_EQ(paper_string("'T4'"), "T4");
  EXPECT_EQ(paper_string("\"L4x2\""), "L4x2");
  EXPECT_EQ(paper_string("source"), "source");
  EXPECT_THROW(paper_string("'T4"), Error);
  EXPECT_EQ(paper_list("[0, 1, 'source', \"sink\"]"), (std::vector<std::string>{"0", "1", "source", "sink"}));
  EXPECT_EQ(paper_list("[]"), std::vector<std::string>{});
  EXPECT_EQ(paper_list("[3,]"), std::vector<std::string>{"3"});
  EXPECT_EQ(paper_list("['a,b']"), std::vector<std::string>{"a,b"});
  EXPECT_THROW(paper_list("0, 1"), Error);
  EXPECT_THROW(paper_list("[0, , 1]"), Error);
  EXPECT_THROW(paper_list("['a]"), Error);
}

}  // namespace
}  // namespace helix
