#include "helix/plan/paper_milp.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "helix/core/error.h"
#include "helix/flow/flow_network.h"
#include "helix/milp/cbc_solver.h"
#include "helix/plan/baselines.h"
#include "helix/plan/pruning.h"

namespace helix {
namespace {

std::size_t at(int i) { return static_cast<std::size_t>(i); }

std::string endpoint(int node, const char* coordinator_role) {
  return node == kCoordinator ? coordinator_role : std::to_string(node);
}

// "source_3", "3_sink", "3_7": the suffix upstream gives every per-arc name.
std::string arc_suffix(const PaperMilpArc& arc) {
  return endpoint(arc.from, "source") + "_" + endpoint(arc.to, "sink");
}

// Row expressions read as in the spec: `end_of(i) + scaled(start_of(j), -1) + one(d, m)`
// is e_i - s_j + m d. The model merges repeated columns.
std::vector<MilpTerm> operator+(std::vector<MilpTerm> a, const std::vector<MilpTerm>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<MilpTerm> scaled(std::vector<MilpTerm> terms, double factor) {
  for (MilpTerm& t : terms) t.coefficient *= factor;
  return terms;
}

// Builds the model of spec §2.2–2.4 row by row in upstream's order.
class PaperMilpBuilder {
 public:
  PaperMilpBuilder(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
                   const PaperMilpOptions& options)
      : cluster_(cluster), model_(model), perf_(perf) {
    milp_.options = options;
    milp_.num_layers = perf.num_layers();
    milp_.model.name = fmt::format("Helix paper MILP: {} on {}", model.name, cluster.name);
    milp_.model.set_maximize(true);
  }

  PaperMilp build() && {
    collect_arcs();
    add_columns();
    add_node_rows();
    add_node_flow_rows();
    for (const PaperMilpArc& arc : milp_.arcs) add_arc_condition_rows(arc);
    for (const PaperMilpArc& arc : milp_.arcs) add_arc_flow_row(arc);
    return std::move(milp_);
  }

 private:
  double m() const { return milp_.num_layers; }
  bool redundant_rows() const { return !milp_.options.remove_redundant; }

  enum class ArcKind { Source, Sink, Node };
  static ArcKind kind_of(const Link& l) {
    if (l.from == kCoordinator) return ArcKind::Source;
    return l.to == kCoordinator ? ArcKind::Sink : ArcKind::Node;
  }

  // §2.2: source arcs, sink arcs, then node arcs, each in the cluster's link order;
  // c_uv = B / token size for coordinator arcs, B / activation size otherwise (§1.7).
  void collect_arcs() {
    for (ArcKind kind : {ArcKind::Source, ArcKind::Sink, ArcKind::Node}) {
      const double bytes = kind == ArcKind::Node ? model_.activation_bytes_per_token : model_.token_size_bytes;
      for (const Link& l : cluster_.links) {
        if (kind_of(l) != kind) continue;
        const double capacity = l.bandwidth_Bps / bytes;
        if (!std::isfinite(capacity)) {
          fail("paper MILP: link {} -> {} has no finite capacity (bandwidth {} B/s over {} bytes per token)",
               cluster_.endpoint_name(l.from), cluster_.endpoint_name(l.to), l.bandwidth_Bps, bytes);
        }
        milp_.arcs.push_back({l.from, l.to, capacity});
      }
    }
  }

  // §2.3 columns: start_i, hold_i_k, then flow, switch (and edge_cond) per arc.
  void add_columns() {
    MilpModel& model = milp_.model;
    const double start_upper = milp_.options.remove_redundant ? kMilpInfinity : m() - 1;
    for (int i = 0; i < cluster_.num_nodes(); ++i) {
      milp_.start.push_back(model.add_integer(fmt::format("start_{}", i), 0, start_upper));
    }
    for (int i = 0; i < cluster_.num_nodes(); ++i) {
      const int max_layers = perf_.node(i).max_layers;
      if (max_layers < 1) {
        fail("paper MILP: node {} cannot hold a single layer, but the MILP makes every node hold 1..K_i (spec §2.3)",
             cluster_.nodes[at(i)].name);
      }
      auto& holds = milp_.hold.emplace_back();
      for (int k = 1; k <= max_layers; ++k) holds.push_back(model.add_binary(fmt::format("hold_{}_{}", i, k)));
    }
    for (PaperMilpArc& arc : milp_.arcs) {
      arc.flow = model.add_continuous("flow_" + arc_suffix(arc), 0, kMilpInfinity, arc.from == kCoordinator ? 1 : 0);
    }
    for (PaperMilpArc& arc : milp_.arcs) arc.usable = model.add_binary("switch_" + arc_suffix(arc));
    if (!milp_.options.allow_partial_inference) return;
    for (PaperMilpArc& arc : milp_.arcs) {
      if (arc.from == kCoordinator || arc.to == kCoordinator) continue;
      arc.cond1 = model.add_binary("edge_cond1_" + arc_suffix(arc));
      arc.cond2 = model.add_binary("edge_cond2_" + arc_suffix(arc));
    }
  }

  std::vector<MilpTerm> start_of(int i) const { return {{milp_.start[at(i)], 1}}; }
  // e_i = s_i + sum_k k * b_ik (§2.3).
  std::vector<MilpTerm> end_of(int i) const {
    std::vector<MilpTerm> terms = start_of(i);
    const auto& holds = milp_.hold[at(i)];
    for (std::size_t k = 0; k < holds.size(); ++k) terms.push_back({holds[k], static_cast<double>(k + 1)});
    return terms;
  }
  std::vector<MilpTerm> one(int column, double coefficient = 1) const { return {{column, coefficient}}; }

  // §2.4 per node: (hold) and (end).
  void add_node_rows() {
    for (int i = 0; i < cluster_.num_nodes(); ++i) {
      std::vector<MilpTerm> holds;
      for (int column : milp_.hold[at(i)]) holds.push_back({column, 1});
      milp_.model.add_eq(fmt::format("hold_constraint_{}", i), holds, 1);
      milp_.model.add_le(fmt::format("end_constraint_{}", i), end_of(i), m());
    }
  }

  // §2.4 per node: (conservation) inflow = outflow, then (node throughput)
  // inflow <= sum_k cap_i(k) b_ik.
  void add_node_flow_rows() {
    const std::size_t n = at(cluster_.num_nodes());
    std::vector<std::vector<MilpTerm>> inflow(n), outflow(n);
    for (const PaperMilpArc& arc : milp_.arcs) {
      if (arc.to != kCoordinator) inflow[at(arc.to)].push_back({arc.flow, 1});
      if (arc.from != kCoordinator) outflow[at(arc.from)].push_back({arc.flow, -1});
    }
    for (std::size_t i = 0; i < n; ++i) {
      milp_.model.add_eq(fmt::format("node_flow_constraint_{}", i), inflow[i] + outflow[i], 0);
    }
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<MilpTerm> terms = inflow[i];
      const auto& holds = milp_.hold[i];
      for (std::size_t k = 0; k < holds.size(); ++k) {
        terms.push_back({holds[k], -perf_.capacity(static_cast<int>(i), static_cast<int>(k + 1))});
      }
      milp_.model.add_le(fmt::format("node_throughput_constraint_{}", i), terms, 0);
    }
  }

  // §2.4 the layer condition behind switch_u_v.
  void add_arc_condition_rows(const PaperMilpArc& arc) {
    if (arc.from == kCoordinator) {
      add_source_rows(arc);
    } else if (arc.to == kCoordinator) {
      add_sink_rows(arc);
    } else if (milp_.options.allow_partial_inference) {
      add_partial_rows(arc);
    } else {
      add_exact_rows(arc);
    }
  }

  // switch => e_i = s_j, both halves always present:
  // m d <= m + (s_j - e_i) and m d <= m - (s_j - e_i).
  void add_exact_rows(const PaperMilpArc& arc) {
    const std::string suffix = arc_suffix(arc);
    const auto d = one(arc.usable, m());
    milp_.model.add_le("edge_disable_constr1_" + suffix, end_of(arc.from) + scaled(start_of(arc.to), -1) + d, m());
    milp_.model.add_le("edge_disable_constr2_" + suffix, start_of(arc.to) + scaled(end_of(arc.from), -1) + d, m());
  }

  // switch = [s_i = 0]: s_i + m d <= m; without remove_redundant also s_i + d >= 1.
  void add_source_rows(const PaperMilpArc& arc) {
    const std::string suffix = arc_suffix(arc);
    if (redundant_rows()) milp_.model.add_ge("edge_enable_constr_" + suffix, start_of(arc.to) + one(arc.usable), 1);
    milp_.model.add_le("edge_disable_constr_" + suffix, start_of(arc.to) + one(arc.usable, m()), m());
  }

  // switch = [e_i = m]: m d <= e_i; without remove_redundant also (m-1)(d+1) >= e_i.
  void add_sink_rows(const PaperMilpArc& arc) {
    const std::string suffix = arc_suffix(arc);
    const auto minus_end = scaled(end_of(arc.from), -1);
    if (redundant_rows()) {
      milp_.model.add_ge("edge_enable_constr_" + suffix, minus_end + one(arc.usable, m() - 1), -(m() - 1));
    }
    milp_.model.add_le("edge_disable_constr_" + suffix, minus_end + one(arc.usable, m()), 0);
  }

  // Partial inference: switch = c1 and c2, c1 = [e_i >= s_j], c2 = [e_j > e_i]. The
  // row names are helix's (no published model uses this mode).
  void add_partial_rows(const PaperMilpArc& arc) {
    MilpModel& model = milp_.model;
    const std::string suffix = arc_suffix(arc);
    const double big = m() + 1;
    const auto ei_minus_sj = end_of(arc.from) + scaled(start_of(arc.to), -1);
    const auto ej_minus_ei = end_of(arc.to) + scaled(end_of(arc.from), -1);
    model.add_le("edge_cond1_disable_constr_" + suffix, scaled(ei_minus_sj, -1) + one(arc.cond1, big), big);
    if (redundant_rows()) model.add_le("edge_cond1_enable_constr_" + suffix, ei_minus_sj + one(arc.cond1, -big), -1);
    model.add_ge("edge_cond2_disable_constr_" + suffix, ej_minus_ei + one(arc.cond2, -big), -m());
    if (redundant_rows()) model.add_le("edge_cond2_enable_constr_" + suffix, ej_minus_ei + one(arc.cond2, -big), 0);
    model.add_le("edge_disable_constr_" + suffix, one(arc.usable, 2) + one(arc.cond1, -1) + one(arc.cond2, -1), 0);
    if (redundant_rows()) {
      model.add_le("edge_enable_constr_" + suffix, one(arc.cond1) + one(arc.cond2) + one(arc.usable, -1), 1);
    }
  }

  // (edge flow) f_uv <= c_uv d_uv.
  void add_arc_flow_row(const PaperMilpArc& arc) {
    milp_.model.add_le("edge_flow_constr_" + arc_suffix(arc), one(arc.flow) + one(arc.usable, -arc.capacity_tps), 0);
  }

  const ClusterSpec& cluster_;
  const ModelSpec& model_;
  const PerfModel& perf_;
  PaperMilp milp_;
};

// The layer condition of an arc for given ranges (§2.9 check_link_validity).
struct ArcCondition {
  bool usable = false;
  bool cond1 = false;  // e_i >= s_j (partial inference)
  bool cond2 = false;  // e_j > e_i (partial inference)
};

ArcCondition arc_condition(const PaperMilp& milp, const PaperMilpArc& arc, std::span<const LayerRange> ranges) {
  if (arc.from == kCoordinator) return {ranges[at(arc.to)].start == 0};
  if (arc.to == kCoordinator) return {ranges[at(arc.from)].end == milp.num_layers};
  const LayerRange& a = ranges[at(arc.from)];
  const LayerRange& b = ranges[at(arc.to)];
  if (!milp.options.allow_partial_inference) return {a.end == b.start};
  const bool cond1 = a.end >= b.start;
  const bool cond2 = b.end > a.end;
  return {cond1 && cond2, cond1, cond2};
}

// A range the MILP can express for node i: non-empty, at most K_i layers.
bool representable(const PaperMilp& milp, int i, const LayerRange& r) {
  return !r.empty() && r.size() <= static_cast<int>(milp.hold[at(i)].size()) && r.end <= milp.num_layers;
}

}  // namespace

PaperMilp build_paper_milp(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
                           const PaperMilpOptions& options) {
  if (perf.num_nodes() != cluster.num_nodes()) {
    fail("paper MILP: the performance model has {} nodes, the cluster {}", perf.num_nodes(), cluster.num_nodes());
  }
  return PaperMilpBuilder(cluster, model, perf, options).build();
}

std::vector<std::pair<std::string, double>> paper_milp_start(const PaperMilp& milp,
                                                             std::span<const LayerRange> ranges,
                                                             bool with_switches) {
  if (ranges.size() != milp.start.size()) {
    fail("paper MILP start: {} ranges for {} nodes", ranges.size(), milp.start.size());
  }
  const MilpModel& model = milp.model;
  std::vector<std::pair<std::string, double>> start;
  std::vector<bool> given(ranges.size(), false);
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (!representable(milp, static_cast<int>(i), ranges[i])) continue;
    given[i] = true;
    start.emplace_back(model.column(milp.start[i]).name, ranges[i].start);
    const auto& holds = milp.hold[i];
    for (std::size_t k = 0; k < holds.size(); ++k) {
      start.emplace_back(model.column(holds[k]).name, static_cast<int>(k + 1) == ranges[i].size() ? 1.0 : 0.0);
    }
  }
  if (!with_switches) return start;
  for (const PaperMilpArc& arc : milp.arcs) {
    if ((arc.from != kCoordinator && !given[at(arc.from)]) || (arc.to != kCoordinator && !given[at(arc.to)])) continue;
    const ArcCondition c = arc_condition(milp, arc, ranges);
    start.emplace_back(model.column(arc.usable).name, c.usable ? 1.0 : 0.0);
    if (arc.cond1 >= 0) start.emplace_back(model.column(arc.cond1).name, c.cond1 ? 1.0 : 0.0);
    if (arc.cond2 >= 0) start.emplace_back(model.column(arc.cond2).name, c.cond2 ? 1.0 : 0.0);
  }
  return start;
}

