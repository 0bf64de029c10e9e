#include "helix/cluster/paper_import.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "helix/cluster/gpu_catalog.h"
#include "helix/cluster/ini_file.h"
#include "helix/cluster/paper_expr.h"
#include "helix/cluster/region_inference.h"
#include "helix/core/error.h"

namespace helix {
namespace {

using Arc = std::pair<int, int>;  // (from, to); kCoordinator for source/sink

// ---- reading values with their place ---------------------------------------------------

// Runs parse(entry.value); an Error gets "file:line: [section] key: " in front.
template <typename Parse>
auto read_value(const IniFile& file, const IniSection& s, const IniEntry& e, Parse parse) {
  try {
    return parse(e.value);
  } catch (const Error& err) {
    file.fail_at(s, e, err.what());
  }
}

// A quantity that must be >= 0 (the paper writes -1 for "not applicable").
double read_amount(const IniFile& f, const IniSection& s, std::string_view key) {
  const IniEntry& e = f.entry(s, key);
  double v = read_value(f, s, e, paper_number);
  if (v < 0) f.fail_at(s, e, fmt::format("'{}' is negative: expected a value >= 0", e.value));
  return v;
}

std::vector<std::string> read_list(const IniFile& f, const IniSection& s, std::string_view key) {
  return read_value(f, s, f.entry(s, key), paper_list);
}

// Refuses keys other than `allowed` (catches typos such as "bandwith").
void check_keys(const IniFile& f, const IniSection& s, std::initializer_list<std::string_view> allowed) {
  for (const auto& e : s.entries) {
    if (std::find(allowed.begin(), allowed.end(), e.key) != allowed.end()) continue;
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    f.fail_at(s, e, fmt::format("unknown key (expected one of: {})", list));
  }
}

// "17" -> 17 if the text is a whole decimal number, else nullopt.
std::optional<int> parse_index(std::string_view text) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

// ---- GPU types --------------------------------------------------------------------------

// The GPU types of a cluster, in order of first use.
class TypeTable {
 public:
  explicit TypeTable(ClusterSpec& cluster) : cluster_(cluster) {}

  // Index of `type`; a type seen before must have the same numbers.
  int add(GpuType type, const IniFile& f, const IniSection& s) {
    for (std::size_t i = 0; i < cluster_.gpu_types.size(); ++i) {
      const GpuType& t = cluster_.gpu_types[i];
      if (t.name != type.name) continue;
      if (t.vram_bytes != type.vram_bytes || t.nic_in_Bps != type.nic_in_Bps ||
          t.nic_out_Bps != type.nic_out_Bps || t.disk_Bps != type.disk_Bps) {
        f.fail_at(s, fmt::format("machine type '{}' has other VRAM/NIC/disk numbers than an earlier "
                                 "node of the same type",
                                 type.name));
      }
      return static_cast<int>(i);
    }
    if (auto known = find_catalog_gpu(type.name)) {
      type.mem_bandwidth_Bps = known->mem_bandwidth_Bps;
      type.peak_flops = known->peak_flops;
    }
    type.profile_name = type.name;
    cluster_.gpu_types.push_back(std::move(type));
    return static_cast<int>(cluster_.gpu_types.size() - 1);
  }

