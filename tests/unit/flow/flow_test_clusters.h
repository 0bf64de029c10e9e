// Small clusters built in code for the flow tests: GPU types, nodes, links, and a
// PerfModel from explicit tables (PerfModel::from_tables), so the tests do not
// depend on the paper's profiles.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"

namespace helix::test {

// A 70B-like model: 2-byte tokens, 16384-byte activations.
inline ModelSpec flow_model(int num_layers) {
  ModelSpec m;
  m.name = "test-model";
  m.num_layers = num_layers;
  m.token_size_bytes = 2;
  m.activation_bytes_per_token = 16384;
  return m;
}

inline GpuType flow_gpu(const std::string& name, double nic_Bps = 1.25e9) {
  GpuType g;
  g.name = name;
  g.vram_bytes = 16e9;
  g.nic_in_Bps = nic_Bps;
  g.nic_out_Bps = nic_Bps;
  return g;
}

// One node per entry of `node_types` (indices into `types`), named "n0", "n1", ...
// No links yet; add them with link()/connect_all() and call index_links().
inline ClusterSpec flow_cluster(std::vector<GpuType> types, const std::vector<int>& node_types) {
  ClusterSpec c;
  c.name = "test";
  c.gpu_types = std::move(types);
  c.regions = {"r0"};
  for (std::size_t i = 0; i < node_types.size(); ++i) {
    c.nodes.push_back(ComputeNode{"n" + std::to_string(i), node_types[i], 0});
  }
  c.coordinator.nic_in_Bps = 1.25e9;
  c.coordinator.nic_out_Bps = 1.25e9;
  return c;
}

inline void link(ClusterSpec& c, int from, int to, double bandwidth_Bps) {
  c.links.push_back(Link{from, to, bandwidth_Bps, 0.001});
}

// Every ordered pair of endpoints (coordinator included), one bandwidth.
inline void connect_all(ClusterSpec& c, double bandwidth_Bps) {
  for (int a = kCoordinator; a < c.num_nodes(); ++a) {
    for (int b = kCoordinator; b < c.num_nodes(); ++b) {
      if (a != b) link(c, a, b, bandwidth_Bps);
    }
  }
}

// A node whose capacity and throughput are `tps[k-1]` for k = 1..size.
inline NodePerf flow_node_perf(std::vector<double> tps) {
  NodePerf p;
  p.max_layers = static_cast<int>(tps.size());
  p.throughput_tps = tps;
  p.capacity_tps = tps;
  p.kv_capacity.assign(tps.size(), 1000);
  return p;
}

// T(k) = base / k for k = 1..max_layers: capacity falls as a node holds more layers.
inline NodePerf flow_node_perf_over_k(double base, int max_layers) {
  std::vector<double> tps;
  for (int k = 1; k <= max_layers; ++k) tps.push_back(base / k);
  return flow_node_perf(std::move(tps));
}

}  // namespace helix::test
