#include "helix/perf/perf_model.h"

#include <algorithm>
#include <cmath>

#include "helix/core/error.h"
#include "helix/perf/machine_classes.h"
#include "helix/perf/throughput_model.h"

namespace helix {
namespace {

// §1.5 step 5: the NIC bound in tokens/s, min(in, out) / activation bytes.
double nic_limit_tps(const ClusterSpec& cluster, int node, const ModelSpec& model) {
  const GpuType& gpu = cluster.gpu_of(node);
  double nic = std::min(gpu.nic_in_Bps, gpu.nic_out_Bps);
  if (!(nic > 0)) {
    fail("node '{}' (type '{}'): NIC bandwidth must be > 0 (in {} B/s, out {} B/s)",
         cluster.nodes[static_cast<std::size_t>(node)].name, gpu.name, gpu.nic_in_Bps,
         gpu.nic_out_Bps);
  }
  return nic / model.activation_bytes_per_token;
}

NodePerf node_perf(const GpuProfile& profile, const ClassThroughput& tables, double nic_tps) {
  NodePerf n;
  n.max_layers = profile.max_layers;
  for (int k = 1; k <= profile.max_layers; ++k) {
    double t = tables.throughput(k);
    n.throughput_tps.push_back(t);
    n.capacity_tps.push_back(std::min(t, nic_tps));
    n.kv_capacity.push_back(static_cast<double>(profile.kv_cache_capacity(k)));
  }
  return n;
}

void validate_node(const NodePerf& n, int index) {
  auto size = static_cast<std::size_t>(n.max_layers);
  if (n.max_layers < 0) fail("perf model: node {} has max_layers {} < 0", index, n.max_layers);
  if (n.throughput_tps.size() != size || n.capacity_tps.size() != size ||
      n.kv_capacity.size() != size) {
    fail("perf model: node {} must have {} entries (max_layers) in each table", index,
         n.max_layers);
  }
  auto bad = [](double v) { return !std::isfinite(v) || v < 0; };
  for (std::size_t k = 0; k < size; ++k) {
    if (bad(n.throughput_tps[k]) || bad(n.capacity_tps[k]) || bad(n.kv_capacity[k])) {
      fail("perf model: node {} has a negative or non-finite value at k = {}", index, k + 1);
    }
  }
}

// Value of a per-k table for k layers, extrapolated as v(K)*K/k past K when the
// paper's "force set" is on (§1.6).
double per_layer_value(const std::vector<double>& table, int max_layers, int k, bool overcommit,
                       int node) {
  if (k <= 0) return 0;
  if (k <= max_layers) return table[static_cast<std::size_t>(k - 1)];
  if (!overcommit || max_layers == 0) {
    fail("perf model: node {} holds at most {} layers, asked for {}", node, max_layers, k);
  }
  return table[static_cast<std::size_t>(max_layers - 1)] * max_layers / k;
}

}  // namespace

PerfModel PerfModel::build(const ClusterSpec& cluster, const ModelSpec& model,
                           const PerfOptions& options) {
  if (cluster.num_nodes() == 0) fail("cluster '{}' has no compute nodes", cluster.name);
  if (!(model.activation_bytes_per_token > 0)) {
    fail("model '{}': activation bytes per token must be > 0", model.name);
  }
  ClusterClasses classes = resolve_machine_classes(cluster, model);
  ThroughputTables tables = compute_throughput(model.num_layers, classes.classes);
  std::vector<NodePerf> nodes;
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    const MachineClass& c = classes.classes[static_cast<std::size_t>(classes.node_class[i])];
    nodes.push_back(node_perf(c.profile, tables.find(c.name), nic_limit_tps(cluster, i, model)));
  }
  PerfModel perf = from_tables(model.num_layers, std::move(nodes), options);
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    perf.by_type_.emplace(cluster.gpu_of(i).name, perf.node(i).throughput_tps);
  }
  return perf;
}

PerfModel PerfModel::from_tables(int num_layers, std::vector<NodePerf> nodes,
                                 const PerfOptions& options) {
  if (num_layers <= 0) fail("perf model: the model must have layers, got {}", num_layers);
  for (std::size_t i = 0; i < nodes.size(); ++i) validate_node(nodes[i], static_cast<int>(i));
  PerfModel perf;
  perf.num_layers_ = num_layers;
  perf.nodes_ = std::move(nodes);
  perf.allow_overcommit_ = options.allow_overcommit;
  return perf;
}

double PerfModel::capacity(int i, int k) const {
  if (i < 0 || i >= num_nodes()) fail("perf model: no node {} (0..{})", i, num_nodes() - 1);
  const NodePerf& n = node(i);
  return per_layer_value(n.capacity_tps, n.max_layers, k, allow_overcommit_, i);
}

double PerfModel::throughput(int i, int k) const {
  if (i < 0 || i >= num_nodes()) fail("perf model: no node {} (0..{})", i, num_nodes() - 1);
  const NodePerf& n = node(i);
  return per_layer_value(n.throughput_tps, n.max_layers, k, allow_overcommit_, i);
}

double PerfModel::flow_upper_bound() const {
  // §1.8: sum over nodes of max_k k * cap_i(k), spread over L layers.
  double total = 0;
  for (const NodePerf& n : nodes_) {
    double best = 0;
    for (int k = 1; k <= n.max_layers; ++k) best = std::max(best, k * n.capacity(k));
    total += best;
  }
  return total / num_layers_;
}

}  // namespace helix
