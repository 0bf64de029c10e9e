#include "helix/core/device_memory.h"

#include "helix/core/cgroup_memory.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/error_expectations.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;

constexpr std::size_t kGB = 1'000'000'000;

// A stage on an 80 GB GPU holding 16 GB of weights may fill 72 GB: 56 GB are left
// for its cache, less what it still has to load. The share is the stage's own:
// what other processes hold does not count against it, as long as the cache fits
// in what is free.
TEST(KvBytesWithinShare, IsTheShareLessWhatTheStageHoldsAndWillHold) {
  const DeviceMemory gpu{80 * kGB, 63 * kGB};  // 16 GB of weights, 1 GB of context
  EXPECT_EQ(kv_bytes_within_share(0.9, gpu, 16 * kGB, 0), 56 * kGB);
  EXPECT_EQ(kv_bytes_within_share(0.45, gpu, 16 * kGB, 0), 20 * kGB);
  EXPECT_EQ(kv_bytes_within_share(0.9, DeviceMemory{80 * kGB, 79 * kGB}, 0, 16 * kGB), 56 * kGB);  // the CPU's case
  // A second worker on a GPU where the first holds 40 GB (a share of 45% each).
  EXPECT_EQ(kv_bytes_within_share(0.45, DeviceMemory{80 * kGB, 24 * kGB}, 16 * kGB, 0), 20 * kGB);
}

TEST(KvBytesWithinShare, NothingLeftOrNoRoomIsAnErrorWithTheFigures) {
  expect_contains(error_message([] { kv_bytes_within_share(0.5, DeviceMemory{16 * kGB, 6 * kGB}, 9 * kGB, 0); }),
                  {"50% of 16 GB is 8 GB, but the stage holds 9 GB and needs 0 B more", "nothing is left for a KV cache"});
  expect_contains(error_message([] { kv_bytes_within_share(0.9, DeviceMemory{16 * kGB, 14 * kGB}, 0, 15 * kGB); }),
                  {"needs 15 GB more"});
  // The first worker took 90%: a second one's 90% does not fit in what is free.
  expect_contains(error_message([] { kv_bytes_within_share(0.9, DeviceMemory{80 * kGB, 7 * kGB}, 1 * kGB, 0); }),
                  {"90% of 80 GB leaves 71 GB for a KV cache, but 7 GB of the device is free",
                   "the rest is in use", "45% each for two"});
  expect_contains(error_message([] { kv_bytes_within_share(0.5, DeviceMemory{16 * kGB, 7 * kGB}, 0, 2 * kGB); }),
                  {"6 GB for a KV cache, but 7 GB of the device is free and the stage needs 2 GB of it besides"});
  for (double share : {0.0, -0.5, 1.01, std::nan("")}) {
    expect_contains(error_message([&] { kv_bytes_within_share(share, DeviceMemory{kGB, kGB}, 0, 0); }),
                    {"a share of memory must be in (0%, 100%]"});
  }
  expect_contains(error_message([] { kv_bytes_within_share(0.9, DeviceMemory{kGB, 2 * kGB}, 0, 0); }),
                  {"reports 2 GB free of 1 GB"});
}

// A worker in a 4 GB container on a 64 GB host sizes its cache from 4 GB, and its
// refusals say why the total is 4 GB, or why so little is free.
TEST(WithinCgroup, TheHostsMemoryIsCappedByTheLimit) {
  const DeviceMemory host{64 * kGB, 60 * kGB};
  const DeviceMemory capped = within_cgroup(host, CgroupMemoryLimit{4 * kGB, 3 * kGB, "/cg/job", "/cg"});
  EXPECT_EQ(capped.total_bytes, 4 * kGB);
  EXPECT_EQ(capped.free_bytes, 3 * kGB);
  EXPECT_EQ(kv_bytes_within_share(0.5, capped, 0, kGB), kGB);
  expect_contains(error_message([&] { kv_bytes_within_share(0.9, capped, 0, 4 * kGB); }),
                  {"90% of 4 GB (the memory limit of cgroup /cg/job) is 3.6 GB", "nothing is left"});
  expect_contains(error_message([&] { kv_bytes_within_share(0.9, capped, 0, 0); }),
                  {"leaves 3.6 GB for a KV cache, but 3 GB of the device is free: that is what cgroup /cg has left of "
                   "its limit (its limit less its use)"});
  // A limit above the host's memory changes nothing; a busy host's free memory still counts.
  const DeviceMemory roomy = within_cgroup(host, CgroupMemoryLimit{128 * kGB, 100 * kGB, "x", "x"});
  EXPECT_EQ(roomy.limited_by, "");
  EXPECT_EQ(roomy.free_limited_by, "");
  EXPECT_EQ(roomy.total_bytes, host.total_bytes);
  const DeviceMemory busy = within_cgroup(DeviceMemory{64 * kGB, 2 * kGB}, CgroupMemoryLimit{4 * kGB, 3 * kGB, "x", "x"});
  EXPECT_EQ(busy.free_bytes, 2 * kGB);
  EXPECT_EQ(busy.free_limited_by, "");
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
