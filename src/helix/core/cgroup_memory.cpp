#include "helix/core/cgroup_memory.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include "helix/core/error.h"
#include "helix/core/text_lines.h"

namespace helix {
namespace {

namespace fs = std::filesystem;

// The names of one cgroup version's files beside the limit (MemoryCgroup::limit_file).
struct UsageFiles {
  const char* usage;           // what is charged now, page cache included
  const char* inactive_file;   // memory.stat's key for the reclaimable file cache below this level
  const char* unlimited_word;  // how the limit file says "none" (v2), or nullptr (v1 writes a huge number)
};

constexpr UsageFiles kV2{"memory.current", "inactive_file", "max"};
constexpr UsageFiles kV1{"memory.usage_in_bytes", "total_inactive_file", nullptr};

// v1 writes "no limit" as its page counter's maximum, 2^63 less a page (of any
// size): anything from 2^62 up is that.
constexpr std::size_t kV1Unlimited = std::size_t{1} << 62;

// The text's first line, without the newline. /proc/self/cgroup's paths are taken
// as they are: a cgroup's name may end in a space.
std::string_view first_line(std::string_view text) { return text.substr(0, text.find('\n')); }

std::size_t parse_bytes(std::string_view text, const fs::path& file) {
  std::size_t bytes = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    fail("{}: '{}' is not a number of bytes", file.string(), text);
  }
  return bytes;
}

// A one-value file's bytes; nullopt when the file is absent.
std::optional<std::size_t> read_bytes(const fs::path& file) {
  const std::optional<std::string> text = read_text_file(file);
  if (!text) return std::nullopt;
  return parse_bytes(trim(first_line(*text)), file);
}

// memory.stat's value for `key` (0 when absent).
std::size_t stat_value(const fs::path& dir, std::string_view key) {
  const fs::path file = dir / "memory.stat";
  const std::optional<std::string> text = read_text_file(file);
  if (!text) return 0;
  const std::optional<std::string_view> value = keyed_value(*text, key, ' ');
  return value ? parse_bytes(*value, file) : 0;
}

// The limit at one level, or nullopt when this level sets none.
std::optional<CgroupMemoryLimit> level_limit(const fs::path& dir, const char* limit_file, const UsageFiles& files) {
  const std::optional<std::string> limit_text = read_text_file(dir / limit_file);
  if (!limit_text) return std::nullopt;  // v2's root has no memory.max
  const std::string_view limit_word = trim(first_line(*limit_text));
  if (files.unlimited_word != nullptr && limit_word == files.unlimited_word) return std::nullopt;
  const std::size_t limit = parse_bytes(limit_word, dir / limit_file);
  if (limit >= kV1Unlimited) return std::nullopt;
  const std::optional<std::size_t> usage = read_bytes(dir / files.usage);
  if (!usage) fail("{}: missing beside {}", (dir / files.usage).string(), limit_file);
  const std::size_t used = *usage - std::min(*usage, stat_value(dir, files.inactive_file));
  return CgroupMemoryLimit{limit, limit > used ? limit - used : 0, dir.string(), dir.string()};
}

// Whether a v1 line's controllers ("cpu,memory") include memory.
bool lists_memory(std::string_view controllers) {
  while (!controllers.empty()) {
    const auto comma = controllers.find(',');
    if (controllers.substr(0, comma) == "memory") return true;
    controllers = comma == std::string_view::npos ? std::string_view() : controllers.substr(comma + 1);
  }
  return false;
}

// The cgroup's directory relative to its mount: the longest tail of its path that
// is a directory there (the whole path on a host; its tail in a container that
// mounts only its own cgroup), else the mount's root. A path that climbs out
// ("..") is the root too.
fs::path cgroup_directory(const MemoryCgroup& cgroup) {
  std::string path = cgroup.path;
  constexpr std::string_view kDeleted = " (deleted)";  // the cgroup was removed while the process ran
  if (path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
  const fs::path relative = fs::path(path).relative_path().lexically_normal();
  if (!relative.empty() && *relative.begin() == "..") return {};
  std::vector<fs::path> parts(relative.begin(), relative.end());
  for (std::size_t first = 0; first < parts.size(); ++first) {
    fs::path tail;
    for (std::size_t i = first; i < parts.size(); ++i) tail /= parts[i];
    if (!tail.empty() && fs::is_directory(cgroup.mount / tail)) return tail;
  }
  return {};
}

// The tighter of two levels' limits, and the less of their headrooms.
void tighten(std::optional<CgroupMemoryLimit>& tightest, const CgroupMemoryLimit& level) {
  if (!tightest) {
    tightest = level;
    return;
  }
  if (level.limit_bytes < tightest->limit_bytes) {
    tightest->limit_bytes = level.limit_bytes;
    tightest->where = level.where;
  }
  if (level.headroom_bytes < tightest->headroom_bytes) {
    tightest->headroom_bytes = level.headroom_bytes;
    tightest->headroom_where = level.headroom_where;
  }
}

}  // namespace

std::optional<MemoryCgroup> memory_cgroup(std::string_view proc_self_cgroup, const CgroupMounts& mounts) {
  std::optional<MemoryCgroup> v2;
  while (!proc_self_cgroup.empty()) {
    const std::string_view line = first_line(proc_self_cgroup);
    proc_self_cgroup.remove_prefix(std::min(proc_self_cgroup.size(), line.size() + 1));
    // "id:controllers:path"; the path may itself hold ':'.
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, first), controllers = line.substr(first + 1, second - first - 1);
    const std::string path(line.substr(second + 1));
    if (lists_memory(controllers)) return MemoryCgroup{mounts.v1_memory, path, true};
    if (id == "0" && controllers.empty()) v2 = MemoryCgroup{mounts.v2, path, false};
  }
  return v2;
}

std::optional<CgroupMemoryLimit> cgroup_memory_limit(std::string_view proc_self_cgroup, const CgroupMounts& mounts) {
  const std::optional<MemoryCgroup> cgroup = memory_cgroup(proc_self_cgroup, mounts);
  if (!cgroup) return std::nullopt;
  const UsageFiles& files = cgroup->v1 ? kV1 : kV2;
  std::optional<CgroupMemoryLimit> tightest;
  for (fs::path relative = cgroup_directory(*cgroup);; relative = relative.parent_path()) {
    const fs::path dir = relative.empty() ? cgroup->mount : cgroup->mount / relative;
    if (const auto level = level_limit(dir, cgroup->limit_file(), files)) tighten(tightest, *level);
    if (relative.empty()) break;
  }
  return tightest;
}

std::optional<CgroupMemoryLimit> own_cgroup_memory_limit() {
  const std::optional<std::string> text = read_text_file("/proc/self/cgroup");
  return text ? cgroup_memory_limit(*text) : std::nullopt;
}

}  // namespace helix