 private:
  ClusterSpec& cluster_;
};

// A machine type section with vram_size, inbound/outbound_nic_speed, disk_speed
// (machine_profiles.ini and the per-node sections of simulator_cluster.ini).
GpuType read_machine(const IniFile& f, const IniSection& s, std::string name) {
  GpuType t;
  t.name = std::move(name);
  t.vram_bytes = read_amount(f, s, "vram_size");
  t.nic_in_Bps = read_amount(f, s, "inbound_nic_speed");
  t.nic_out_Bps = read_amount(f, s, "outbound_nic_speed");
  t.disk_Bps = read_amount(f, s, "disk_speed");
  return t;
}

void check_machine_keys(const IniFile& f, const IniSection& s) {
  check_keys(f, s, {"vram_size", "inbound_nic_speed", "outbound_nic_speed", "disk_speed"});
}

// ---- the complete cluster file ------------------------------------------------------------

// Where an arc is claimed (a connected_nodes entry) or defined (a Link section).
struct Origin {
  const IniSection* section = nullptr;
  int line = 0;
  std::string item;  // the connected_nodes entry, for messages
};

std::string link_section_name(Arc arc) {
  if (arc.first == kCoordinator) return fmt::format("Link-source-{}", arc.second);
  if (arc.second == kCoordinator) return fmt::format("Link-{}-sink", arc.first);
  return fmt::format("Link-{}-{}", std::min(arc.first, arc.second), std::max(arc.first, arc.second));
}

class ClusterImporter {
 public:
  ClusterImporter(const std::filesystem::path& cluster_ini, const std::filesystem::path& profiles_ini)
      : file_(IniFile::load(cluster_ini)), profiles_(IniFile::load(profiles_ini)), types_(cluster_) {
    cluster_.name = cluster_ini.stem().string();
  }

  ClusterSpec run() {
    const IniSection& names = file_.section("NodeNames");
    check_keys(file_, names, {"total_compute_nodes"});
    const IniEntry& total = file_.entry(names, "total_compute_nodes");
    long long n = read_value(file_, names, total, paper_integer);
    if (n < 1 || n > 1000000) file_.fail_at(names, total, "expected a node count >= 1");
    n_ = static_cast<int>(n);
    check_sections();
    for (int i = 0; i < n_; ++i) read_node(i);
    for (const auto& s : file_.sections()) {
      if (s.name.starts_with("Link-")) read_link(s);
    }
    compare_node_claims();
    compare_coordinator_claims("SourceNode", true);
    compare_coordinator_claims("SinkNode", false);
    read_coordinator();
    infer_regions(cluster_);
    in_context(file_.source_name(), [&] { cluster_.index_links(); });
    return std::move(cluster_);
  }

 private:
  // Every section must be one the format defines (catches typos and stray nodes).
  void check_sections() const {
    for (const auto& s : file_.sections()) {
      if (s.name == "NodeNames" || s.name == "SourceNode" || s.name == "SinkNode") continue;
      if (s.name.starts_with("Link-")) continue;
      if (s.name.starts_with("ComputeNode-")) {
        auto i = parse_index(std::string_view(s.name).substr(12));
        if (i && *i < n_) continue;
        file_.fail_at(s, fmt::format("is not a node of this cluster (total_compute_nodes = {})", n_));
      }
      file_.fail_at(s,
                    "unknown section (expected NodeNames, SourceNode, SinkNode, ComputeNode-i or "
                    "Link-a-b)");
    }
  }

  const IniSection& machine_section(const IniSection& node, const IniEntry& type_entry,
                                    const std::string& type) const {
    const IniSection* m = profiles_.find(type);
    if (m == nullptr || type == "SourceNode" || type == "SinkNode") {
      file_.fail_at(node, type_entry,
                    fmt::format("machine type '{}' is not defined in {}", type, profiles_.source_name()));
    }
    check_machine_keys(profiles_, *m);
    return *m;
  }

  void read_node(int i) {
    const IniSection& s = file_.section(fmt::format("ComputeNode-{}", i));
    check_keys(file_, s, {"type", "connected_nodes"});
    const IniEntry& type_entry = file_.entry(s, "type");
    std::string type = read_value(file_, s, type_entry, paper_string);
    const IniSection& machine = machine_section(s, type_entry, type);
    ComputeNode node;
    node.name = s.name;
    node.gpu_type = types_.add(read_machine(profiles_, machine, type), profiles_, machine);
    cluster_.nodes.push_back(std::move(node));
    const IniEntry& conn = file_.entry(s, "connected_nodes");
    for (const auto& item : read_list(file_, s, "connected_nodes")) {
      claim(node_claims_, item_arc(s, conn, i, item), Origin{&s, conn.line, item}, s, conn);
    }
  }

