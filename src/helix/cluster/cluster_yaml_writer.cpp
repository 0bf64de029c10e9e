// write_cluster_yaml (declared in cluster_yaml.h): ClusterSpec -> helix-cluster/1 text.
//
// Exactness: every quantity is written as the shortest "number unit" text that
// core/units.h parses back to the very same double, so a round trip is bit-exact.
// Compactness: runs of nodes named prefix0, prefix1, ... with one GPU type, region
// and device (or GPU i for node i: cuda:{i}) become one `count:` entry, and links become one default per region pair
// (the most common value, if it covers more than half of the pair's endpoint
// pairs) plus explicit exceptions and removals.
#include <filesystem>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "helix/cluster/cluster_yaml.h"
#include "helix/cluster/yaml_reader.h"
#include "helix/core/error.h"
#include "helix/core/units.h"

namespace helix {
namespace {

struct Unit {
  std::string_view name;
  double factor;
};

constexpr Unit kBandwidthUnits[] = {{"TB/s", 1e12},   {"GB/s", 1e9},    {"MB/s", 1e6}, {"KB/s", 1e3},
                                    {"Gbps", 1.25e8}, {"Mbps", 1.25e5}, {"Kbps", 125}, {"B/s", 1}};
constexpr Unit kDurationUnits[] = {{"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}};
constexpr Unit kSizeUnits[] = {{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}};
constexpr Unit kFlopUnits[] = {{"PFLOP/s", 1e15}, {"TFLOP/s", 1e12}, {"GFLOP/s", 1e9}, {"FLOP/s", 1}};

// Cost of a number text: two per significant digit, one per leading zero, four
// for a value below 1, three for a bit-based unit (helix's own unit is bytes;
// bits win only when clearly rounder: "25 Gbps" over "3125 MB/s", but "12.5 MB/s"
// over "100 Mbps"). So "0.2 ms" beats "0.0002 s" and "200000 ns", "40 GB" "0.04 TB".
std::size_t text_cost(const std::string& number, double v, const Unit& u) {
  std::size_t digits = 0;
  std::size_t leading_zeros = 0;
  for (char c : number) {
    if (c >= '1' && c <= '9')
      ++digits;
    else if (c == '0')
      ++(digits > 0 ? digits : leading_zeros);
  }
  return 2 * digits + leading_zeros + (v < 1 && v != 0 ? 4 : 0) + (u.name.ends_with("bps") ? 3 : 0);
}

// The text `parse` maps back to exactly x that reads best (lowest text_cost, the
// earliest unit on a tie, no exponent). The fallback, the shortest round-trip
// form in the factor-1 unit that every list holds, is exact too.
template <typename Parse>
std::string exact_text(double x, std::span<const Unit> units, Parse parse) {
  std::string best;
  std::size_t best_cost = std::string::npos;
  for (const Unit& u : units) {
    double v = x / u.factor;
    for (int digits = 1; digits <= 17; ++digits) {
      std::string number = fmt::format("{:.{}g}", v, digits);
      if (number.find('e') != std::string::npos) continue;
      std::string text = number + " " + std::string(u.name);
      bool same = false;
      try {
        same = parse(text) == x;
      } catch (const Error&) {
      }
      if (!same) continue;
      std::size_t cost = text_cost(number, v, u);
      if (cost < best_cost) {
        best_cost = cost;
        best = text;
      }
      break;
    }
  }
  if (!best.empty()) return best;
  auto base = std::find_if(units.begin(), units.end(), [](const Unit& u) { return u.factor == 1; });
  return fmt::format("{} {}", x, base->name);
}

std::string bandwidth_text(double x) { return exact_text(x, kBandwidthUnits, parse_bandwidth_Bps); }
std::string duration_text(double x) { return exact_text(x, kDurationUnits, parse_duration_s); }
std::string size_text(double x) { return exact_text(x, kSizeUnits, parse_size_bytes); }
std::string flops_text(double x) { return exact_text(x, kFlopUnits, parse_flops); }

using Arc = std::pair<int, int>;
using Value = std::pair<double, double>;  // bandwidth, latency

void emit_nics(YAML::Emitter& out, double in, double outbound) {
  if (in == outbound) {
    out << YAML::Key << "nic" << YAML::Value << bandwidth_text(in);
  } else {
    out << YAML::Key << "nic_in" << YAML::Value << bandwidth_text(in);
    out << YAML::Key << "nic_out" << YAML::Value << bandwidth_text(outbound);
  }
}

void emit_gpu_types(YAML::Emitter& out, const ClusterSpec& c) {
  if (c.gpu_types.empty()) return;
  out << YAML::Key << "gpu_types" << YAML::Value << YAML::BeginMap;
  for (const auto& t : c.gpu_types) {
    out << YAML::Key << t.name << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "vram" << YAML::Value << size_text(t.vram_bytes);
    out << YAML::Key << "memory_bandwidth" << YAML::Value << bandwidth_text(t.mem_bandwidth_Bps);
    out << YAML::Key << "peak_flops" << YAML::Value << flops_text(t.peak_flops);
    emit_nics(out, t.nic_in_Bps, t.nic_out_Bps);
    out << YAML::Key << "disk" << YAML::Value << bandwidth_text(t.disk_Bps);
    out << YAML::Key << "profile" << YAML::Value << (t.profile_name.empty() ? "none" : t.profile_name);
    if (!t.layer_times_dir.empty()) {
      out << YAML::Key << "layer_times" << YAML::Value << std::filesystem::absolute(t.layer_times_dir).string();
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

// ---- nodes --------------------------------------------------------------------------------

// "l4-12" -> ("l4-", 12); nullopt if the name does not end in a plain number.
std::optional<std::pair<std::string, long long>> split_number(const std::string& name) {
  std::size_t p = name.size();
  while (p > 0 && name[p - 1] >= '0' && name[p - 1] <= '9') --p;
  std::size_t digits = name.size() - p;
  if (digits == 0 || digits > 15 || (digits > 1 && name[p] == '0')) return std::nullopt;
  return std::make_pair(name.substr(0, p), std::stoll(name.substr(p)));
}

struct NodeRun {
  std::string prefix;  // name without its number (the whole name if count == 1)
  long long first = 0;
  int count = 0;
  int gpu = 0;
  int region = 0;
  bool numbered = false;
  std::optional<DeviceName> device;  // the first node's
  bool device_indexed = false;       // each node's GPU is its number: cuda:{i}
};

// Whether node `number` of device `d` continues the run's devices: the same device
// for all, or GPU i for node i (which a run of one may start).
bool continues_devices(NodeRun& run, long long number, const std::optional<DeviceName>& d) {
  if (!d || !run.device) return !d && !run.device;
  if (!run.device_indexed && *d == *run.device) return true;
  const bool indexed_so_far = run.device_indexed || (run.count == 1 && run.device->cuda && run.device->index == run.first);
  if (!(d->cuda && d->index == number && indexed_so_far)) return false;
  run.device_indexed = true;
  return true;
}

std::vector<NodeRun> node_runs(const ClusterSpec& c) {
  std::vector<NodeRun> runs;
  for (const auto& node : c.nodes) {
    auto split = split_number(node.name);
    if (split && !runs.empty()) {
      NodeRun& last = runs.back();
      if (last.numbered && last.prefix == split->first && last.first + last.count == split->second &&
          last.gpu == node.gpu_type && last.region == node.region &&
          continues_devices(last, split->second, node.device)) {
        ++last.count;
        continue;
      }
    }
    NodeRun run{split ? split->first : node.name,
                split ? split->second : 0,
                1,
                node.gpu_type,
                node.region,
                split.has_value(),
                node.device};
    runs.push_back(run);
  }
  return runs;
}

void emit_nodes(YAML::Emitter& out, const ClusterSpec& c) {
  out << YAML::Key << "nodes" << YAML::Value << YAML::BeginSeq;
  for (const NodeRun& run : node_runs(c)) {
    out << YAML::Flow << YAML::BeginMap;
    if (run.count == 1) {
      out << YAML::Key << "name" << YAML::Value
          << (run.numbered ? run.prefix + std::to_string(run.first) : run.prefix);
    } else {
      out << YAML::Key << "name" << YAML::Value << run.prefix + "{i}";
      out << YAML::Key << "count" << YAML::Value << run.count;
      if (run.first != 0) out << YAML::Key << "first" << YAML::Value << run.first;
    }
    out << YAML::Key << "gpu" << YAML::Value << c.gpu_types.at(run.gpu).name;
    out << YAML::Key << "region" << YAML::Value << c.regions.at(run.region);
    if (run.device) {
      out << YAML::Key << "device" << YAML::Value << (run.device_indexed ? "cuda:{i}" : run.device->name());
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

// ---- network ------------------------------------------------------------------------------

class NetworkWriter {
 public:
  explicit NetworkWriter(const ClusterSpec& c) : c_(c) {
    for (const auto& l : c.links) links_[{l.from, l.to}] = Value{l.bandwidth_Bps, l.latency_s};
    choose_defaults();
  }

  // Empty lists are left out (the parser's defaults for them are empty too).
  void emit(YAML::Emitter& out) const {
    std::vector<Exception> exceptions = find_exceptions();
    if (defaults_.empty() && exceptions.empty()) return;
    out << YAML::Key << "network" << YAML::Value << YAML::BeginMap;
    if (!defaults_.empty()) {
      out << YAML::Key << "region_pairs" << YAML::Value << YAML::BeginSeq;
      for (const auto& [pair, value] : defaults_) {
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "between" << YAML::Value << YAML::Flow
            << YAML::BeginSeq << c_.regions.at(pair.first) << c_.regions.at(pair.second) << YAML::EndSeq;
        emit_value(out, value);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    if (!exceptions.empty()) {
      out << YAML::Key << "links" << YAML::Value << YAML::BeginSeq;
      for (const auto& e : exceptions) emit_exception(out, e);
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }

 private:
  int region_of(int e) const { return e == kCoordinator ? c_.coordinator.region : c_.nodes.at(e).region; }

  Arc bucket(int u, int v) const {
    int a = region_of(u);
    int b = region_of(v);
    return {std::min(a, b), std::max(a, b)};
  }

  template <typename F>
  void for_each_arc(F f) const {
    for (int u = kCoordinator; u < c_.num_nodes(); ++u) {
      for (int v = kCoordinator; v < c_.num_nodes(); ++v) {
        if (u != v) f(u, v);
      }
    }
  }

  // Per region pair: the most common link value, if it covers > half the arcs.
  void choose_defaults() {
    std::map<Arc, int> arcs;
    std::map<Arc, std::vector<std::pair<Value, int>>> counts;  // first-seen order
    for_each_arc([&](int u, int v) {
      Arc b = bucket(u, v);
      ++arcs[b];
      auto it = links_.find({u, v});
      if (it == links_.end()) return;
      auto& list = counts[b];
      auto found =
          std::find_if(list.begin(), list.end(), [&](const auto& e) { return e.first == it->second; });
      if (found == list.end())
        list.emplace_back(it->second, 1);
      else
        ++found->second;
    });
    for (const auto& [b, list] : counts) {
      auto best = std::max_element(list.begin(), list.end(),
                                   [](const auto& x, const auto& y) { return x.second < y.second; });
      if (2 * best->second > arcs[b]) defaults_[b] = best->first;
    }
  }

  // What the file must say about arc (u, v) beyond its pair default.
  struct Action {
    enum Kind { kNone, kSet, kRemove } kind = kNone;
    Value value{};
    bool operator==(const Action&) const = default;
  };

  Action action(int u, int v) const {
    auto link = links_.find({u, v});
    auto def = defaults_.find(bucket(u, v));
    bool has_def = def != defaults_.end();
    if (link == links_.end()) return has_def ? Action{Action::kRemove, {}} : Action{};
    if (has_def && def->second == link->second) return Action{};
    return Action{Action::kSet, link->second};
  }

  // One `links:` entry: an action on u -> v, and on v -> u too unless one_way.
  struct Exception {
    int from = 0;
    int to = 0;
    Action action;
    bool one_way = false;
  };

  std::vector<Exception> find_exceptions() const {
    std::vector<Exception> out;
    auto add = [&out](int u, int v, const Action& a, bool one_way) {
      if (a.kind != Action::kNone) out.push_back(Exception{u, v, a, one_way});
    };
    for (int u = kCoordinator; u < c_.num_nodes(); ++u) {
      for (int v = u + 1; v < c_.num_nodes(); ++v) {
        Action there = action(u, v);
        Action back = action(v, u);
        if (there == back) {
          add(u, v, there, false);
        } else {
          add(u, v, there, true);
          add(v, u, back, true);
        }
      }
    }
    return out;
  }

  void emit_exception(YAML::Emitter& out, const Exception& e) const {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "from" << YAML::Value << c_.endpoint_name(e.from);
    out << YAML::Key << "to" << YAML::Value << c_.endpoint_name(e.to);
    if (e.action.kind == Action::kRemove)
      out << YAML::Key << "remove" << YAML::Value << true;
    else
      emit_value(out, e.action.value);
    if (e.one_way) out << YAML::Key << "one_way" << YAML::Value << true;
    out << YAML::EndMap;
  }

  static void emit_value(YAML::Emitter& out, const Value& v) {
    out << YAML::Key << "bandwidth" << YAML::Value << bandwidth_text(v.first);
    out << YAML::Key << "latency" << YAML::Value << duration_text(v.second);
  }

  const ClusterSpec& c_;
  std::map<Arc, Value> links_;
  std::map<Arc, Value> defaults_;  // (region a <= region b) -> default link
};

}  // namespace

std::string write_cluster_yaml(const ClusterSpec& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << kClusterFormat;
  if (!c.name.empty()) out << YAML::Key << "name" << YAML::Value << c.name;
  emit_gpu_types(out, c);
  out << YAML::Key << "regions" << YAML::Value << YAML::Flow << c.regions;
  out << YAML::Key << "coordinator" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "region" << YAML::Value << c.regions.at(c.coordinator.region);
  emit_nics(out, c.coordinator.nic_in_Bps, c.coordinator.nic_out_Bps);
  out << YAML::EndMap;
  NetworkWriter(c).emit(out);
  emit_nodes(out, c);
  out << YAML::EndMap;
  if (!out.good()) fail("cannot write the cluster as YAML: {}", out.GetLastError());
  return std::string("# helix cluster file (written by helix)\n") + out.c_str() + "\n";
}

}  // namespace helix
