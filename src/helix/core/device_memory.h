// How much memory a device has and how much of it is free now, and the share of it
// a serving process may fill: the rule that sizes a KV cache "to what the device
// holds" (vLLM's gpu_memory_utilization), shared by the planner's synthetic
// profiles (perf/first_principles.h) and the engines (engine/kv_ledger.h).
#pragma once

#include <cstddef>
#include <string_view>

namespace helix {

struct DeviceMemory {
  std::size_t total_bytes = 0;
  std::size_t free_bytes = 0;  // what could still be allocated now (the host: MemAvailable)
};

// The share of a device's memory a serving process may fill by default, weights,
// workspace and KV cache together: vLLM's default, and the paper's prototype's.
inline constexpr double kServingMemoryShare = 0.9;

// Bytes left for a KV cache when everything on the device together may fill `share`
// of its memory: share x total, less what is in use now (total - free: weights
// already loaded, the runtime's context, other processes), less `still_to_hold`
// (what the stage will take beyond that, weights not loaded yet, say). The rest,
// (1 - share) x total, holds what a step allocates as it runs. Throws Error naming
// the figures when nothing is left, or when share is not in (0, 1].
std::size_t kv_bytes_within_share(double share, const DeviceMemory& memory, std::size_t still_to_hold);

// The host's memory from /proc/meminfo's text: MemTotal and MemAvailable (kB).
// Throws Error naming the missing or malformed field.
DeviceMemory parse_meminfo(std::string_view text);

// This machine's memory now (/proc/meminfo). Throws Error when it cannot be read.
DeviceMemory host_memory();

}  // namespace helix
