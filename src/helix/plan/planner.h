// Planner: the one interface every placement method implements — the paper's
// baselines (Petals, Swarm, homogeneous, separate pipelines) here, the MILP and
// helix's own optimiser later. A planner gets plain data (cluster, model, the
// per-node performance tables) and returns a Placement; the caller evaluates it
// with the flow network so that every method is scored the same way.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/placement.h"

namespace helix {

// Reported by anytime planners each time their best placement improves.
struct PlanProgress {
  double seconds = 0;        // since the planner started (wall clock)
  double objective_tps = 0;  // best max flow so far (planner semantics)
  double bound_tps = 0;      // best proven upper bound so far (0: none yet)
  std::string source;        // what found it ("local search", "cbc", "start: swarm", ...)
};

struct PlanContext {
  PlanContext(const ClusterSpec& cluster_, const ModelSpec& model_, const PerfModel& perf_,
              std::uint64_t seed_ = 0)
      : cluster(cluster_), model(model_), perf(perf_), seed(seed_) {}

  const ClusterSpec& cluster;
  const ModelSpec& model;
  const PerfModel& perf;
  std::uint64_t seed = 0;  // every random choice is seeded (the paper used 0)

  // For anytime planners (helix, milp-paper); the baselines ignore these.
  double time_limit_s = 10;   // wall clock
  int threads = 1;
  const Placement* start = nullptr;  // warm start / re-planning from this placement
  double move_penalty_tps = 0;       // objective charge per layer moved away from `start`
  std::function<void(const PlanProgress&)> on_progress;  // may be empty
  const std::atomic<bool>* stop = nullptr;               // set to stop early (Ctrl-C); may be null
};

// Keys an anytime planner sets in Placement::details (all optional):
//   "upper_bound_tps"  best proven upper bound on the objective
//   "bound_method"     how the bound was obtained, in words
//   "gap"              (bound - objective) / bound
//   "time_to_best_s"   wall-clock seconds until the final placement was found
//   "status"           "optimal", "time limit", "stopped", ...

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
