#include "helix/core/device_memory.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/error_expectations.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;

constexpr std::size_t kGB = 1'000'000'000;

// An 80 GB GPU with 20 GB in use (weights and context) may fill 72 GB: 52 GB are
// left for the cache, less what the stage still has to load.
TEST(KvBytesWithinShare, IsTheShareLessWhatIsInUseAndWhatIsStillToCome) {
  const DeviceMemory gpu{80 * kGB, 60 * kGB};
  EXPECT_EQ(kv_bytes_within_share(0.9, gpu, 0), 52 * kGB);
  EXPECT_EQ(kv_bytes_within_share(0.9, gpu, 2 * kGB), 50 * kGB);
  EXPECT_EQ(kv_bytes_within_share(1.0, gpu, 0), 60 * kGB);
  // What another process holds counts as in use: a second worker on a GPU where
  // the first holds 50 GB gets what the share leaves of the rest.
  EXPECT_EQ(kv_bytes_within_share(0.9, DeviceMemory{80 * kGB, 30 * kGB}, 0), 22 * kGB);
}

TEST(KvBytesWithinShare, NothingLeftIsAnErrorWithTheFigures) {
  expect_contains(error_message([] { kv_bytes_within_share(0.5, DeviceMemory{16 * kGB, 6 * kGB}, 0); }),
                  {"50% of 16 GB is 8 GB", "10 GB is in use already", "nothing is left for a KV cache"});
  expect_contains(error_message([] { kv_bytes_within_share(0.9, DeviceMemory{16 * kGB, 14 * kGB}, 13 * kGB); }),
                  {"the stage still needs 13 GB"});
  for (double share : {0.0, -0.5, 1.01, std::nan("")}) {
    expect_contains(error_message([&] { kv_bytes_within_share(share, DeviceMemory{kGB, kGB}, 0); }),
                    {"a share of memory must be in (0%, 100%]"});
  }
  expect_contains(error_message([] { kv_bytes_within_share(0.9, DeviceMemory{kGB, 2 * kGB}, 0); }),
                  {"reports 2 GB free of 1 GB"});
}

TEST(Meminfo, TotalAndAvailableAreReadInKibibytes) {
  const DeviceMemory m = parse_meminfo(
      "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20480000 kB\nBuffers: 5 kB\n");
  EXPECT_EQ(m.total_bytes, 24576000ULL * 1024);
  EXPECT_EQ(m.free_bytes, 20480000ULL * 1024);  // MemAvailable, not MemFree: the page cache can be reclaimed
}

TEST(Meminfo, AMissingOrMalformedFieldIsNamed) {
  expect_contains(error_message([] { parse_meminfo("MemTotal: 100 kB\nMemFree: 5 kB\n"); }), {"no MemAvailable line"});
  expect_contains(error_message([] { parse_meminfo("MemAvailable: 5 kB\n"); }), {"no MemTotal line"});
  expect_contains(error_message([] { parse_meminfo("MemTotal: lots kB\nMemAvailable: 5 kB\n"); }),
                  {"MemTotal: 'lots kB' is not a size in kB"});
  expect_contains(error_message([] { parse_meminfo("MemTotal: 100 MB\nMemAvailable: 5 kB\n"); }),
                  {"MemTotal: '100 MB' is not a size in kB"});
  expect_contains(error_message([] { parse_meminfo("MemTotal: 100 kB\nMemAvailable: 500 kB\n"); }),
                  {"MemAvailable", "exceeds MemTotal"});
}

TEST(Meminfo, ThisMachinesMemoryIsRead) {
  const DeviceMemory m = host_memory();
  EXPECT_GT(m.total_bytes, 0U);
  EXPECT_GT(m.free_bytes, 0U);
  EXPECT_LE(m.free_bytes, m.total_bytes);
}

}  // namespace
}  // namespace helix
