// Planner: the one interface every placement method implements — the paper's
// baselines (Petals, Swarm, homogeneous, separate pipelines) here, the MILP and
// helix's own optimiser later. A planner gets plain data (cluster, model, the
// per-node performance tables) and returns a Placement; the caller evaluates it
// with the flow network so that every method is scored the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/placement.h"

namespace helix {

struct PlanContext {
  const ClusterSpec& cluster;
  const ModelSpec& model;
  const PerfModel& perf;
  std::uint64_t seed = 0;  // every random choice is seeded (the paper used 0)
};

class Planner {
 public:
  virtual ~Planner() = default;
  virtual std::string name() const = 0;
  // One line for `helix plan --help`.
  virtual std::string description() const = 0;
  // A placement for every node of ctx.cluster (unused nodes get empty ranges).
  // Throws Error when the method cannot place the model on this cluster.
  virtual Placement plan(const PlanContext& ctx) const = 0;
};

// The names make_planner() knows, in display order.
std::vector<std::string> planner_names();
// Throws Error naming the known methods for an unknown name.
std::unique_ptr<Planner> make_planner(const std::string& name);

// Plans with `planner` and fills objective_tps with the planner-semantics max flow.
Placement plan_and_evaluate(const Planner& planner, const PlanContext& ctx);

}  // namespace helix
