// Scoring a placement by what it serves: the simulator's model of a runtime
// (sim/runtime_model.h) run on it. Two uses:
//  * score(): a short run started in steady state (SimConfig::warm_start), tens of
//    simulated seconds, what the planner compares candidates by;
//  * predict(): the standard offline run (the paper's start and ramp, 60 s of
//    warm-up, 600 s measured), what the plan report shows as "served".
// Both are deterministic for a seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"
#include "helix/sched/kv_ledger.h"
#include "helix/sim/sim_config.h"

namespace helix::served {

// What runtime the placement is planned for, and the workload.
struct ServingTarget {
  sim::Runtime runtime = sim::Runtime::Helix;
  std::string lengths = "azure-conv";
  sched::KvParameters kv{0.85, 1.0};  // the paper's offline settings
  double feed_hwm = 0.8;              // the paper's offline feeder
  std::uint64_t seed = 0;
};

struct ServedResult {
  bool ok = false;
  std::string error;                 // why it could not be simulated (not ok)
  double decode_tps = 0;
  double mean_decode_latency_s = 0;  // mean time between a query's tokens
  double mean_prompt_latency_s = 0;
  double p95_prompt_latency_s = 0;
  double concurrency = 0;            // decode_tps x mean decode latency (Little's law)
  double max_flow_tps = 0;           // simulator semantics, what the router splits by
  double simulated_s = 0;            // the run's window
  // Per cluster node: the mean stay of a decode there and the share of decodes
  // that passed it (0 for unused nodes): where the time goes, for calibration.
  std::vector<double> node_stay_s, node_share;
};

// Steady state: warm start, `warm_up_s` to settle, `window_s` measured.
ServedResult score(const ClusterSpec& cluster, const ModelSpec& model, const std::vector<LayerRange>& ranges,
                   const ServingTarget& target, double warm_up_s, double window_s);

// The standard offline run of `helix simulate` for the target's runtime.
ServedResult predict(const ClusterSpec& cluster, const ModelSpec& model, const std::vector<LayerRange>& ranges,
                     const ServingTarget& target);

}  // namespace helix::served