  // The arc that entry `item` of node i's connected_nodes stands for.
  Arc item_arc(const IniSection& s, const IniEntry& e, int i, const std::string& item) const {
    if (item == "source") return {kCoordinator, i};
    if (item == "sink") return {i, kCoordinator};
    auto j = parse_index(item);
    if (!j || *j >= n_ || *j == i) {
      file_.fail_at(s, e,
                    fmt::format("'{}' is not 'source', 'sink' or another node's index 0..{}", item, n_ - 1));
    }
    return {i, *j};
  }

  void claim(std::map<Arc, Origin>& claims, Arc arc, Origin origin, const IniSection& s,
             const IniEntry& e) const {
    if (!claims.emplace(arc, origin).second) file_.fail_at(s, e, "lists the same node twice");
  }

  // "source", "sink" or a node index 0..n-1, as one end of a Link section name.
  int link_end(const IniSection& s, std::string_view text, bool first) const {
    if (first && text == "source") return kCoordinator;
    if (!first && text == "sink") return kCoordinator;
    auto i = parse_index(text);
    if (!i || *i >= n_) {
      file_.fail_at(s, fmt::format("'{}' is not {} or a node index 0..{}", text,
                                   first ? "'source'" : "'sink'", n_ - 1));
    }
    return *i;
  }

  void read_link(const IniSection& s) {
    check_keys(file_, s, {"bandwidth", "latency"});
    std::string_view ends = std::string_view(s.name).substr(5);
    std::size_t dash = ends.find('-');
    if (dash == std::string_view::npos) file_.fail_at(s, "expected a name like Link-3-7 or Link-source-3");
    int a = link_end(s, ends.substr(0, dash), true);
    int b = link_end(s, ends.substr(dash + 1), false);
    if (a == b) file_.fail_at(s, "links a node to itself");
    Link link{a, b, read_amount(file_, s, "bandwidth"), read_amount(file_, s, "latency")};
    add_arc(s, link);
    if (a != kCoordinator && b != kCoordinator) add_arc(s, Link{b, a, link.bandwidth_Bps, link.latency_s});
  }

  void add_arc(const IniSection& s, const Link& link) {
    auto [it, fresh] = link_origins_.emplace(Arc{link.from, link.to}, Origin{&s, s.line, {}});
    if (!fresh) {
      file_.fail_at(s, fmt::format("gives the same link as [{}] at line {}", it->second.section->name,
                                   it->second.line));
    }
    cluster_.links.push_back(link);
  }

  // connected_nodes of the compute nodes vs the Link sections, both ways.
  void compare_node_claims() const {
    for (const auto& [arc, origin] : node_claims_) {
      if (link_origins_.count(arc) == 0) missing_link(origin, arc);
    }
    for (const auto& [arc, origin] : link_origins_) {
      if (node_claims_.count(arc) != 0) continue;
      bool from_source = arc.first == kCoordinator;
      int owner = from_source ? arc.second : arc.first;
      std::string item = from_source                  ? "'source'"
                         : arc.second == kCoordinator ? "'sink'"
                                                      : std::to_string(arc.second);
      file_.fail_at(*origin.section,
                    fmt::format("[ComputeNode-{}] connected_nodes does not list {}", owner, item));
    }
  }

  // connected_nodes of [SourceNode] (arcs source -> i) or [SinkNode] (i -> sink).
  void compare_coordinator_claims(std::string_view name, bool source) const {
    const IniSection& s = file_.section(name);
    check_keys(file_, s, {"connected_nodes"});
    const IniEntry& conn = file_.entry(s, "connected_nodes");
    std::map<Arc, Origin> claims;
    for (const auto& item : read_list(file_, s, "connected_nodes")) {
      auto i = parse_index(item);
      if (!i || *i >= n_) file_.fail_at(s, conn, fmt::format("'{}' is not a node index 0..{}", item, n_ - 1));
      Arc arc = source ? Arc{kCoordinator, *i} : Arc{*i, kCoordinator};
      claim(claims, arc, Origin{&s, conn.line, item}, s, conn);
      if (link_origins_.count(arc) == 0) missing_link(claims[arc], arc);
    }
    for (const auto& [arc, origin] : link_origins_) {
      bool relevant = source ? arc.first == kCoordinator : arc.second == kCoordinator;
      if (relevant && claims.count(arc) == 0) {
        int node = source ? arc.second : arc.first;
        file_.fail_at(*origin.section, fmt::format("[{}] connected_nodes does not list {}", name, node));
      }
    }
  }

