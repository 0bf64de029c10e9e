// How much memory a device has and how much of it is free now, and the share of it
// a serving process may fill: the rule that sizes a KV cache "to what the device
// holds" (vLLM's gpu_memory_utilization), used by the engines (engine/kv_ledger.h),
// whose default share the planner's synthetic profiles assume too
// (perf/first_principles.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace helix {

struct CgroupMemoryLimit;  // core/cgroup_memory.h

struct DeviceMemory {
  std::size_t total_bytes = 0;
  std::size_t free_bytes = 0;  // what could still be allocated now (the host: MemAvailable)
  std::string limited_by{};       // what caps total_bytes below the hardware's (a cgroup), for messages; empty if nothing
  std::string free_limited_by{};  // what caps free_bytes below the hardware's, the same way
};

// The share of a device's memory a serving process may fill by default, weights,
// workspace and KV cache together: vLLM's default gpu_memory_utilization.
inline constexpr double kServingMemoryShare = 0.9;

// Bytes left for a KV cache when a stage may fill `share` of the device's memory
// (per process, as vLLM's gpu_memory_utilization is per instance: two workers on
// one GPU take 0.45 each): share x total, less what the stage holds already
// (`held`: its uploaded weights and workspace) and what it will take beyond that
// (`still_to_hold`: weights not loaded yet). The rest of the memory holds the
// runtime's context and what a step allocates as it runs. The cache must also fit
// in what is free now, beside `still_to_hold`. Throws Error naming the figures when
// nothing is left, when the cache would not fit, or when share is not in (0, 1].
std::size_t kv_bytes_within_share(double share, const DeviceMemory& memory, std::size_t held,
                                  std::size_t still_to_hold);

// The host's memory from /proc/meminfo's text: MemTotal and MemAvailable (kB).
// Throws Error naming the missing or malformed field.
DeviceMemory parse_meminfo(std::string_view text);

// The host's memory as a process under `limit` may use it: the total no more than
// the limit, and free no more than what the limit leaves.
DeviceMemory within_cgroup(const DeviceMemory& host, const CgroupMemoryLimit& limit);

// This process's memory now: /proc/meminfo's, within its cgroup's limit if it has
// one. Throws Error when it cannot be read.
DeviceMemory host_memory();

}  // namespace helix