std::vector<LayerRange> paper_milp_ranges(const PaperMilp& milp, std::span<const double> values) {
  if (values.size() != at(milp.model.num_columns())) {
    fail("paper MILP: {} values for {} columns", values.size(), milp.model.num_columns());
  }
  std::vector<LayerRange> ranges;
  for (std::size_t i = 0; i < milp.start.size(); ++i) {
    const int start = static_cast<int>(std::lround(values[at(milp.start[i])]));
    const auto& holds = milp.hold[i];
    auto held = std::find_if(holds.begin(), holds.end(), [&](int column) { return values[at(column)] > 0.5; });
    if (held == holds.end()) fail("paper MILP solution: node {} has no hold_{}_k set", i, i);
    ranges.push_back({start, start + static_cast<int>(held - holds.begin()) + 1});
  }
  return ranges;
}

// ---- the planner ------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct WarmStart {
  std::vector<LayerRange> ranges;
  std::string name;  // "given" or "petals"
};

WarmStart warm_start(const PlanContext& ctx) {
  if (ctx.start == nullptr) return {PetalsPlanner().plan(ctx).ranges, "petals"};
  if (ctx.start->num_nodes() != ctx.cluster.num_nodes()) {
    fail("milp-paper: the start placement has {} nodes, the cluster {}", ctx.start->num_nodes(),
         ctx.cluster.num_nodes());
  }
  return {ctx.start->ranges, "given"};
}

