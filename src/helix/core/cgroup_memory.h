// The memory limit a control group puts on this process. In a container (Docker,
// Kubernetes, systemd's MemoryMax) /proc/meminfo still shows the whole host: a KV
// cache sized from it alone outgrows the container and the kernel kills the worker.
// Both cgroup versions are read: v2's memory.max / memory.current / memory.stat and
// v1's memory.limit_in_bytes / memory.usage_in_bytes / memory.stat.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace helix {

struct CgroupMemoryLimit {
  std::size_t limit_bytes = 0;     // the smallest limit on the process's cgroup or an ancestor
  std::size_t headroom_bytes = 0;  // the least that any limited level can still take (its limit less its use)
  std::string where{};             // the directory whose limit is limit_bytes, for messages
  std::string headroom_where{};    // the directory whose headroom is headroom_bytes
};

// Where the cgroup filesystems are mounted: v2's unified hierarchy and v1's memory
// controller (the defaults are Linux's usual mount points).
struct CgroupMounts {
  std::filesystem::path v2 = "/sys/fs/cgroup";
  std::filesystem::path v1_memory = "/sys/fs/cgroup/memory";
};

// The memory cgroup /proc/self/cgroup's text names: v1's memory controller line if
// there is one (hybrid hosts keep memory in v1), else v2's "0::" line.
struct MemoryCgroup {
  std::filesystem::path mount;  // the hierarchy's mount point (from CgroupMounts)
  std::string path;             // the cgroup's path in the hierarchy, as /proc/self/cgroup gives it
  bool v1 = false;
  const char* limit_file() const { return v1 ? "memory.limit_in_bytes" : "memory.max"; }
};
std::optional<MemoryCgroup> memory_cgroup(std::string_view proc_self_cgroup, const CgroupMounts& mounts = {});

// The limit on the cgroup that `proc_self_cgroup` (the text of /proc/self/cgroup)
// names, from its directory up to the mount's root. A container that mounts only
// its own cgroup (v1 without a cgroup namespace) shows the path's tail under the
// mount: the longest tail that is a directory there is the process's cgroup, else
// the mount's root (limits above a namespace's root are not visible). A level's use
// leaves out the inactive file cache the kernel reclaims before it kills, and
// counts the active one (as Docker's "working set" does: conservative). v1's
// use_hierarchy=0 (deprecated, and always on in recent kernels) is not honoured:
// the ancestors' limits are applied. nullopt when no level limits memory. Throws Error
// naming the file when one is malformed.
std::optional<CgroupMemoryLimit> cgroup_memory_limit(std::string_view proc_self_cgroup,
                                                     const CgroupMounts& mounts = {});

// This process's cgroup memory limit (/proc/self/cgroup); nullopt without one or
// without /proc/self/cgroup.
std::optional<CgroupMemoryLimit> own_cgroup_memory_limit();

}  // namespace helix
