#include "helix/core/cgroup_memory.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "helix/core/error.h"
#include "helix/core/text_lines.h"

namespace helix {
namespace {

namespace fs = std::filesystem;

// The names of one cgroup version's files.
struct CgroupFiles {
  const char* limit;           // the limit in bytes
  const char* usage;           // what is charged now, page cache included
  const char* inactive_file;   // memory.stat's key for the reclaimable file cache below this level
  const char* unlimited_word;  // how the limit file says "none" (v2), or nullptr (v1 writes a huge number)
};

constexpr CgroupFiles kV2{"memory.max", "memory.current", "inactive_file", "max"};
constexpr CgroupFiles kV1{"memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file", nullptr};

// v1 writes "no limit" as its page counter's maximum, 2^63 less a page.
constexpr std::size_t kV1Unlimited = std::size_t{1} << 62;

std::optional<std::string> read_text(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t parse_bytes(std::string_view text, const fs::path& file) {
  std::size_t bytes = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    fail("{}: '{}' is not a number of bytes", file.string(), text);
  }
  return bytes;
}

// memory.stat's value for `key` (0 when absent).
std::size_t stat_value(const fs::path& dir, std::string_view key) {
  const fs::path file = dir / "memory.stat";
  const std::optional<std::string> text = read_text(file);
  if (!text) return 0;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const std::string_view line = take_line(rest);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return parse_bytes(trim(line.substr(key.size() + 1)), file);
    }
  }
  return 0;
}

// The limit at one level, or nullopt when this level sets none.
std::optional<CgroupMemoryLimit> level_limit(const fs::path& dir, const CgroupFiles& files) {
  const std::optional<std::string> limit_text = read_text(dir / files.limit);
  if (!limit_text) return std::nullopt;  // v2's root has no memory.max
  const std::string_view limit_word = trim(std::string_view(*limit_text).substr(0, limit_text->find('\n')));
  if (files.unlimited_word != nullptr && limit_word == files.unlimited_word) return std::nullopt;
  const std::size_t limit = parse_bytes(limit_word, dir / files.limit);
  if (limit >= kV1Unlimited) return std::nullopt;
  const fs::path usage_file = dir / files.usage;
  const std::optional<std::string> usage_text = read_text(usage_file);
  if (!usage_text) fail("{}: missing beside {}", usage_file.string(), files.limit);
  const std::size_t usage = parse_bytes(trim(std::string_view(*usage_text).substr(0, usage_text->find('\n'))), usage_file);
  const std::size_t reclaimable = std::min(usage, stat_value(dir, files.inactive_file));
  const std::size_t used = usage - reclaimable;
  return CgroupMemoryLimit{limit, limit > used ? limit - used : 0, dir.string()};
}

// The path /proc/self/cgroup gives for memory, and which version's files it has.
std::optional<std::pair<std::string, const CgroupFiles*>> memory_cgroup_path(std::string_view proc_self_cgroup) {
  std::optional<std::pair<std::string, const CgroupFiles*>> v2;
  while (!proc_self_cgroup.empty()) {
    const std::string_view line = take_line(proc_self_cgroup);
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, first), controllers = line.substr(first + 1, second - first - 1);
    const std::string path(line.substr(second + 1));
    if (id == "0" && controllers.empty()) v2.emplace(path, &kV2);
    std::string_view rest = controllers;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      if (rest.substr(0, comma) == "memory") return std::make_pair(path, &kV1);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return v2;
}

}  // namespace

std::optional<CgroupMemoryLimit> cgroup_memory_limit(std::string_view proc_self_cgroup, const CgroupMounts& mounts) {
  const auto found = memory_cgroup_path(proc_self_cgroup);
  if (!found) return std::nullopt;
  const auto& [path, files] = *found;
  const fs::path mount = files == &kV1 ? mounts.v1_memory : mounts.v2;
  fs::path relative = fs::path(path).relative_path().lexically_normal();
  const bool outside = !relative.empty() && *relative.begin() == "..";
  if (outside || !fs::is_directory(mount / relative)) relative.clear();  // the mount is the process's own cgroup
  std::optional<CgroupMemoryLimit> tightest;
  for (;;) {
    if (const auto level = level_limit(relative.empty() ? mount : mount / relative, *files)) {
      if (!tightest) {
        tightest = level;
      } else {
        if (level->limit_bytes < tightest->limit_bytes) {
          tightest->limit_bytes = level->limit_bytes;
          tightest->where = level->where;
        }
        tightest->headroom_bytes = std::min(tightest->headroom_bytes, level->headroom_bytes);
      }
    }
    if (relative.empty() || relative == ".") break;
    relative = relative.parent_path();
  }
  return tightest;
}

std::optional<CgroupMemoryLimit> own_cgroup_memory_limit() {
  const std::optional<std::string> text = read_text("/proc/self/cgroup");
  return text ? cgroup_memory_limit(*text) : std::nullopt;
}

}  // namespace helix
