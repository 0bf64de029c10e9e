// ServedPlanner: helix's planner for what a cluster serves (the default objective
// of `helix plan`; `--objective max-flow` is the paper's). It maximises the decode
// tokens/s the simulator's model of the target runtime serves in a closed loop,
// not max flow: max flow sees neither the KV cache that bounds how many queries are
// in flight nor the stages that every token waits through.
//
// How (docs/design.md, "Planning for what is served"):
//  1. candidates: the max-flow optimum (HelixPlanner, with its proven bound), the
//     baselines, max-flow placements that keep every node at least 60% / 80% full
//     (fewer, longer stages), and lane designs (lane_design.h) ranked by the
//     closed-form estimate (served_estimate.h);
//  2. every candidate is simulated in steady state (served_score.h, warm start,
//     tens of seconds) on all threads; the best is kept;
//  3. local search by simulation: a layer boundary moves, a node is released or
//     copies another's range; a change that serves 0.5% more is kept;
//  4. the winner is simulated once more, the standard offline run with another
//     seed, for the report's "served" prediction.
// Anytime and stoppable like HelixPlanner; with a simulation budget (and a max-flow
// evaluation budget) it is reproducible, the clock then only guarding against hangs.
#pragma once

#include "helix/plan/planner.h"
#include "helix/served/served_score.h"

namespace helix::served {

class ServedPlanner final : public Planner {
 public:
  // max_simulations > 0: stop after that many scoring simulations (and give the
  // max-flow phase a work budget too), for reproducible runs.
  explicit ServedPlanner(ServingTarget target, long max_simulations = 0)
      : target_(std::move(target)), max_simulations_(max_simulations) {}
  std::string name() const override { return "helix"; }
  std::string description() const override;
  Placement plan(const PlanContext& ctx) const override;

 private:
  ServingTarget target_;
  long max_simulations_;
};

}  // namespace helix::served
