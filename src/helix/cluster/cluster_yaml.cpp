#include "helix/cluster/cluster_yaml.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "helix/cluster/gpu_catalog.h"
#include "helix/cluster/paper_import.h"
#include "helix/cluster/yaml_reader.h"
#include "helix/core/error.h"

namespace helix {
namespace {

// Defaults for what a file may leave out (the catalog's cloud values, gpu_catalog.cpp).
constexpr double kDefaultNic_Bps = 1.25e9;  // 10 Gbps
constexpr double kDefaultDisk_Bps = 1e9;    // 1 GB/s
constexpr long long kMaxCount = 100000;

struct LinkValue {
  double bandwidth_Bps = 0;
  double latency_s = 0;
};
using Rule = std::optional<LinkValue>;
using Arc = std::pair<int, int>;

std::string names_of(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string hint(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = closest_match(word, candidates);
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

// Profile names the perf model has measurements for (the paper's GPU types).
std::vector<std::string> known_profiles() {
  std::vector<std::string> names;
  for (const auto& g : gpu_catalog()) {
    if (!g.profile_name.empty()) names.push_back(g.profile_name);
  }
  return names;
}

class ClusterParser {
 public:
  ClusterParser(const std::string& text, const std::string& source) : r_(source), root_(r_.parse(text)) {}

  ClusterSpec run() {
    check_format();
    r_.check_keys(root_, "", {"format", "name", "gpu_types", "regions", "coordinator", "network", "nodes"});
    YAML::Node name = root_["name"];
    spec_.name = name ? r_.text(name, "name") : std::filesystem::path(r_.source_name()).stem().string();
    read_gpu_types();
    read_regions();
    read_coordinator();
    read_nodes();
    read_network();
    in_context(r_.source_name(), [&] { spec_.index_links(); });
    return std::move(spec_);
  }

 private:
  // ---- format, GPU types, regions, coordinator --------------------------------------------

  void check_format() const {
    if (!root_.IsMap()) {
      r_.fail_at(root_, "",
                 "expected a cluster description: a YAML map starting with 'format: helix-cluster/1'");
    }
    YAML::Node f = root_["format"];
    if (!f)
      r_.fail_at(root_, "format", fmt::format("missing field 'format' (expected '{}')", kClusterFormat));
    std::string value = r_.text(f, "format");
    if (value != kClusterFormat) {
      r_.fail_at(f, "format",
                 fmt::format("'{}' is not a format this helix reads (expected '{}')", value, kClusterFormat));
    }
  }

  void read_gpu_types() {
    YAML::Node types = root_["gpu_types"];
    if (!types) return;
    r_.expect_map(types, "gpu_types");
    for (const auto& pair : types) {
      YAML::Node key = pair.first;
      std::string name = r_.text(key, "gpu_types");
      std::string field = YamlReader::child("gpu_types", name);
      if (name.empty()) r_.fail_at(key, "gpu_types", "a GPU type needs a non-empty name");
      if (find_type(name) >= 0) r_.fail_at(key, field, "is defined twice");
      spec_.gpu_types.push_back(read_gpu_type(name, pair.second, field));
    }
  }

  GpuType read_gpu_type(const std::string& name, const YAML::Node& node, const std::string& field) const {
    r_.check_keys(
        node, field,
        {"base", "vram", "memory_bandwidth", "peak_flops", "nic", "nic_in", "nic_out", "disk", "profile",
         "layer_times"});
    GpuType t = gpu_type_start(name, node, field);
    bool new_type = t.name.empty();
    t.name = name;
    if (node["vram"])
      t.vram_bytes = r_.size(node["vram"], field + ".vram");
    else if (new_type)
      r_.fail_at(node, field, "missing field 'vram' (a GPU type not in the catalog needs it)");
    if (node["memory_bandwidth"]) {
      t.mem_bandwidth_Bps = r_.bandwidth(node["memory_bandwidth"], field + ".memory_bandwidth");
    }
    if (node["peak_flops"]) t.peak_flops = r_.flops(node["peak_flops"], field + ".peak_flops");
    read_nics(node, field, t.nic_in_Bps, t.nic_out_Bps);
    if (node["disk"]) t.disk_Bps = r_.bandwidth(node["disk"], field + ".disk");
    if (node["profile"]) t.profile_name = read_profile(node["profile"], field + ".profile");
    if (node["layer_times"]) t.layer_times_dir = read_layer_times(node["layer_times"], field + ".layer_times");
    if (new_type && t.profile_name.empty() && t.layer_times_dir.empty() &&
        (t.mem_bandwidth_Bps <= 0 || t.peak_flops <= 0)) {
      r_.fail_at(node, field,
                 "a GPU type not in the catalog needs 'profile' (a measured paper profile), 'layer_times' "
                 "(a `helix profile` directory) or both 'memory_bandwidth' and 'peak_flops'");
    }
    return t;
  }

  // The entry a gpu_types item starts from: its `base`, the catalog entry of the
  // same name, or (name left empty to flag it) a new type with default NIC/disk.
  GpuType gpu_type_start(const std::string& name, const YAML::Node& node, const std::string& field) const {
    if (YAML::Node base = node["base"]) {
      std::string b = r_.text(base, field + ".base");
      auto entry = find_catalog_gpu(b);
      if (!entry) {
        r_.fail_at(base, field + ".base",
                   fmt::format("unknown catalog GPU type '{}'{} (known: {})", b, hint(b, catalog_names()),
                               catalog_gpu_names()));
      }
      return *entry;
    }
    if (auto entry = find_catalog_gpu(name)) return *entry;
    GpuType t;
    t.nic_in_Bps = t.nic_out_Bps = kDefaultNic_Bps;
    t.disk_Bps = kDefaultDisk_Bps;
    return t;
  }

  // `nic` sets both directions; `nic_in` / `nic_out` one each.
  void read_nics(const YAML::Node& node, const std::string& field, double& in, double& out) const {
    if (YAML::Node nic = node["nic"]) {
      if (node["nic_in"] || node["nic_out"]) {
        r_.fail_at(nic, field + ".nic",
                   "give either 'nic' (both directions) or 'nic_in'/'nic_out', not both");
      }
      in = out = r_.bandwidth(nic, field + ".nic");
    }
    if (node["nic_in"]) in = r_.bandwidth(node["nic_in"], field + ".nic_in");
    if (node["nic_out"]) out = r_.bandwidth(node["nic_out"], field + ".nic_out");
  }

  // Relative to the cluster file's directory; both tables must be there.
  std::string read_layer_times(const YAML::Node& node, const std::string& field) const {
    std::filesystem::path p = r_.text(node, field);
    if (p.is_relative()) p = std::filesystem::path(r_.source_name()).parent_path() / p;
    for (const char* table : {"prompt_bs2time.csv", "decode_bs2time.csv"}) {
      if (!std::filesystem::is_regular_file(p / table)) {
        r_.fail_at(node, field, fmt::format("{} has no {} (write it with `helix profile`)", p.string(), table));
      }
    }
    return p.string();
  }

  std::string read_profile(const YAML::Node& node, const std::string& field) const {
    std::string p = r_.text(node, field);
    if (p == "none") return "";
    std::vector<std::string> known = known_profiles();
    if (std::find(known.begin(), known.end(), p) == known.end()) {
      r_.fail_at(node, field,
                 fmt::format("unknown profile '{}'{} (expected one of: {}, or none)", p, hint(p, known),
                             names_of(known)));
    }
    return p;
  }

  static std::vector<std::string> catalog_names() {
    std::vector<std::string> names;
    for (const auto& g : gpu_catalog()) names.push_back(g.name);
    return names;
  }

  int find_type(const std::string& name) const {
    for (std::size_t i = 0; i < spec_.gpu_types.size(); ++i) {
      if (spec_.gpu_types[i].name == name) return static_cast<int>(i);
    }
    return -1;
  }

  // A node's `gpu`: a type from gpu_types, else from the catalog (added on first use).
  int gpu_index(const YAML::Node& node, const std::string& field) {
    std::string name = r_.text(node, field);
    if (int i = find_type(name); i >= 0) return i;
    if (auto entry = find_catalog_gpu(name)) {
      spec_.gpu_types.push_back(*entry);
      return static_cast<int>(spec_.gpu_types.size() - 1);
    }
    std::vector<std::string> known;
    for (const auto& t : spec_.gpu_types) known.push_back(t.name);
    for (const auto& n : catalog_names()) {
      if (std::find(known.begin(), known.end(), n) == known.end()) known.push_back(n);
    }
    r_.fail_at(node, field,
               fmt::format("unknown GPU type '{}'{} (known: {}; define new ones under gpu_types)", name,
                           hint(name, known), names_of(known)));
  }

  void read_regions() {
    YAML::Node regions = root_["regions"];
    if (!regions) {
      spec_.regions = {"default"};
      return;
    }
    r_.expect_list(regions, "regions");
    if (regions.size() == 0) r_.fail_at(regions, "regions", "expected at least one region name");
    for (std::size_t i = 0; i < regions.size(); ++i) {
      std::string field = YamlReader::item("regions", i);
      std::string name = r_.text(regions[i], field);
      if (name.empty()) r_.fail_at(regions[i], field, "a region needs a non-empty name");
      if (std::find(spec_.regions.begin(), spec_.regions.end(), name) != spec_.regions.end()) {
        r_.fail_at(regions[i], field, fmt::format("region '{}' is listed twice", name));
      }
      spec_.regions.push_back(name);
    }
  }

  int region_index(const YAML::Node& node, const std::string& field) const {
    std::string name = r_.text(node, field);
    auto it = std::find(spec_.regions.begin(), spec_.regions.end(), name);
    if (it == spec_.regions.end()) {
      r_.fail_at(node, field,
                 fmt::format("unknown region '{}'{} (regions: {})", name, hint(name, spec_.regions),
                             names_of(spec_.regions)));
    }
    return static_cast<int>(it - spec_.regions.begin());
  }

  // `region` of a node or the coordinator; optional only with a single region.
  int optional_region(const YAML::Node& map, const std::string& field) const {
    if (YAML::Node region = map["region"]) return region_index(region, field + ".region");
    if (spec_.regions.size() > 1) {
      r_.fail_at(map, field,
                 fmt::format("missing field 'region' (the cluster has regions {})", names_of(spec_.regions)));
    }
    return 0;
  }

  void read_coordinator() {
    CoordinatorSpec& c = spec_.coordinator;
    c.nic_in_Bps = c.nic_out_Bps = kDefaultNic_Bps;
    YAML::Node node = root_["coordinator"];
    if (!node) {
      if (spec_.regions.size() > 1) {
        r_.fail_at(root_, "coordinator", "missing field 'coordinator' (needed to say its region)");
      }
      return;
    }
    r_.check_keys(node, "coordinator", {"region", "nic", "nic_in", "nic_out"});
    c.region = optional_region(node, "coordinator");
    read_nics(node, "coordinator", c.nic_in_Bps, c.nic_out_Bps);
  }

  // ---- nodes --------------------------------------------------------------------------------

  void read_nodes() {
    YAML::Node nodes = r_.require(root_, "", "nodes");
    r_.expect_list(nodes, "nodes");
    if (nodes.size() == 0) r_.fail_at(nodes, "nodes", "expected at least one node");
    for (std::size_t i = 0; i < nodes.size(); ++i) read_node_entry(nodes[i], YamlReader::item("nodes", i));
  }

  void read_node_entry(const YAML::Node& node, const std::string& field) {
    r_.check_keys(node, field, {"name", "count", "first", "gpu", "region", "device"});
    YAML::Node name_node = r_.require(node, field, "name");
    std::string pattern = r_.text(name_node, field + ".name");
    ComputeNode proto;
    proto.gpu_type = gpu_index(r_.require(node, field, "gpu"), field + ".gpu");
    proto.region = optional_region(node, field);
    long long count = 1;
    long long first = 0;
    if (YAML::Node c = node["count"]) {
      count = r_.integer(c, field + ".count");
      if (count < 1 || count > kMaxCount)
        r_.fail_at(c, field + ".count", "expected a count from 1 to 100000");
      if (pattern.find("{i}") == std::string::npos) {
        r_.fail_at(name_node, field + ".name", "with 'count', the name needs '{i}' (e.g. \"l4-{i}\")");
      }
    } else if (YAML::Node f = node["first"]) {
      r_.fail_at(f, field + ".first", "'first' needs 'count'");
    }
    if (YAML::Node f = node["first"]) {
      first = r_.integer(f, field + ".first");
      if (first < 0) r_.fail_at(f, field + ".first", "expected a whole number >= 0");
    }
    YAML::Node device_node = node["device"];
    const std::string device = device_node ? r_.text(device_node, field + ".device") : "";
    const bool counted = static_cast<bool>(node["count"]);
    for (long long k = 0; k < count; ++k) {
      proto.name = expand(pattern, first + k);
      if (device_node) proto.device = read_device(device_node, field + ".device", device, counted, first + k);
      add_node(proto, name_node, field + ".name");
    }
  }

  // "cpu" or "cuda:N"; with `count`, "cuda:{i}" gives each node the GPU of its
  // number (nodes gpu-0 .. gpu-7 on one machine's eight GPUs).
  DeviceName read_device(const YAML::Node& at, const std::string& field, const std::string& text, bool counted,
                         long long i) const {
    const std::string expanded = counted ? expand(text, i) : text;
    if (std::optional<DeviceName> d = parse_device_name(expanded)) return *d;
    r_.fail_at(at, field,
               fmt::format("'{}' is not a device ({}{})", expanded, kDeviceNameForms,
                           counted ? "; with 'count', cuda:{i} names GPU i" : ""));
  }

  static std::string expand(const std::string& pattern, long long i) {
    std::string out;
    for (std::size_t p = 0; p < pattern.size();) {
      if (pattern.compare(p, 3, "{i}") == 0) {
        out += std::to_string(i);
        p += 3;
      } else {
        out += pattern[p++];
      }
    }
    return out;
  }

  void add_node(const ComputeNode& node, const YAML::Node& at, const std::string& field) {
    if (node.name.empty()) r_.fail_at(at, field, "a node needs a non-empty name");
    if (node.name.find_first_of("{}") != std::string::npos) {
      r_.fail_at(at, field,
                 fmt::format("'{}': braces are only allowed as '{{i}}' together with 'count'", node.name));
    }
    if (node.name == "coordinator") r_.fail_at(at, field, "'coordinator' is reserved for the coordinator");
    auto [it, fresh] = node_lines_.emplace(node.name, at.Mark().line + 1);
    if (!fresh) {
      r_.fail_at(at, field,
                 fmt::format("duplicate node name '{}' (first defined at line {})", node.name, it->second));
    }
    spec_.nodes.push_back(node);
  }

  // ---- network ------------------------------------------------------------------------------

  void read_network() {
    const std::size_t R = spec_.regions.size();
    rules_.assign(R, std::vector<Rule>(R));
    YAML::Node net = root_["network"];
    if (net) {
      r_.check_keys(net, "network", {"in_region", "cross_region", "region_pairs", "links"});
      read_default_rules(net);
      read_region_pairs(net["region_pairs"]);
    }
    make_default_links();
    if (net) read_link_overrides(net["links"]);
    if (links_.empty()) {
      r_.fail_at(net ? net : root_, "network",
                 "the cluster has no links: give network.in_region (and cross_region) or network.links");
    }
    for (const auto& [arc, v] : links_)
      spec_.links.push_back(Link{arc.first, arc.second, v.bandwidth_Bps, v.latency_s});
  }

  void read_default_rules(const YAML::Node& net) {
    const std::size_t R = spec_.regions.size();
    if (YAML::Node in = net["in_region"]) {
      r_.check_keys(in, "network.in_region", {"bandwidth", "latency"});
      LinkValue v = read_link_value(in, "network.in_region", nullptr);
      for (std::size_t a = 0; a < R; ++a) rules_[a][a] = v;
    }
    if (YAML::Node cross = net["cross_region"]) {
      r_.check_keys(cross, "network.cross_region", {"bandwidth", "latency"});
      LinkValue v = read_link_value(cross, "network.cross_region", nullptr);
      for (std::size_t a = 0; a < R; ++a) {
        for (std::size_t b = 0; b < R; ++b) {
          if (a != b) rules_[a][b] = v;
        }
      }
    }
  }

  // {bandwidth, latency}; a field left out keeps its value from `base` if given.
  // The caller has checked the map's keys.
  LinkValue read_link_value(const YAML::Node& map, const std::string& field, const LinkValue* base) const {
    LinkValue v = base != nullptr ? *base : LinkValue{};
    if (YAML::Node bw = map["bandwidth"]) {
      v.bandwidth_Bps = r_.bandwidth(bw, field + ".bandwidth");
      if (v.bandwidth_Bps <= 0) {
        r_.fail_at(bw, field + ".bandwidth",
                   "a link needs a bandwidth > 0 (to drop a link use 'remove: true')");
      }
    } else if (base == nullptr) {
      r_.fail_at(map, field, "missing field 'bandwidth'");
    }
    if (YAML::Node lat = map["latency"])
      v.latency_s = r_.duration(lat, field + ".latency");
    else if (base == nullptr)
      r_.fail_at(map, field, "missing field 'latency'");
    return v;
  }

  // `remove: true`, refused together with bandwidth/latency.
  bool read_remove(const YAML::Node& map, const std::string& field) const {
    YAML::Node rm = map["remove"];
    if (!rm || !r_.boolean(rm, field + ".remove")) return false;
    if (map["bandwidth"] || map["latency"]) {
      r_.fail_at(rm, field + ".remove", "'remove: true' cannot be combined with bandwidth or latency");
    }
    return true;
  }

  void read_region_pairs(const YAML::Node& pairs) {
    if (!pairs) return;
    r_.expect_list(pairs, "network.region_pairs");
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      std::string field = YamlReader::item("network.region_pairs", i);
      const YAML::Node& p = pairs[i];
      r_.check_keys(p, field, {"between", "bandwidth", "latency", "remove"});
      YAML::Node between = r_.require(p, field, "between");
      if (!between.IsSequence() || between.size() != 2) {
        r_.fail_at(between, field + ".between",
                   "expected two region names, e.g. [us, eu] (or [us, us] inside us)");
      }
      int a = region_index(between[0], field + ".between[0]");
      int b = region_index(between[1], field + ".between[1]");
      Rule rule;
      if (!read_remove(p, field)) {
        const Rule& old = rules_[a][b];
        rule = read_link_value(p, field, old ? &*old : nullptr);
      }
      rules_[a][b] = rules_[b][a] = rule;
    }
  }

  int region_of(int endpoint) const {
    return endpoint == kCoordinator ? spec_.coordinator.region : spec_.nodes[endpoint].region;
  }

  void make_default_links() {
    const int n = spec_.num_nodes();
    for (int u = kCoordinator; u < n; ++u) {
      for (int v = kCoordinator; v < n; ++v) {
        if (u == v) continue;
        const Rule& rule = rules_[region_of(u)][region_of(v)];
        if (rule) links_[Arc{u, v}] = *rule;
      }
    }
  }

  int endpoint_index(const YAML::Node& node, const std::string& field) const {
    std::string name = r_.text(node, field);
    if (name == "coordinator") return kCoordinator;
    for (int i = 0; i < spec_.num_nodes(); ++i) {
      if (spec_.nodes[i].name == name) return i;
    }
    std::vector<std::string> names{"coordinator"};
    for (const auto& nd : spec_.nodes) names.push_back(nd.name);
    r_.fail_at(node, field,
               fmt::format("link to unknown node '{}'{} (expected 'coordinator' or a name under nodes)", name,
                           hint(name, names)));
  }

  void read_link_overrides(const YAML::Node& list) {
    if (!list) return;
    r_.expect_list(list, "network.links");
    for (std::size_t i = 0; i < list.size(); ++i)
      read_link_override(list[i], YamlReader::item("network.links", i));
  }

  void read_link_override(const YAML::Node& l, const std::string& field) {
    r_.check_keys(l, field, {"from", "to", "bandwidth", "latency", "one_way", "remove"});
    int from = endpoint_index(r_.require(l, field, "from"), field + ".from");
    int to = endpoint_index(r_.require(l, field, "to"), field + ".to");
    if (from == to) r_.fail_at(l, field, "a link needs two different endpoints");
    bool one_way = l["one_way"] && r_.boolean(l["one_way"], field + ".one_way");
    bool remove = read_remove(l, field);
    std::vector<Arc> arcs{{from, to}};
    if (!one_way) arcs.emplace_back(to, from);
    for (Arc arc : arcs) {
      auto it = links_.find(arc);
      if (remove) {
        if (it == links_.end())
          r_.fail_at(l, field, fmt::format("there is no link {} to remove", arc_name(arc)));
        links_.erase(it);
        continue;
      }
      const LinkValue* base = it == links_.end() ? nullptr : &it->second;
      if (base == nullptr && !(l["bandwidth"] && l["latency"])) {
        r_.fail_at(l, field,
                   fmt::format("the link {} does not exist yet, so it needs both 'bandwidth' and "
                               "'latency'",
                               arc_name(arc)));
      }
      links_[arc] = read_link_value(l, field, base);
    }
  }

  std::string arc_name(Arc arc) const {
    return spec_.endpoint_name(arc.first) + " -> " + spec_.endpoint_name(arc.second);
  }

  YamlReader r_;
  YAML::Node root_;
  ClusterSpec spec_;
  std::map<std::string, int> node_lines_;
  std::vector<std::vector<Rule>> rules_;  // [region][region] default link
  std::map<Arc, LinkValue> links_;        // sorted: coordinator first
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

ClusterSpec parse_cluster_yaml(const std::string& text, const std::string& source_name) {
  return ClusterParser(text, source_name).run();
}

ClusterSpec load_cluster_yaml(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the file", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse_cluster_yaml(text.str(), path.string());
}

ClusterSpec load_cluster(const std::filesystem::path& path, const std::filesystem::path& machine_profiles) {
  std::string ext = lower(path.extension().string());
  if (ext == ".yaml" || ext == ".yml") return load_cluster_yaml(path);
  if (ext != ".ini") {
    fail("{}: unknown cluster file type '{}': expected .yaml/.yml (helix's format) or .ini (the paper's)",
         path.string(), ext);
  }
  std::filesystem::path profiles = machine_profiles;
  if (profiles.empty()) {
    profiles = path.parent_path() / "machine_profiles.ini";
    if (!std::filesystem::exists(profiles)) {
      fail(
          "{}: a paper cluster file needs machine profiles, and there is no {} next to it: pass one "
          "explicitly",
          path.string(), profiles.string());
    }
  }
  return import_paper_cluster(path, profiles);
}

}  // namespace helix
