#include "helix/core/cgroup_memory.h"

#include <gtest/gtest.h>

#include "helix/core/device_memory.h"
#include "support/error_expectations.h"
#include "support/test_support.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;
using test::TempDir;

constexpr std::size_t kMiB = 1024 * 1024;
constexpr std::size_t kGiB = 1024 * kMiB;

std::string bytes(std::size_t n) { return std::to_string(n) + "\n"; }

// A v2 host where the worker runs in a container limited to 8 GiB, inside a slice
// limited to 6 GiB: the slice's limit is the tighter, and the least headroom is
// the slice's too (its use counts the container's and its neighbours').
TEST(CgroupMemory, V2TakesTheTightestLimitFromTheProcessesCgroupUpToTheRoot) {
  const TempDir root;
  root.write("memory.stat", "inactive_file 0\n");  // the root: no memory.max
  root.write("work.slice/memory.max", bytes(6 * kGiB));
  root.write("work.slice/memory.current", bytes(4 * kGiB));
  root.write("work.slice/memory.stat", "anon 1\ninactive_file 1073741824\nactive_file 5\n");
  root.write("work.slice/worker/memory.max", bytes(8 * kGiB));
  root.write("work.slice/worker/memory.current", bytes(2 * kGiB));
  root.write("work.slice/worker/memory.stat", "inactive_file 0\n");
  const auto limit = cgroup_memory_limit("0::/work.slice/worker\n", CgroupMounts{root.path(), "/nonexistent"});
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->limit_bytes, 6 * kGiB);
  EXPECT_EQ(limit->headroom_bytes, 3 * kGiB);  // 6 GiB less 4 GiB used, of which 1 GiB is reclaimable cache
  EXPECT_EQ(limit->where, (root.path() / "work.slice").string());
  EXPECT_EQ(limit->headroom_where, limit->where);
  // The container's neighbours fill the slice: the slice has the least left, while
  // the container keeps the tighter limit.
  root.write("work.slice/memory.max", bytes(10 * kGiB));
  root.write("work.slice/memory.current", bytes(10 * kGiB));
  const auto full = cgroup_memory_limit("0::/work.slice/worker\n", CgroupMounts{root.path(), "/nonexistent"});
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(full->limit_bytes, 8 * kGiB);
  EXPECT_EQ(full->where, (root.path() / "work.slice/worker").string());
  EXPECT_EQ(full->headroom_bytes, kGiB);  // its 1 GiB of inactive cache is all it can give back
  EXPECT_EQ(full->headroom_where, (root.path() / "work.slice").string());
}

TEST(CgroupMemory, V2WithoutALimitAnywhereIsNone) {
  const TempDir root;
  root.write("user.slice/memory.max", "max\n");
  root.write("user.slice/memory.current", bytes(kGiB));
  EXPECT_FALSE(cgroup_memory_limit("0::/user.slice\n", CgroupMounts{root.path(), "/nonexistent"}).has_value());
  EXPECT_FALSE(cgroup_memory_limit("", CgroupMounts{root.path(), "/nonexistent"}).has_value());
}

// Docker without a cgroup namespace: /proc/self/cgroup names /docker/<id>, but the
// container's mount shows only its own cgroup at the mount's root.
TEST(CgroupMemory, APathNotUnderTheMountMeansTheMountIsTheProcessesOwnCgroup) {
  const TempDir root;
  root.write("memory.max", bytes(2 * kGiB));
  root.write("memory.current", bytes(kGiB / 2));
  const auto limit = cgroup_memory_limit("0::/docker/3f2a\n", CgroupMounts{root.path(), "/nonexistent"});
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->limit_bytes, 2 * kGiB);
  EXPECT_EQ(limit->headroom_bytes, 3 * kGiB / 2);  // no memory.stat: nothing counted reclaimable
  const auto escaping = cgroup_memory_limit("0::/../../etc\n", CgroupMounts{root.path(), "/nonexistent"});
  ASSERT_TRUE(escaping.has_value());
  EXPECT_EQ(escaping->where, root.path().string());
  // A cgroup inside the container (systemd in it, say) is the path's tail under the
  // mount, with its own, tighter limit; a cgroup removed meanwhile is "(deleted)".
  root.write("inner/memory.max", bytes(kGiB));
  root.write("inner/memory.current", bytes(0));
  for (const char* self : {"0::/docker/3f2a/inner\n", "0::/docker/3f2a/inner (deleted)\n"}) {
    const auto inner = cgroup_memory_limit(self, CgroupMounts{root.path(), "/nonexistent"});
    ASSERT_TRUE(inner.has_value()) << self;
    EXPECT_EQ(inner->limit_bytes, kGiB) << self;
    EXPECT_EQ(inner->headroom_bytes, kGiB) << self;
  }
}

