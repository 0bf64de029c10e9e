#include "helix/perf/layer_time_table.h"

#include <gtest/gtest.h>

#include "helix/core/error.h"

namespace helix {
namespace {

LayerTimeTable table() {
  return LayerTimeTable::from_csv("batch_tokens,time_ms_per_layer\n0,0.0\n2,1.4\n4,1.5\n10,3.0\n",
                                  "t.csv");
}

TEST(LayerTimeTable, ExactKeyReturnsItsValueInSeconds) {
  LayerTimeTable t = table();
  EXPECT_EQ(t.at(0), 0.0);
  EXPECT_EQ(t.at(2), 1.4 * 1e-3);  // the paper's loader: float(ms) * MilliSec
  EXPECT_EQ(t.at(10), 3.0 * 1e-3);
  EXPECT_EQ(t.max_tokens(), 10);
}

TEST(LayerTimeTable, InterpolatesBetweenBracketingKeysInThePapersOrder) {
  LayerTimeTable t = table();
  double y0 = 1.5e-3;
  double y1 = 3.0e-3;
  // y0 + (y1 - y0) * (x - x0) / (x1 - x0), left to right.
  EXPECT_EQ(t.at(7), y0 + (y1 - y0) * 3.0 / 6.0);
  EXPECT_EQ(t.at(1), 0.0 + (1.4e-3 - 0.0) * 1.0 / 2.0);  // batch 1: half of batch 2
}

TEST(LayerTimeTable, OutsideTheTableIsAnError) {
  LayerTimeTable t = table();
  EXPECT_THROW(t.at(11), Error);
  EXPECT_THROW(t.at(-1), Error);
  EXPECT_FALSE(t.covers(11));
  EXPECT_TRUE(t.covers(10));
  LayerTimeTable empty;
  EXPECT_THROW(empty.at(0), Error);
}

TEST(LayerTimeTable, HeaderIsOptionalAndBlankLinesAndCrlfAreIgnored) {
  LayerTimeTable t = LayerTimeTable::from_csv("0,0\r\n\r\n250,2.0\r\n", "t.csv");
  EXPECT_EQ(t.points().size(), 2u);
  EXPECT_EQ(t.at(125), 1e-3);
}

TEST(LayerTimeTable, MalformedInputIsAnErrorNamingTheLine) {
  try {
    LayerTimeTable::from_csv("x,t\n0,0\n5;1\n", "bad.csv");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LayerTimeTable::from_csv("0,0\n2,abc\n", "t"), Error);
  EXPECT_THROW(LayerTimeTable::from_csv("0,0\n2.5,1\n", "t"), Error);
  EXPECT_THROW(LayerTimeTable::from_csv("0,0\n4,1\n2,1\n", "t"), Error);  // not increasing
  EXPECT_THROW(LayerTimeTable::from_csv("0,0\n4,1\n4,2\n", "t"), Error);  // duplicate
  EXPECT_THROW(LayerTimeTable::from_csv("0,0\n4,-1\n", "t"), Error);      // negative time
  EXPECT_THROW(LayerTimeTable::from_csv("0,0\n4,nan\n", "t"), Error);
  EXPECT_THROW(LayerTimeTable::from_csv("header only\n", "t"), Error);    // empty
}

}  // namespace
}  // namespace helix
