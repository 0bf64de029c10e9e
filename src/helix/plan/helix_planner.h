// HelixPlanner ("helix"): helix's own placement optimiser. Anytime: it returns
// the best placement found within ctx.time_limit_s, reports every improvement,
// stops on ctx.stop, and states a proven upper bound and the gap.
//
// How (docs/design.md, "How helix plans"): seeds — every baseline, ctx.start when
// re-planning, link-following chains; the interval MILP (helix_interval_milp.h) for
// a bound and, on fast networks, the optimum; region / GPU-type sequences
// (helix_sequences.h); then parallel local-search chains (helix_search.h) scoring
// candidates by the exact max flow of the real cluster graph. Chains run in
// synchronised epochs of a fixed number of moves; between epochs the global best is
// taken (ties to the lowest chain) and stalled chains restart from it perturbed. The trajectory therefore
// depends only on the seed, the thread count and how many epochs complete: with
// --max-evaluations (a move budget) a run is exactly reproducible; with a time
// limit it is reproducible on a machine that completes the same epochs.
// The bound is the best of helix_bounds.h and CBC's bound on the interval MILP;
// when the best placement reaches it the placement is optimal and the search stops.
#pragma once

#include "helix/plan/planner.h"

namespace helix {

class HelixPlanner final : public Planner {
 public:
  // max_evaluations > 0 ends the search after that many candidate evaluations per
  // chain (on top of the time limit).
  // With max_evaluations > 0 its MILP phases stop after `milp_nodes` branch-and-
  // bound nodes each (instead of a share of the clock).
  explicit HelixPlanner(long max_evaluations = 0, long milp_nodes = 2000)
      : max_evaluations_(max_evaluations), milp_nodes_(milp_nodes) {}
  std::string name() const override { return "helix"; }
  std::string description() const override;
  Placement plan(const PlanContext& ctx) const override;

 private:
  long max_evaluations_;
  long milp_nodes_;
};

}  // namespace helix
