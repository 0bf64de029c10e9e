// Helpers shared by the perf tests: machine classes from a paper composition
// label ("A100:4+L4:8+T4:12") and small hand-built clusters.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/core/error.h"
#include "helix/perf/profile.h"
#include "helix/perf/throughput_model.h"

namespace helix::test {

// "A100:4+L4:8" -> {{"A100", 4}, {"L4", 8}}, in label order.
inline std::vector<std::pair<std::string, int>> parse_composition(const std::string& label) {
  std::vector<std::pair<std::string, int>> out;
  std::size_t start = 0;
  while (start <= label.size()) {
    std::size_t plus = label.find('+', start);
    std::string item = label.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
    std::size_t colon = item.find(':');
    if (colon == std::string::npos) fail("bad composition item '{}'", item);
    out.emplace_back(item.substr(0, colon), std::stoi(item.substr(colon + 1)));
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  return out;
}

// The paper's machine classes for a composition.
inline std::vector<MachineClass> paper_classes(const PaperModelProfile& paper,
                                               const std::vector<std::pair<std::string, int>>& composition) {
  std::vector<MachineClass> classes;
  for (const auto& [gpu, count] : composition) {
    MachineClass c;
    c.name = gpu;
    c.count = count;
    c.typical_layers = paper.typical_layers.at(gpu);
    c.typical_layers_small = paper.typical_layers_small.at(gpu);
    c.initial_perf = paper.initial_perf.at(gpu);
    c.profile = *paper.find(gpu);
    classes.push_back(std::move(c));
  }
  return classes;
}

// A machine type with the paper's profile name and datasheet-like numbers; NIC
// 1e10 B/s as in the paper's machine_profiles.ini (10 "gbps").
inline GpuType paper_gpu(const std::string& name, double vram_gb) {
  GpuType g;
  g.name = name;
  g.profile_name = name;
  g.vram_bytes = vram_gb * 1e9;
  g.nic_in_Bps = 1e10;
  g.nic_out_Bps = 1e10;
  g.disk_Bps = 1e9;
  return g;
}

// A cluster whose nodes have the given types (by name, in order); every type
// must be in `types`.
inline ClusterSpec make_cluster(const std::vector<GpuType>& types,
                                const std::vector<std::string>& node_types) {
  ClusterSpec c;
  c.name = "test";
  c.gpu_types = types;
  c.regions = {"r0"};
  for (std::size_t i = 0; i < node_types.size(); ++i) {
    ComputeNode n;
    n.name = "node" + std::to_string(i);
    for (std::size_t t = 0; t < types.size(); ++t) {
      if (types[t].name == node_types[i]) n.gpu_type = static_cast<int>(t);
    }
    c.nodes.push_back(n);
  }
  return c;
}

// The paper's machine types (vram from machine_profiles.ini).
inline std::vector<GpuType> paper_gpus() {
  return {paper_gpu("A100", 40), paper_gpu("V100", 16), paper_gpu("L4", 24),
          paper_gpu("L4x2", 48), paper_gpu("T4", 16),   paper_gpu("T4x2", 32),
          paper_gpu("T4x4", 64)};
}

// Node types of single-24 in index order (planner spec §1.1).
inline std::vector<std::string> single24_nodes() {
  return {"L4", "T4", "T4", "L4",   "T4", "L4", "A100", "T4", "T4", "A100", "A100", "L4",
          "T4", "T4", "L4", "T4", "T4", "A100", "L4", "T4", "T4", "L4", "T4", "L4"};
}

// Node types of high-het-42 in index order (planner spec §1.1).
inline std::vector<std::string> highhet42_nodes() {
  return {"T4",   "L4x2", "L4",   "V100", "T4x4", "L4x2", "L4",   "V100", "A100", "T4x2", "T4",
          "T4x2", "V100", "T4",   "V100", "L4",   "T4",   "T4x2", "L4",   "T4",   "L4x2", "A100",
          "T4x2", "L4",   "T4x2", "T4",   "V100", "T4x4", "L4",   "T4",   "T4",   "T4x4", "L4x2",
          "T4x4", "T4x2", "A100", "T4",   "L4",   "V100", "L4",   "A100", "T4"};
}

}  // namespace helix::test
