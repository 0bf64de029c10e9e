// PerfModel: for every compute node of a cluster serving a given model, how many
// layers it can hold and how many tokens/s it sustains holding k of them.
//
// Where the paper measured the (model, GPU) pair, the numbers come from the
// paper's profiles through its "typical batch" throughput model T(k)
// (throughput_model.h; planner spec §1.5) and are bit-compatible with it. Other
// pairs (an H100, a LLaMA-3-8B from config.json) get synthetic profiles from
// first principles (first_principles.h) and then go through the same T(k) model.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"

namespace helix {

// What one node can do, indexed by the number of layers it holds.
struct NodePerf {
  int max_layers = 0;  // K_i: the most layers that fit (half the VRAM for weights, §1.6)
  // Index k-1 for k = 1..max_layers:
  std::vector<double> throughput_tps;  // T(k): compute throughput (simulator graph, §3)
  std::vector<double> capacity_tps;    // min(T(k), min(NIC in, out) / activation): planner (§1.5 step 5)
  std::vector<double> kv_capacity;     // KV slots in token x layer units: 16 * blocks(k) * k

  double capacity(int k) const { return capacity_tps.at(static_cast<std::size_t>(k - 1)); }
  double throughput(int k) const { return throughput_tps.at(static_cast<std::size_t>(k - 1)); }
};

struct PerfOptions {
  // Paper's "force set" (separate-pipeline baseline): a node may hold more than
  // max_layers; capacity for k > K is then extrapolated as T(K)*K/k. Off by default.
  bool allow_overcommit = false;
};

class PerfModel {
 public:
  // Throws Error when a node's machine type has neither a paper profile for this
  // model nor the datasheet numbers the first-principles model needs.
  static PerfModel build(const ClusterSpec& cluster, const ModelSpec& model,
                         const PerfOptions& options = {});

  // A model from explicit per-node tables (tests, and callers with their own
  // measurements). Every NodePerf must have max_layers entries in each table.
  static PerfModel from_tables(int num_layers, std::vector<NodePerf> nodes,
                               const PerfOptions& options = {});

  const NodePerf& node(int i) const { return nodes_.at(static_cast<std::size_t>(i)); }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  int num_layers() const { return num_layers_; }

  // Capacity of node i holding k layers, planner semantics; k may exceed max_layers
  // only with allow_overcommit. k <= 0 gives 0.
  double capacity(int i, int k) const;
  // Compute throughput T(k) of node i (no NIC term), simulator semantics.
  double throughput(int i, int k) const;

  // Sum over nodes of max_k k*cap_i(k), divided by L: the network-free upper bound
  // of §1.8 (2803.861 for single-24 70B).
  double flow_upper_bound() const;

  // Whether nodes may hold more than max_layers (PerfOptions::allow_overcommit).
  bool allow_overcommit() const { return allow_overcommit_; }

  // Per machine type: T(k) table, for reports. Keyed by GpuType::name.
  const std::map<std::string, std::vector<double>>& type_throughput() const { return by_type_; }

 private:
  int num_layers_ = 0;
  std::vector<NodePerf> nodes_;
  std::map<std::string, std::vector<double>> by_type_;
  bool allow_overcommit_ = false;
};

}  // namespace helix