void report(const PlanContext& ctx, double seconds, double objective, double bound, const std::string& source) {
  if (!ctx.on_progress) return;
  ctx.on_progress({seconds, objective, std::isfinite(bound) ? bound : 0.0, source});
}

MilpOptions solver_options(const PlanContext& ctx, const PaperMilpPlannerOptions& options, double elapsed) {
  MilpOptions o;
  if (ctx.time_limit_s > 0) o.time_limit_s = std::max(ctx.time_limit_s - elapsed, 0.01);
  o.threads = ctx.threads;
  o.stop = ctx.stop;
  o.show_log = options.show_solver_log;
  o.on_incumbent = [&ctx, elapsed](const MilpIncumbent& i) {
    report(ctx, elapsed + i.seconds, i.objective, i.bound, "cbc");
  };
  return o;
}

double planner_flow(const ClusterSpec& cluster, const PlanContext& ctx, std::span<const LayerRange> ranges) {
  return solve_planner_flow(cluster, ctx.model, ctx.perf, ranges).max_flow_tps;
}

// The placement returned: CBC's unless the warm start flows more on the real cluster.
struct Outcome {
  std::vector<LayerRange> ranges;
  double objective_tps = 0;  // planner-semantics max flow on ctx.cluster
  bool from_cbc = false;
};

