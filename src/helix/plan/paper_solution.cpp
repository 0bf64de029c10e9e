#include "helix/plan/paper_solution.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "helix/core/error.h"

namespace helix {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int parse_int(std::string_view text, const std::string& where) {
  text = trim(text);
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    fail("{}: '{}' is not an integer", where, text);
  }
  return value;
}

// "[3, 4, 5]" -> range [3, 6); the list must be consecutive ascending layers.
LayerRange parse_layer_list(std::string_view text, const std::string& where) {
  text = trim(text);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
    fail("{}: expected a list of layers like [0, 1, 2], got '{}'", where, text);
  }
  std::string_view body = trim(text.substr(1, text.size() - 2));
  if (body.empty()) return {};
  LayerRange range{-1, -1};
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t comma = body.find(',', pos);
    if (comma == std::string_view::npos) comma = body.size();
    int layer = parse_int(body.substr(pos, comma - pos), where);
    if (layer < 0) fail("{}: layer {} is negative", where, layer);
    if (range.start < 0) {
      range = {layer, layer + 1};
    } else if (layer != range.end) {
      fail("{}: layers are not contiguous: {} follows {}", where, layer, range.end - 1);
    } else {
      ++range.end;
    }
    pos = comma + 1;
  }
  return range;
}

struct RawEntry {
  int node_number;
  LayerRange range;
  std::string where;
};

}  // namespace

Placement parse_paper_solution(const std::string& text, const std::string& where,
                               const ClusterSpec& cluster, int num_layers) {
  std::istringstream in(text);
  std::string line;
  std::string section;
  int offset = -1;
  std::vector<RawEntry> entries;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    std::string at = fmt::format("{}:{}", where, line_no);
    std::string_view s = trim(line);
    if (s.empty() || s.front() == '#' || s.front() == ';') continue;
    if (s.front() == '[' && s.back() == ']' && s.find('=') == std::string_view::npos) {
      section = std::string(s.substr(1, s.size() - 2));
      continue;
    }
    auto eq = s.find('=');
    if (eq == std::string_view::npos) fail("{}: expected 'key=value', got '{}'", at, s);
    std::string_view key = trim(s.substr(0, eq));
    std::string_view value = s.substr(eq + 1);
    if (section == "Settings" && key == "offset") {
      offset = parse_int(value, at);
    } else if (section == "Solution") {
      constexpr std::string_view prefix = "compute_node_";
      if (!key.starts_with(prefix)) fail("{}: expected 'compute_node_<K>', got '{}'", at, key);
      entries.push_back({parse_int(key.substr(prefix.size()), at), parse_layer_list(value, at), at});
    } else {
      fail("{}: unexpected key '{}' in section [{}]", at, key, section);
    }
  }
  if (offset < 0) fail("{}: missing [Settings] offset", where);
  if (entries.empty()) fail("{}: missing [Solution] entries", where);

  int inferred_layers = 0;
  for (const auto& e : entries) inferred_layers = std::max(inferred_layers, e.range.end);
  if (num_layers <= 0) num_layers = inferred_layers;

  Placement p = empty_placement(cluster, "", num_layers, "imported");
  std::vector<bool> seen(cluster.nodes.size(), false);
  for (const auto& e : entries) {
    int index = e.node_number - offset;
    if (index < 0 || index >= cluster.num_nodes()) {
      fail("{}: compute_node_{} is node {} but the cluster has nodes 0-{} (is this a placement for "
           "another cluster?)",
           e.where, e.node_number, index, cluster.num_nodes() - 1);
    }
    if (seen[static_cast<std::size_t>(index)]) fail("{}: compute_node_{} appears twice", e.where, e.node_number);
    seen[static_cast<std::size_t>(index)] = true;
    if (e.range.end > num_layers) {
      fail("{}: layers {} lie outside the model's layers 0-{}", e.where, to_string(e.range),
           num_layers - 1);
    }
    p.ranges[static_cast<std::size_t>(index)] = e.range;
  }
  return p;
}

Placement import_paper_solution(const std::filesystem::path& path, const ClusterSpec& cluster,
                                int num_layers) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open file", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse_paper_solution(text.str(), path.string(), cluster, num_layers);
}

std::string write_paper_solution(const Placement& placement) {
  std::string out = "[Settings]\noffset=2\n\n[Solution]\n";
  for (int i = 0; i < placement.num_nodes(); ++i) {
    const LayerRange& r = placement.ranges[static_cast<std::size_t>(i)];
    std::string layers;
    for (int l = r.start; l < r.end; ++l) layers += (layers.empty() ? "" : ", ") + std::to_string(l);
    out += fmt::format("compute_node_{}=[{}]\n", i + 2, layers);
  }
  return out;
}

}  // namespace helix