  [[noreturn]] void missing_link(const Origin& origin, Arc arc) const {
    file_.fail_at(
        *origin.section, *origin.section->find("connected_nodes"),
        fmt::format("lists '{}' but there is no [{}] section", origin.item, link_section_name(arc)));
  }

  void read_coordinator() {
    const IniSection& src = profiles_.section("SourceNode");
    const IniSection& sink = profiles_.section("SinkNode");
    check_machine_keys(profiles_, src);
    check_machine_keys(profiles_, sink);
    cluster_.coordinator.nic_out_Bps = read_amount(profiles_, src, "outbound_nic_speed");
    cluster_.coordinator.nic_in_Bps = read_amount(profiles_, sink, "inbound_nic_speed");
  }

  IniFile file_;
  IniFile profiles_;
  ClusterSpec cluster_;
  TypeTable types_;
  int n_ = 0;
  std::map<Arc, Origin> node_claims_;   // from ComputeNode-i connected_nodes
  std::map<Arc, Origin> link_origins_;  // from Link sections (compute links both ways)
};

// ---- simulator_cluster.ini ---------------------------------------------------------------

class SimulatorImporter {
 public:
  explicit SimulatorImporter(const std::filesystem::path& path)
      : file_(IniFile::load(path)), types_(result_.cluster) {
    result_.cluster.name = path.parent_path().filename().string();
  }

  PaperSimulatorCluster run() {
    read_coordinator();
    const IniSection& mt = file_.section("MachineTypes");
    check_keys(file_, mt, {"types"});
    machine_types_ = read_list(file_, mt, "types");
    read_nodes();
    read_links();
    check_sections();
    ClusterSpec& c = result_.cluster;
    infer_regions(c);
    in_context(file_.source_name(), [&] { c.index_links(); });
    return std::move(result_);
  }

 private:
  void read_coordinator() {
    const IniSection& s = file_.section("Coordinator");
    check_keys(file_, s, {"inbound_nic_speed", "outbound_nic_speed"});
    result_.cluster.coordinator.nic_in_Bps = read_amount(file_, s, "inbound_nic_speed");
    result_.cluster.coordinator.nic_out_Bps = read_amount(file_, s, "outbound_nic_speed");
  }

  // "compute_node_K" -> K-2, or nullopt.
  static std::optional<int> node_number(std::string_view name) {
    constexpr std::string_view prefix = "compute_node_";
    if (!name.starts_with(prefix)) return std::nullopt;
    auto k = parse_index(name.substr(prefix.size()));
    if (!k || *k < 2) return std::nullopt;
    return *k - 2;
  }

  void read_nodes() {
    const IniSection& s = file_.section("ComputeNodes");
    check_keys(file_, s, {"names"});
    const IniEntry& e = file_.entry(s, "names");
    std::vector<std::string> names = read_list(file_, s, "names");
    const int n = static_cast<int>(names.size());
    if (n == 0) file_.fail_at(s, e, "lists no compute node");
    section_of_node_.assign(names.size(), nullptr);
    for (const auto& name : names) {
      auto index = node_number(name);
      if (!index || *index >= n) {
        file_.fail_at(s, e,
                      fmt::format("'{}': expected the names compute_node_2 .. compute_node_{}", name, n + 1));
      }
      if (section_of_node_[*index] != nullptr) file_.fail_at(s, e, fmt::format("'{}' is listed twice", name));
      section_of_node_[*index] = &file_.section(name);
      node_index_[name] = *index;
    }
    result_.cluster.nodes.resize(names.size());
    result_.kv_cache_capacity.resize(names.size());
    for (int i = 0; i < n; ++i) read_node(i, *section_of_node_[i]);
  }

