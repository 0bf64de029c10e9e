#include "helix/core/device_memory.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "helix/core/error.h"
#include "helix/core/units.h"

namespace helix {
namespace {

std::string bytes_text(std::size_t bytes) { return format_size(static_cast<double>(bytes)); }

// The value in bytes of "Field:   123 kB" in meminfo's text; nullopt when absent.
std::optional<std::size_t> meminfo_field(std::string_view text, std::string_view field) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.size() <= field.size() || line.substr(0, field.size()) != field || line[field.size()] != ':') continue;
    std::string_view rest = line.substr(field.size() + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    std::size_t kb = 0;
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kb);
    const std::string_view unit = rest.substr(static_cast<std::size_t>(ptr - rest.data()));
    if (ec != std::errc{} || unit != " kB" || kb > (std::size_t{1} << 53)) {
      fail("/proc/meminfo: {}: '{}' is not a size in kB", field, rest);
    }
    return kb * 1024;
  }
  return std::nullopt;
}

}  // namespace

std::size_t kv_bytes_within_share(double share, const DeviceMemory& memory, std::size_t still_to_hold) {
  if (!(share > 0 && share <= 1)) fail("a share of memory must be in (0%, 100%], got {}%", share * 100);
  if (memory.free_bytes > memory.total_bytes) {
    fail("the device reports {} free of {} in all", bytes_text(memory.free_bytes), bytes_text(memory.total_bytes));
  }
  const double allowed = share * static_cast<double>(memory.total_bytes);
  const double in_use = static_cast<double>(memory.total_bytes - memory.free_bytes);
  const double left = allowed - in_use - static_cast<double>(still_to_hold);
  if (!(left >= 1)) {
    fail("{:g}% of {} is {}, but {} is in use already and the stage still needs {}: nothing is left for a KV cache "
         "(processes that share a device need a share each, or a capacity in tokens or bytes)",
         share * 100, bytes_text(memory.total_bytes), bytes_text(static_cast<std::size_t>(allowed)),
         bytes_text(memory.total_bytes - memory.free_bytes), bytes_text(still_to_hold));
  }
  return static_cast<std::size_t>(std::floor(left));
}

DeviceMemory parse_meminfo(std::string_view text) {
  const auto total = meminfo_field(text, "MemTotal");
  const auto available = meminfo_field(text, "MemAvailable");
  if (!total) fail("/proc/meminfo: no MemTotal line");
  if (!available) fail("/proc/meminfo: no MemAvailable line (Linux 3.14 or later has it)");
  if (*available > *total) fail("/proc/meminfo: MemAvailable {} exceeds MemTotal {}", bytes_text(*available), bytes_text(*total));
  return DeviceMemory{*total, *available};
}

DeviceMemory host_memory() {
  std::ifstream in("/proc/meminfo");
  if (!in) fail("cannot read /proc/meminfo: the host's memory is unknown");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_meminfo(text.str());
}

}  // namespace helix
