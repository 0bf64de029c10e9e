// Simulator: helix's deterministic discrete-event simulator of LLM serving on a
// placed heterogeneous cluster (simulator spec §3–10). It reproduces the paper's
// simulator event for event where that matters for the numbers:
//  * one event queue ordered by (time, creation order);
//  * compute nodes run one layer of one batch at a time, walking their layers
//    cyclically, batching prompts and decodes from the paper's per-layer profiles
//    with its admission limits (spec §5–6);
//  * links reserve bandwidth on the sender's NIC, the link and the receiver's NIC
//    while sending, then add their latency (spec §4);
//  * the coordinator issues each query's prompt and then its decodes one after
//    another, each when the previous one came back (spec §9.1);
//  * request routing is the shared sched/ module: the Helix router or one of the
//    baselines (Swarm, random, shortest queue).
// The same inputs and seed give the same report, byte for byte.
#pragma once

#include <functional>
#include <memory>

#include "helix/sim/sim_cluster.h"
#include "helix/sim/sim_config.h"
#include "helix/sim/sim_report.h"

namespace helix::sim {

// Called now and then during a run with the simulated time and the time the run
// is expected to end (for a progress bar).
using ProgressFn = std::function<void(double now_s, double horizon_s)>;

class Simulator {
 public:
  // Validates the config and builds the routing state (max flow, router). Throws
  // Error for bad input: a placement that does not cover the model, a node
  // without a profile, a bad workload file, a rate of 0, ...
  Simulator(const SimCluster& cluster, const SimConfig& config);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Runs the whole simulation once.
  SimReport run(const ProgressFn& progress = nullptr);

  double max_flow_tps() const;
  double model_loading_end_s() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: Simulator(cluster, config).run().
SimReport simulate(const SimCluster& cluster, const SimConfig& config, const ProgressFn& progress = nullptr);

}  // namespace helix::sim
