// KvLedger: the Helix router's expected KV-cache use per node (planner spec §4.3,
// upstream kv_expectation.py). A routed query is charged, on each node of its
// route, expected_len(I) = int(I + 240 * output_ratio) slots per layer it runs
// there, until the query finishes. A node accepts a new prompt only if, charged
// for all its layers, at least (1 - hwm) of its capacity stays free. The real KV
// use is tracked by whoever executes the requests (simulator, runtime).
#pragma once

#include <vector>

#include "helix/sched/serving_view.h"

namespace helix::sched {

// The paper's settings: offline (0.85, 1.0), online (0.9, 0.6).
struct KvParameters {
  double expected_kv_hwm = 0.85;
  double expected_output_ratio = 1.0;
};

// One charge of a route: `slots_per_token_layer` x layers on a node.
struct KvCharge {
  int node = 0;
  int layers = 0;
};

class KvLedger {
 public:
  KvLedger() = default;
  KvLedger(const ServingView& view, KvParameters parameters);

  long long expected_len(int input_tokens) const;
  // Would `node` take a prompt of this length on all its layers?
  bool can_add(int node, int input_tokens) const;
  void add(int input_tokens, const std::vector<KvCharge>& charges);
  void remove(int input_tokens, const std::vector<KvCharge>& charges);
  // max over model layers of the expected used share of the KV of the nodes
  // holding that layer (each node's free KV spread evenly over its layers); drives
  // the offline feeder (simulator spec §9.2).
  double bottleneck_usage() const;

  double available(int node) const { return available_.at(static_cast<std::size_t>(node)); }
  double total(int node) const { return total_.at(static_cast<std::size_t>(node)); }

 private:
  KvParameters parameters_;
  std::vector<LayerRange> layers_;
  std::vector<double> total_, available_;
  int num_layers_ = 0;
};

}  // namespace helix::sched
