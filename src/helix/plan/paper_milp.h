// The paper's MILP placement planner, exactly as the artifact builds it (planner
// spec §2; upstream ilp_layout.py), solved with CBC instead of Gurobi.
//
// Model (§2.2–2.4), with the upstream variable and constraint names so that
// to_lp() can be diffed against the published ilp_model.lp files:
//   start_i (integer), hold_i_k (binary: node i holds exactly k layers),
//   flow_u_v (continuous), switch_u_v (binary: arc usable) for every arc, where
//   u/v is a node index, "source" or "sink" (the coordinator's two roles), and,
//   with partial inference only, edge_cond1_i_j / edge_cond2_i_j per node arc.
//   Rows: hold_constraint_i, end_constraint_i, node_flow_constraint_i,
//   node_throughput_constraint_i, edge_enable_constr_* (only without
//   remove_redundant), edge_disable_constr_*, edge_disable_constr{1,2}_i_j,
//   edge_flow_constr_u_v. Objective: maximise the flow out of the source.
// Arcs are the cluster's directed links: coordinator -> i is the source arc,
// i -> coordinator the sink arc. Every node must hold 1..K_i layers (§2.3).
//
// Known weaknesses (spec §8 items 1–2, 6): big-M arc capacities (5e8 on source
// arcs) and no symmetry breaking make the LP bound very weak; CBC rarely proves
// anything on the paper's clusters. The planner therefore warm-starts CBC and is
// bounded by a wall-clock limit and a stop flag instead of upstream's callbacks.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/milp/milp_model.h"
#include "helix/model/layer_range.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/planner.h"

namespace helix {

struct PaperMilpOptions {
  // Drop the "enable" halves of the indicator linearisations and start_i's upper
  // bound L-1 (§2.4). True in the paper's 70B runs, false in its 30B runs.
  bool remove_redundant = true;
  // Arc i -> j usable when s_j <= e_i < e_j (instead of e_i = s_j); adds
  // edge_cond1/2 binaries. No run in the artifact uses it.
  bool allow_partial_inference = false;
};

// One arc of the MILP graph (§2.2) and its columns.
struct PaperMilpArc {
  int from = kCoordinator;  // kCoordinator: the source
  int to = kCoordinator;    // kCoordinator: the sink
  double capacity_tps = 0;  // c_uv (§1.7): B / token size (coordinator), B / activation size
  int flow = -1;            // column flow_u_v
  int usable = -1;          // column switch_u_v
  int cond1 = -1;           // column edge_cond1_i_j (partial inference only)
  int cond2 = -1;           // column edge_cond2_i_j (partial inference only)
};

struct PaperMilp {
  MilpModel model;
  int num_layers = 0;  // m = L
  PaperMilpOptions options;
  std::vector<int> start;              // column start_i, per node
  std::vector<std::vector<int>> hold;  // hold[i][k-1]: column hold_i_k, k = 1..K_i
  std::vector<PaperMilpArc> arcs;      // source arcs, sink arcs, then node arcs (link order)
};

// Throws Error if a node cannot hold a single layer (K_i = 0) or an arc's
// capacity is not finite.
PaperMilp build_paper_milp(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
                           const PaperMilpOptions& options = {});

// The MIP start of §2.6 from a placement: start_i = first layer, hold_i_k = [k = size].
// Flows and switches are left to the solver (a partial start). With
// `with_switches`, every switch_u_v (and edge_cond) is also set to whether its layer
// condition holds, which leaves only an LP to complete. Deviation from upstream:
// a node whose range is empty or longer than K_i is left out instead of being
// given all-zero holds (which made upstream's start infeasible, §8 item 9).
std::vector<std::pair<std::string, double>> paper_milp_start(const PaperMilp& milp,
                                                             std::span<const LayerRange> ranges,
                                                             bool with_switches = false);

// §2.5: node i holds [round(start_i), round(start_i) + k) where hold_i_k = 1.
// Throws Error if a node has no hold set.
std::vector<LayerRange> paper_milp_ranges(const PaperMilp& milp, std::span<const double> values);

struct PaperMilpPlannerOptions {
  PaperMilpOptions milp;
  // Prune links before building the MILP (§2.8); the paper did for 3cluster24 and
  // cluster42 with (12, 12, 1 B/s). Off by default.
  bool prune = false;
  int min_keep = 12;
  int max_keep = 12;
  double threshold_Bps = 1;
  bool show_solver_log = false;
};

// "milp-paper": builds the MILP on ctx.cluster (pruned if asked) and solves it
// with CBC for ctx.time_limit_s seconds (wall clock, including model building),
// ctx.threads threads, honouring ctx.stop and reporting each CBC incumbent through
// ctx.on_progress (its MILP objective, on the pruned cluster when pruning, and
// CBC's bound), after a first report of the warm start ("start: petals").
//
// Warm start: ctx.start if given, else the Petals baseline — the paper's
// single-cluster 70B run started from its Petals layout (§2.6). The start's
// start_i / hold_i_k and its switches are passed (see paper_milp_start: CBC
// completes a start by a small branch-and-bound that often fails with the
// switches left open; with them, an LP suffices).
//
// The result is CBC's best solution, or the warm start if CBC has none or the
// start's flow is higher. Its objective_tps is the planner-semantics max flow on
// ctx.cluster (solve_planner_flow): the MILP's own flow values are not trusted.
// Placement::details: status, upper_bound_tps (CBC's bound on the MILP, i.e. on
// the pruned cluster when pruning), bound_method, gap, time_to_best_s,
// milp_rows/columns/nonzeros, milp_objective_tps, warm_start, warm_start_tps,
// source ("cbc" or "warm start"), pruned_links (when pruning), solver, nodes.
class PaperMilpPlanner final : public Planner {
 public:
  explicit PaperMilpPlanner(PaperMilpPlannerOptions options = {}) : options_(std::move(options)) {}
  std::string name() const override { return "milp-paper"; }
  std::string description() const override;
  Placement plan(const PlanContext& ctx) const override;

 private:
  PaperMilpPlannerOptions options_;
};

}  // namespace helix
