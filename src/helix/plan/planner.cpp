#include "helix/plan/planner.h"

#include "helix/core/error.h"
#include "helix/flow/flow_network.h"
#include "helix/plan/baselines.h"
#include "helix/plan/paper_milp.h"
#include "helix/plan/helix_planner.h"

namespace helix {

std::vector<std::string> planner_names() {
  return {"helix", "petals", "swarm", "homogeneous", "separate", "separate-paper", "milp-paper"};
}

std::unique_ptr<Planner> make_planner(const std::string& name) {
  if (name == "helix") return std::make_unique<HelixPlanner>();
  if (name == "petals") return std::make_unique<PetalsPlanner>();
  if (name == "swarm") return std::make_unique<SwarmPlanner>();
  if (name == "homogeneous") return std::make_unique<HomogeneousPlanner>();
  if (name == "separate") return std::make_unique<SeparatePipelinesPlanner>(false);
  if (name == "separate-paper") return std::make_unique<SeparatePipelinesPlanner>(true);
  if (name == "milp-paper") return std::make_unique<PaperMilpPlanner>();
  std::string known;
  for (const auto& n : planner_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown placement method '{}': expected one of {}", name, known);
}

Placement plan_and_evaluate(const Planner& planner, const PlanContext& ctx) {
  Placement placement = planner.plan(ctx);
  placement.method = planner.name();
  placement.objective_tps =
      solve_planner_flow(ctx.cluster, ctx.model, ctx.perf, placement.ranges).max_flow_tps;
  return placement;
}

}  // namespace helix