Outcome pick_outcome(const PlanContext& ctx, const PaperMilp& milp, const MilpResult& result,
                     const WarmStart& start, double start_objective) {
  Outcome outcome{start.ranges, start_objective, false};
  if (!result.has_solution()) return outcome;
  std::vector<LayerRange> found = paper_milp_ranges(milp, result.values);
  const double found_objective = planner_flow(ctx.cluster, ctx, found);
  if (found_objective >= start_objective) outcome = {std::move(found), found_objective, true};
  return outcome;
}

// What a run leaves in Placement::details (planner.h lists the common keys).
struct RunReport {
  const PaperMilp& milp;
  const MilpResult& result;
  const WarmStart& start;
  double start_objective = 0;
  double start_seconds = 0;  // when the warm start was ready (planner clock)
  double milp_flow = 0;      // the returned ranges' max flow on the MILP's cluster
  const ClusterSpec* pruned = nullptr;
};

nlohmann::json details_of(const RunReport& run, bool from_cbc) {
  const MilpResult& result = run.result;
  nlohmann::json d = nlohmann::json::object();
  d["status"] = to_string(result.status);
  d["solver"] = cbc_version();
  d["bound_method"] = run.pruned ? "CBC branch-and-bound on the paper's MILP over the pruned cluster"
                                 : "CBC branch-and-bound on the paper's MILP";
  if (std::isfinite(result.best_bound)) {
    d["upper_bound_tps"] = result.best_bound;
    if (result.best_bound > 0) d["gap"] = std::max(0.0, (result.best_bound - run.milp_flow) / result.best_bound);
  }
  d["time_to_best_s"] = run.start_seconds + (from_cbc ? result.time_to_best_s : 0.0);
  d["source"] = from_cbc ? "cbc" : "warm start";
  if (result.has_solution()) d["milp_objective_tps"] = result.objective;
  d["warm_start"] = run.start.name;
  d["warm_start_tps"] = run.start_objective;
  d["nodes"] = result.nodes;
  d["solve_seconds"] = result.seconds;
  d["milp_rows"] = run.milp.model.num_rows();
  d["milp_columns"] = run.milp.model.num_columns();
  d["milp_nonzeros"] = run.milp.model.num_nonzeros();
  if (run.pruned) d["pruned_links"] = run.pruned->links.size();
  return d;
}

}  // namespace

