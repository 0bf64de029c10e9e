// The models of a serving runtime the simulator can run (SimConfig::runtime):
//  * the paper's (paper_simulator.cpp): its prototype as its simulator has it,
//    event for event — one layer of one batch at a time, bandwidth reserved per
//    request on every link;
//  * helix's own (helix_runtime_model.cpp): what `helix worker` does — whole-stage
//    continuous batching, chunked prefill, KV admission with preemption, and the
//    coordinator issuing every decode step.
// Both take the same SimCluster and SimConfig, route with the same sched/ router,
// and fill the same SimReport. Internal to sim/; callers use simulator.h.
#pragma once

#include <memory>

#include "helix/sim/simulator.h"

namespace helix::sim {

class RuntimeModel {
 public:
  virtual ~RuntimeModel() = default;
  virtual SimReport run(const ProgressFn& progress) = 0;
  virtual double max_flow_tps() const = 0;
  virtual double model_loading_end_s() const = 0;
};

std::unique_ptr<RuntimeModel> make_paper_model(const SimCluster& cluster, const SimConfig& config);
std::unique_ptr<RuntimeModel> make_helix_runtime_model(const SimCluster& cluster, const SimConfig& config);

}  // namespace helix::sim
