// The paper's node-throughput model T(k) (planner spec §1.5): the tokens/s a
// machine of type m sustains while holding k layers, for one cluster composition.
//
// T(k) assumes the node runs a "typical batch": as many requests as 30% of its
// KV cache holds, scaled by the share of a request's round trip spent on this
// node (the workload ratio). That share depends on every other machine type's
// speed, so the per-type speeds are found by a fixed point (exactly 10 Jacobi
// iterations, as upstream). The same GPU therefore gets different curves in
// different clusters (Appendix A).
//
// The implementation reproduces upstream bit for bit: Python's int() truncation
// and half-to-even round() at the same places, the same operation order, and the
// composition summed in upstream's machine_num_dict order (class_order_less).
#pragma once

#include <string>
#include <vector>

#include "helix/perf/profile.h"

namespace helix {

// The paper's "typical" request (§0.1).
inline constexpr int kAvgInputLen = 750;
inline constexpr int kAvgOutputLen = 240;
inline constexpr double kKvCacheHwm = 0.3;

// One machine type of the cluster as the model sees it (one machine_num_dict entry).
struct MachineClass {
  std::string name;  // the paper's profile name for measured types
  int count = 0;     // nodes of this type in the cluster
  int typical_layers = 0;        // §1.5 step 0, default dict
  int typical_layers_small = 0;  // used when sum(count * typical_layers) < 1.2 L
  double initial_perf = 0;       // perf⁰; only ratios between classes matter
  GpuProfile profile;
};

// §1.5 steps 1–3 for one (type, k).
struct TypicalBatch {
  double workload_ratio = 0;
  long long available_entries = 0;     // int(0.3 * KV / k): KV tokens per layer in use
  double prompt_typical_requests = 0;  // ptr
  int prompt_typical_tokens = 0;       // ptt
  int decode_typical_tokens = 0;       // dtt
  double throughput_tps = 0;           // T(k); 0 when no typical batch fits
};

struct ClassThroughput {
  std::string name;
  int typical_layers = 0;      // the dict entry actually used
  double normalized_perf = 0;  // perf after the 10 iterations
  std::vector<TypicalBatch> by_layers;  // index k-1, k = 1..max_layers

  double throughput(int k) const { return by_layers.at(static_cast<std::size_t>(k - 1)).throughput_tps; }
};

struct ThroughputTables {
  bool small_cluster = false;  // the 1.2 L switch chose the larger typical-layer dict
  std::vector<ClassThroughput> classes;  // in class_order_less order

  // Throws Error for an unknown class name.
  const ClassThroughput& find(const std::string& name) const;
};

// Upstream's machine_num_dict order: A100, V100, L4, L4x2, T4, T4x2, T4x4, then any
// other name alphabetically. The workload ratio sums over classes in this order.
bool class_order_less(const std::string& a, const std::string& b);

// T(k) for every class and k = 1..max_layers, after the fixed point. Throws Error
// on invalid classes (count < 1, typical layers outside 1..max_layers, non-positive
// perf⁰) or when a class's typical batch is empty, which leaves the fixed point
// undefined (upstream divides by zero there).
ThroughputTables compute_throughput(int num_layers, std::vector<MachineClass> classes);

// One (type, k) evaluation for given per-class perf (same order as `classes`);
// exposed for tests. §1.5 steps 1–3.
TypicalBatch typical_batch(int num_layers, const std::vector<MachineClass>& classes,
                           const std::vector<int>& typical_layers,
                           const std::vector<double>& perf, std::size_t target, int k);

}  // namespace helix