std::string PaperMilpPlanner::description() const {
  return "the paper's MILP (max flow over start/hold/switch variables) solved with CBC, warm-started from "
         "the given placement or Petals";
}

Placement PaperMilpPlanner::plan(const PlanContext& ctx) const {
  const Clock::time_point t0 = Clock::now();
  std::optional<ClusterSpec> pruned;
  if (options_.prune) pruned = prune_cluster(ctx.cluster, options_.min_keep, options_.max_keep, options_.threshold_Bps);
  const ClusterSpec& milp_cluster = pruned ? *pruned : ctx.cluster;
  const PaperMilp milp = build_paper_milp(milp_cluster, ctx.model, ctx.perf, options_.milp);

  const WarmStart start = warm_start(ctx);
  const double start_seconds = seconds_since(t0);
  report(ctx, start_seconds, planner_flow(milp_cluster, ctx, start.ranges), kMilpInfinity, "start: " + start.name);

  MilpOptions solve = solver_options(ctx, options_, start_seconds);
  solve.mip_start = paper_milp_start(milp, start.ranges, /*with_switches=*/true);
  const MilpResult result = solve_with_cbc(milp.model, solve);

  const double start_objective = planner_flow(ctx.cluster, ctx, start.ranges);
  Outcome outcome = pick_outcome(ctx, milp, result, start, start_objective);
  const RunReport run{milp, result, start, start_objective, start_seconds,
                      planner_flow(milp_cluster, ctx, outcome.ranges), pruned ? &*pruned : nullptr};
  Placement placement = empty_placement(ctx.cluster, ctx.model.name, ctx.model.num_layers, name());
  placement.ranges = std::move(outcome.ranges);
  placement.objective_tps = outcome.objective_tps;
  placement.details = details_of(run, outcome.from_cbc);
  return placement;
}

}  // namespace helix
