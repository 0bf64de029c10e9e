#include "helix/core/units.h"

#include <gtest/gtest.h>

#include "helix/core/error.h"

namespace helix {
namespace {

TEST(Units, BandwidthBitsAndBytesAreDistinct) {
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("1 Gbps"), 1.25e8);
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("100Mbit/s"), 1.25e7);
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("12.5 MB/s"), 1.25e7);
  EXPECT_DOUBLE_EQ(parse_bandwidth_Bps("1 GiB/s"), 1024.0 * 1024 * 1024);
}

TEST(Units, AmbiguousLowerCaseMbpsIsRefusedWithAHint) {
  try {
    parse_bandwidth_Bps("1000 mbps");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("ambiguous"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Mbps"), std::string::npos) << msg;
    EXPECT_NE(msg.find("MB/s"), std::string::npos) << msg;
  }
}

TEST(Units, UnknownMissingAndNegativeUnitsAreErrors) {
  EXPECT_THROW(parse_bandwidth_Bps("10 Gbsp"), Error);
  EXPECT_THROW(parse_bandwidth_Bps("10"), Error);
  EXPECT_THROW(parse_bandwidth_Bps("fast"), Error);
  EXPECT_THROW(parse_bandwidth_Bps("-1 Gbps"), Error);
  EXPECT_THROW(parse_duration_s("5 hours"), Error);
  EXPECT_THROW(parse_size_bytes("40 Gb"), Error);
}

TEST(Units, DurationsAndSizes) {
  EXPECT_DOUBLE_EQ(parse_duration_s("50 ms"), 0.05);
  EXPECT_DOUBLE_EQ(parse_duration_s("1s"), 1.0);
  EXPECT_DOUBLE_EQ(parse_duration_s("250 us"), 250e-6);
  EXPECT_DOUBLE_EQ(parse_size_bytes("40 GB"), 4e10);
  EXPECT_DOUBLE_EQ(parse_size_bytes("16 GiB"), 16.0 * 1024 * 1024 * 1024);
}

TEST(Units, FormattingSaysBitsPerSecond) {
  EXPECT_EQ(format_bandwidth(1.25e8), "1 Gbps");
  EXPECT_EQ(format_bandwidth(1.5625e6), "12.5 Mbps");
  EXPECT_EQ(format_duration(0.05), "50 ms");
  EXPECT_EQ(format_size(4e10), "40 GB");
}

}  // namespace
}  // namespace helix
