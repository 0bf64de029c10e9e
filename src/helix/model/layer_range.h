// LayerRange: the contiguous block of transformer layers [start, end) a node holds.
// An empty range (start == end) means the node holds nothing and serves no traffic.
#pragma once

#include <string>

#include <fmt/format.h>

namespace helix {

struct LayerRange {
  int start = 0;
  int end = 0;  // exclusive

  int size() const { return end - start; }
  bool empty() const { return end <= start; }
  bool contains(int layer) const { return start <= layer && layer < end; }
  friend bool operator==(const LayerRange&, const LayerRange&) = default;
};

// "53-59" (inclusive, as people say it), "25" for one layer, or "-" when empty.
inline std::string to_string(const LayerRange& r) {
  if (r.empty()) return "-";
  if (r.size() == 1) return std::to_string(r.start);
  return fmt::format("{}-{}", r.start, r.end - 1);
}

}  // namespace helix