  void read_node(int i, const IniSection& s) {
    check_keys(file_, s,
               {"vram_size", "inbound_nic_speed", "outbound_nic_speed", "disk_speed", "machine_type",
                "kv_cache_capacity", "activation_backup_capacity"});
    const IniEntry& type_entry = file_.entry(s, "machine_type");
    std::string type = read_value(file_, s, type_entry, paper_string);
    if (std::find(machine_types_.begin(), machine_types_.end(), type) == machine_types_.end()) {
      file_.fail_at(s, type_entry, fmt::format("'{}' is not listed in [MachineTypes] types", type));
    }
    ComputeNode& node = result_.cluster.nodes[i];
    node.name = fmt::format("ComputeNode-{}", i);
    node.gpu_type = types_.add(read_machine(file_, s, type), file_, s);
    // Copied verbatim: upstream writes -1 where it has no value (separate/t4x2).
    result_.kv_cache_capacity[i] = read_value(file_, s, file_.entry(s, "kv_cache_capacity"), paper_number);
    read_amount(file_, s, "activation_backup_capacity");
  }

  // "source"/"sink"/"compute_node_K" at one end of a link.
  int endpoint(const IniSection& s, std::string_view key) const {
    const IniEntry& e = file_.entry(s, key);
    std::string name = read_value(file_, s, e, paper_string);
    bool is_in = key == "in";
    if (name == (is_in ? "source" : "sink")) return kCoordinator;
    auto it = node_index_.find(name);
    if (it == node_index_.end()) {
      file_.fail_at(s, e,
                    fmt::format("'{}' is not {} or a node listed in [ComputeNodes] names", name,
                                is_in ? "'source'" : "'sink'"));
    }
    return it->second;
  }

  void read_links() {
    const IniSection& s = file_.section("Links");
    check_keys(file_, s, {"names"});
    const IniEntry& e = file_.entry(s, "names");
    std::map<Arc, const IniSection*> seen;
    for (const auto& name : read_list(file_, s, "names")) {
      const IniSection* ls = file_.find(name);
      if (ls == nullptr) file_.fail_at(s, e, fmt::format("'{}' has no [{}] section", name, name));
      if (!link_sections_.emplace(name).second)
        file_.fail_at(s, e, fmt::format("'{}' is listed twice", name));
      check_keys(file_, *ls, {"in", "out", "latency", "bandwidth"});
      Link link{endpoint(*ls, "in"), endpoint(*ls, "out"), read_amount(file_, *ls, "bandwidth"),
                read_amount(file_, *ls, "latency")};
      if (link.from == link.to) file_.fail_at(*ls, "links a node to itself");
      auto [it, fresh] = seen.emplace(Arc{link.from, link.to}, ls);
      if (!fresh) file_.fail_at(*ls, fmt::format("gives the same link as [{}]", it->second->name));
      result_.links.emplace_back(link.from, link.to);
      result_.cluster.links.push_back(link);
    }
  }

  void check_sections() const {
    for (const auto& s : file_.sections()) {
      if (s.name == "Coordinator" || s.name == "MachineTypes" || s.name == "ComputeNodes" ||
          s.name == "Links" || node_index_.count(s.name) != 0 || link_sections_.count(s.name) != 0) {
        continue;
      }
      file_.fail_at(s, "unknown section (not listed in [ComputeNodes] names or [Links] names)");
    }
  }

  IniFile file_;
  PaperSimulatorCluster result_;
  TypeTable types_;
  std::vector<std::string> machine_types_;
  std::vector<const IniSection*> section_of_node_;
  std::map<std::string, int, std::less<>> node_index_;
  std::set<std::string, std::less<>> link_sections_;
};

}  // namespace

ClusterSpec import_paper_cluster(const std::filesystem::path& cluster_ini,
                                 const std::filesystem::path& machine_profiles_ini) {
  return ClusterImporter(cluster_ini, machine_profiles_ini).run();
}

PaperSimulatorCluster import_paper_simulator_cluster(const std::filesystem::path& simulator_cluster_ini) {
  return SimulatorImporter(simulator_cluster_ini).run();
}

}  // namespace helix
