#include "helix/plan/placement.h"

#include <fstream>
#include <set>

#include "helix/core/error.h"
#include "helix/plan/paper_solution.h"

namespace helix {
namespace {

constexpr const char* kFormatName = "helix-placement";

const nlohmann::json& field(const nlohmann::json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) fail("{}: missing field '{}'", where, key);
  return *it;
}

int int_field(const nlohmann::json& object, const char* key, const std::string& where) {
  const auto& value = field(object, key, where);
  if (!value.is_number_integer()) fail("{}: field '{}' must be an integer", where, key);
  return value.get<int>();
}

std::string string_field(const nlohmann::json& object, const char* key, const std::string& where,
                         const std::string& fallback = {}) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_string()) fail("{}: field '{}' must be a string", where, key);
  return it->get<std::string>();
}

nlohmann::json node_to_json(const Placement& p, int i, const ClusterSpec* cluster) {
  nlohmann::json node = {{"name", p.node_names[static_cast<std::size_t>(i)]}};
  if (cluster != nullptr && i < cluster->num_nodes()) node["gpu"] = cluster->gpu_of(i).name;
  const LayerRange& r = p.ranges[static_cast<std::size_t>(i)];
  if (r.empty()) {
    node["unused"] = true;
  } else {
    node["start"] = r.start;
    node["end"] = r.end;
  }
  return node;
}

LayerRange node_range_from_json(const nlohmann::json& node, const std::string& where) {
  if (node.value("unused", false)) {
    if (node.contains("start") || node.contains("end")) {
      fail("{}: an unused node must not have 'start'/'end'", where);
    }
    return {};
  }
  LayerRange r{int_field(node, "start", where), int_field(node, "end", where)};
  if (r.start < 0 || r.end <= r.start) {
    fail("{}: layer range start={} end={} is not a non-empty range (end is exclusive)", where,
         r.start, r.end);
  }
  return r;
}

}  // namespace

Placement empty_placement(const ClusterSpec& cluster, const std::string& model, int num_layers,
                          const std::string& method) {
  Placement p;
  p.model = model;
  p.num_layers = num_layers;
  p.cluster = cluster.name;
  p.method = method;
  for (const auto& node : cluster.nodes) p.node_names.push_back(node.name);
  p.ranges.assign(cluster.nodes.size(), LayerRange{});
  return p;
}

nlohmann::json placement_to_json(const Placement& p, const ClusterSpec* cluster) {
  nlohmann::json nodes = nlohmann::json::array();
  for (int i = 0; i < p.num_nodes(); ++i) nodes.push_back(node_to_json(p, i, cluster));
  return {{"format", kFormatName},        {"version", kPlacementFormatVersion},
          {"model", p.model},             {"num_layers", p.num_layers},
          {"cluster", p.cluster},         {"method", p.method},
          {"objective_tps", p.objective_tps}, {"nodes", nodes},
          {"details", p.details}};
}

Placement placement_from_json(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) fail("{}: expected a JSON object", where);
  if (string_field(json, "format", where) != kFormatName) {
    fail("{}: field 'format' must be \"{}\"", where, kFormatName);
  }
  int version = int_field(json, "version", where);
  if (version != kPlacementFormatVersion) {
    fail("{}: placement format version {} is not supported (this helix reads version {})", where,
         version, kPlacementFormatVersion);
  }
  Placement p;
  p.model = string_field(json, "model", where);
  p.num_layers = int_field(json, "num_layers", where);
  if (p.num_layers <= 0) fail("{}: field 'num_layers' must be > 0", where);
  p.cluster = string_field(json, "cluster", where);
  p.method = string_field(json, "method", where, "imported");
  if (auto it = json.find("objective_tps"); it != json.end() && it->is_number()) {
    p.objective_tps = it->get<double>();
  }
  if (auto it = json.find("details"); it != json.end()) p.details = *it;
  const auto& nodes = field(json, "nodes", where);
  if (!nodes.is_array()) fail("{}: field 'nodes' must be an array", where);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::string node_where = fmt::format("{}: nodes[{}]", where, i);
    if (!nodes[i].is_object()) fail("{}: expected an object", node_where);
    p.node_names.push_back(string_field(nodes[i], "name", node_where));
    if (p.node_names.back().empty()) fail("{}: missing field 'name'", node_where);
    p.ranges.push_back(node_range_from_json(nodes[i], node_where + " (" + p.node_names.back() + ")"));
  }
  return p;
}

void save_placement(const Placement& placement, const std::filesystem::path& path,
                    const ClusterSpec* cluster) {
  std::ofstream out(path);
  if (!out) fail("{}: cannot write file", path.string());
  out << placement_to_json(placement, cluster).dump(2) << "\n";
  if (!out) fail("{}: write failed", path.string());
}

Placement match_placement_to_cluster(const Placement& placement, const ClusterSpec& cluster,
                                     int num_layers, const std::string& where) {
  if (num_layers > 0 && placement.num_layers != num_layers) {
    fail("{}: the placement is for a model with {} layers, but the model has {}", where,
         placement.num_layers, num_layers);
  }
  Placement out = empty_placement(cluster, placement.model, placement.num_layers, placement.method);
  out.objective_tps = placement.objective_tps;
  out.details = placement.details;
  out.cluster = placement.cluster.empty() ? cluster.name : placement.cluster;
  std::set<int> seen;
  for (int i = 0; i < placement.num_nodes(); ++i) {
    const std::string& name = placement.node_names[static_cast<std::size_t>(i)];
    int index = cluster.node_index(name);
    if (index < 0) {
      fail("{}: node '{}' is not in the cluster (is this a placement for another cluster?)", where,
           name);
    }
    if (!seen.insert(index).second) fail("{}: node '{}' appears twice", where, name);
    const LayerRange& r = placement.ranges[static_cast<std::size_t>(i)];
    if (!r.empty() && (r.start < 0 || r.end > placement.num_layers)) {
      fail("{}: node '{}' holds layers {}, outside the model's layers 0-{}", where, name,
           to_string(r), placement.num_layers - 1);
    }
    out.ranges[static_cast<std::size_t>(index)] = r;
  }
  if (static_cast<int>(seen.size()) != cluster.num_nodes()) {
    for (int i = 0; i < cluster.num_nodes(); ++i) {
      if (!seen.contains(i)) {
        fail("{}: cluster node '{}' is missing from the placement (is this a placement for "
             "another cluster?)",
             where, cluster.nodes[static_cast<std::size_t>(i)].name);
      }
    }
  }
  return out;
}

Placement load_placement(const std::filesystem::path& path, const ClusterSpec& cluster,
                         int num_layers) {
  const std::string where = path.string();
  Placement raw;
  if (path.extension() == ".ini") {
    raw = import_paper_solution(path, cluster, num_layers);
  } else {
    std::ifstream in(path);
    if (!in) fail("{}: cannot open file", where);
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
      fail("{}: invalid JSON: {}", where, e.what());
    }
    raw = placement_from_json(json, where);
  }
  return match_placement_to_cluster(raw, cluster, num_layers, where);
}

}  // namespace helix