// A hybrid host (systemd's legacy layout) keeps memory in v1 beside an empty v2
// line; v1 writes "no limit" as a huge number, and its usage is hierarchical, so
// the reclaimable cache is memory.stat's total_ figure.
TEST(CgroupMemory, V1IsReadFromTheMemoryControllersLineOnAHybridHost) {
  const TempDir v1, v2;
  v1.write("memory.limit_in_bytes", "9223372036854771712\n");
  v1.write("memory.usage_in_bytes", bytes(20 * kGiB));
  v1.write("jobs/memory.limit_in_bytes", bytes(4 * kGiB));
  v1.write("jobs/memory.usage_in_bytes", bytes(3 * kGiB));
  v1.write("jobs/memory.stat", "cache 5\ninactive_file 1\ntotal_inactive_file 536870912\n");
  const auto limit = cgroup_memory_limit("5:devices:/\n4:cpu,memory:/jobs\n0::/\n", CgroupMounts{v2.path(), v1.path()});
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->limit_bytes, 4 * kGiB);
  EXPECT_EQ(limit->headroom_bytes, 3 * kGiB / 2);
  EXPECT_FALSE(cgroup_memory_limit("4:memory:/\n", CgroupMounts{v2.path(), v1.path()}).has_value());
  // Whatever the lines' order, and with a ':' in the path.
  v1.write("a:b/memory.limit_in_bytes", bytes(2 * kGiB));
  v1.write("a:b/memory.usage_in_bytes", bytes(kGiB));
  const auto colon = cgroup_memory_limit("0::/\n4:memory:/a:b\n", CgroupMounts{v2.path(), v1.path()});
  ASSERT_TRUE(colon.has_value());
  EXPECT_EQ(colon->limit_bytes, 2 * kGiB);
  EXPECT_EQ(colon->where, (v1.path() / "a:b").string());
  const auto found = memory_cgroup("0::/\n4:memory:/a:b\n", CgroupMounts{v2.path(), v1.path()});
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->v1);
  EXPECT_EQ(found->path, "/a:b");
  EXPECT_STREQ(found->limit_file(), "memory.limit_in_bytes");
}

TEST(CgroupMemory, AMalformedFileIsNamed) {
  const TempDir root;
  root.write("a/memory.max", "lots\n");
  expect_contains(error_message([&] { cgroup_memory_limit("0::/a\n", CgroupMounts{root.path(), "/nonexistent"}); }),
                  {"a/memory.max: 'lots' is not a number of bytes"});
  root.write("b/memory.max", bytes(kGiB));
  expect_contains(error_message([&] { cgroup_memory_limit("0::/b\n", CgroupMounts{root.path(), "/nonexistent"}); }),
                  {"b/memory.current: missing beside memory.max"});
  root.write("c/memory.max", bytes(kGiB));
  root.write("c/memory.current", bytes(kMiB));
  root.write("c/memory.stat", "inactive_file -3\n");
  expect_contains(error_message([&] { cgroup_memory_limit("0::/c\n", CgroupMounts{root.path(), "/nonexistent"}); }),
                  {"c/memory.stat: '-3' is not a number of bytes"});
}

TEST(CgroupMemory, ThisProcessesLimitIsReadWithoutError) {
  const auto limit = own_cgroup_memory_limit();
  if (limit) {
    EXPECT_GT(limit->limit_bytes, 0U);
    EXPECT_LE(limit->headroom_bytes, limit->limit_bytes);
  }
  const DeviceMemory m = host_memory();
  EXPECT_LE(m.free_bytes, m.total_bytes);
  if (limit) {
    EXPECT_LE(m.total_bytes, limit->limit_bytes);
  }
}

}  // namespace
}  // namespace helix
