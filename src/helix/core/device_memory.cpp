#include "helix/core/device_memory.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "helix/core/cgroup_memory.h"
#include "helix/core/error.h"
#include "helix/core/text_lines.h"
#include "helix/core/units.h"

namespace helix {
namespace {

std::string bytes_text(std::size_t bytes) { return format_size(static_cast<double>(bytes)); }

// The device's total, with what limits it if that is not the hardware.
std::string total_text(const DeviceMemory& memory) {
  const std::string total = bytes_text(memory.total_bytes);
  return memory.limited_by.empty() ? total : fmt::format("{} ({})", total, memory.limited_by);
}

// The value in bytes of "Field:   123 kB" in meminfo's text; nullopt when absent.
std::optional<std::size_t> meminfo_field(std::string_view text, std::string_view field) {
  const std::optional<std::string_view> value = keyed_value(text, field, ':');
  if (!value) return std::nullopt;
  std::size_t kb = 0;
  const auto [ptr, ec] = std::from_chars(value->data(), value->data() + value->size(), kb);
  const std::string_view unit = value->substr(static_cast<std::size_t>(ptr - value->data()));
  if (ec != std::errc{} || unit != " kB" || kb > (std::size_t{1} << 53)) {
    fail("/proc/meminfo: {}: '{}' is not a size in kB", field, *value);
  }
  return kb * 1024;
}

}  // namespace

std::size_t kv_bytes_within_share(double share, const DeviceMemory& memory, std::size_t held,
                                  std::size_t still_to_hold) {
  if (!(share > 0 && share <= 1)) fail("a share of memory must be in (0%, 100%], got {}%", share * 100);
  if (memory.free_bytes > memory.total_bytes) {
    fail("the device reports {} free of {} in all", bytes_text(memory.free_bytes), bytes_text(memory.total_bytes));
  }
  const double allowed = share * static_cast<double>(memory.total_bytes);
  const double left = std::floor(allowed - static_cast<double>(held) - static_cast<double>(still_to_hold));
  if (!(left >= 1)) {
    fail("{:g}% of {} is {}, but the stage holds {} and needs {} more: nothing is left for a KV cache", share * 100,
         total_text(memory), bytes_text(static_cast<std::size_t>(allowed)), bytes_text(held),
         bytes_text(still_to_hold));
  }
  if (left + static_cast<double>(still_to_hold) > static_cast<double>(memory.free_bytes)) {
    fail("{:g}% of {} leaves {} for a KV cache, but {} of the device is free{}{}", share * 100, total_text(memory),
         bytes_text(static_cast<std::size_t>(left)), bytes_text(memory.free_bytes),
         still_to_hold > 0 ? fmt::format(" and the stage needs {} of it besides (its weights, its largest step)", bytes_text(still_to_hold))
                           : std::string(),
         memory.free_limited_by.empty()
             ? ": the rest is in use (the runtime's own context, other processes; give each process that shares a "
               "device its part, e.g. 45% each for two)"
             : fmt::format(": that is {}", memory.free_limited_by));
  }
  return static_cast<std::size_t>(left);
}

DeviceMemory parse_meminfo(std::string_view text) {
  const auto total = meminfo_field(text, "MemTotal");
  const auto available = meminfo_field(text, "MemAvailable");
  if (!total) fail("/proc/meminfo: no MemTotal line");
  if (!available) fail("/proc/meminfo: no MemAvailable line (Linux 3.14 or later has it)");
  if (*available > *total) fail("/proc/meminfo: MemAvailable {} exceeds MemTotal {}", bytes_text(*available), bytes_text(*total));
  return DeviceMemory{*total, *available};
}

DeviceMemory within_cgroup(const DeviceMemory& host, const CgroupMemoryLimit& limit) {
  DeviceMemory m = host;
  if (limit.limit_bytes < host.total_bytes) {
    m.total_bytes = limit.limit_bytes;
    m.limited_by = fmt::format("the memory limit of cgroup {}", limit.where);
  }
  if (limit.headroom_bytes < m.free_bytes) {
    m.free_bytes = limit.headroom_bytes;
    m.free_limited_by = fmt::format("what cgroup {} has left of its limit (its limit less its use)", limit.headroom_where);
  }
  return m;  // free stays within the total: a headroom is at most its limit
}

DeviceMemory host_memory() {
  const std::optional<std::string> text = read_text_file("/proc/meminfo");
  if (!text) fail("cannot read /proc/meminfo: the host's memory is unknown");
  const DeviceMemory host = parse_meminfo(*text);
  const std::optional<CgroupMemoryLimit> limit = own_cgroup_memory_limit();
  return limit ? within_cgroup(host, *limit) : host;
}

}  // namespace helix
