// `helix plan`: place a model's layers on a cluster with one method (or all of
// them side by side with --compare), print the placement, its max flow and what
// binds it, and write the placement as JSON.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli_common.h"
#include "commands.h"
#include "flow_report.h"
#include "planned_model.h"
#include "helix/core/error.h"
#include "helix/flow/flow_network.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/helix_planner.h"
#include "helix/plan/placement.h"
#include "helix/plan/placement_svg.h"
#include "helix/plan/planner.h"
#include "helix/served/served_planner.h"
#include "helix/sim/sim_config.h"

namespace helix::cli {
namespace {

struct PlanOptions {
  std::string cluster = kDefaultCluster;
  std::string machine_profiles;
  std::string model = kDefaultModel;
  WorkerDtypes dtypes;  // with model files: what the workers will store and send
  std::string method = "helix";
  double time_limit_s = 10;
  int threads = 2;
  long max_evaluations = 0;
  std::string from;
  double move_penalty_tps = 0;
  bool quiet = false;
  std::string output;
  std::string svg;  // --svg: draw the placement and its flow here
  std::uint64_t seed = 0;
  bool compare = false;
  bool json = false;
  bool allow_overcommit = false;
  std::string objective = "served";  // served | max-flow
  std::string runtime = "helix";     // the runtime "served" is simulated for
  std::string lengths = "azure-conv";
};

struct Planned {
  Placement placement;
  FlowSolution flow;
  double seconds = 0;
};

Planned run_method(const std::string& method, const PlanContext& ctx, const PlanOptions& o) {
  auto planner = make_cli_planner({method, o.objective, o.runtime, o.lengths, o.seed, o.max_evaluations});
  auto t0 = std::chrono::steady_clock::now();
  Placement placement = plan_and_evaluate(*planner, ctx);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  FlowSolution flow = solve_planner_flow(ctx.cluster, ctx.model, ctx.perf, placement.ranges);
  placement.method = method;
  return {std::move(placement), std::move(flow), seconds};
}

std::string header(const LoadedCluster& loaded, const ModelSpec& model) {
  return fmt::format("model {} ({} layers) on cluster {} ({} nodes: {})", model.name,
                     model.num_layers, loaded.cluster.name.empty() ? loaded.source : loaded.cluster.name,
                     loaded.cluster.num_nodes(), composition_text(loaded.cluster));
}

// What the placement serves (the served objective's report), with the bounds
// helix can prove.
void print_served(const nlohmann::json& d) {
  const nlohmann::json& s = d["served"];
  const nlohmann::json& b = d["served_bound"];
  std::printf("served (predicted, %s runtime): %.2f decode tokens/s, mean %.3f s between tokens, prompt latency "
              "mean %.2f s / p95 %.2f s\n",
              d.value("runtime", "").c_str(), s.value("decode_tps", 0.0), s.value("mean_decode_latency_s", 0.0),
              s.value("mean_prompt_latency_s", 0.0), s.value("p95_prompt_latency_s", 0.0));
  std::printf("  %s\n", s.value("how", "").c_str());
  std::printf("  served bound: %.2f decode tokens/s (compute %.2f, KV-bound queries at the fastest token time %.2f); "
              "no token faster than %.3f s\n",
              b.value("decode_tps", 0.0), b.value("compute_decode_tps", 0.0), b.value("kv_decode_tps", 0.0),
              b.value("min_time_per_token_s", 0.0));
  const nlohmann::json& e = d["served_estimate"];
  std::printf("  estimate: %.0f queries in flight (KV-bound) x 1 / %.3f s per token = %.2f tokens/s\n",
              e.value("concurrency", 0.0), e.value("time_per_token_s", 0.0), e.value("decode_tps", 0.0));
  std::printf("  chosen from: %s (%ld simulations, best after %.1f s)\n", d.value("chosen_from", "").c_str(),
              d.value("simulations", 0L), d.value("time_to_best_s", 0.0));
}

void print_single(const Planned& p, const PlanContext& ctx, const LoadedCluster& loaded) {
  std::printf("helix plan: method %s, %s\n\n", p.placement.method.c_str(),
              header(loaded, ctx.model).c_str());
  std::printf("%s\n", node_flow_table(p.flow, ctx.cluster, p.placement.ranges).c_str());
  std::printf("max flow: %.2f tokens/s (planner semantics)\n", p.flow.max_flow_tps);
  const nlohmann::json& d = p.placement.details;
  if (d.value("objective", "") == "served") print_served(d);
  if (d.value("objective", "") == "served" && d.contains("upper_bound_tps")) {
    std::printf("max-flow bound: %.2f tokens/s (%s); the best max flow found: %.2f\n",
                d["upper_bound_tps"].get<double>(), d.value("bound_method", "").c_str(),
                d.value("upper_bound_tps", 0.0) * (1 - d.value("gap", 0.0)));
  } else if (d.contains("upper_bound_tps")) {
    std::printf("upper bound: %.2f tokens/s (%s); gap %.2f%%; best found after %.2f s; %s\n",
                d["upper_bound_tps"].get<double>(), d.value("bound_method", "").c_str(),
                100.0 * d.value("gap", 0.0), d.value("time_to_best_s", 0.0),
                d.value("status", "").c_str());
  } else {
    std::printf("network-free upper bound (paper §1.8): %.2f tokens/s\n", ctx.perf.flow_upper_bound());
  }
  std::printf("bottleneck (min cut):\n");
  for (const auto& line : describe_min_cut(p.flow, ctx.cluster, p.placement.ranges)) {
    std::printf("  %s\n", line.c_str());
  }
}

void print_comparison(const std::vector<Planned>& all, const std::vector<std::string>& failures,
                      const PlanContext& ctx, const LoadedCluster& loaded) {
  std::printf("helix plan --compare: %s\n\n", header(loaded, ctx.model).c_str());
  std::vector<std::vector<std::string>> rows = {
      {"method", "max flow (tok/s)", "vs best", "bound (tok/s)", "nodes used", "time (s)", "bottleneck"}};
  double best = 0;
  for (const auto& p : all) best = std::max(best, p.flow.max_flow_tps);
  for (const auto& p : all) {
    int used = 0;
    for (const auto& r : p.placement.ranges) used += r.empty() ? 0 : 1;
    auto cut = describe_min_cut(p.flow, ctx.cluster, p.placement.ranges);
    const nlohmann::json& d = p.placement.details;
    rows.push_back({p.placement.method, fixed(p.flow.max_flow_tps),
                    best > 0 ? fixed(100.0 * p.flow.max_flow_tps / best, 1) + "%" : "-",
                    d.contains("upper_bound_tps") ? fixed(d["upper_bound_tps"].get<double>()) : "-",
                    std::to_string(used), fixed(p.seconds, 3), cut.empty() ? "" : cut.back()});
  }
  std::printf("%s", format_table(rows).c_str());
  std::printf("network-free upper bound: %.2f tokens/s\n", ctx.perf.flow_upper_bound());
  for (const auto& f : failures) std::printf("not applicable: %s\n", f.c_str());
}

nlohmann::json planned_json(const Planned& p, const PlanContext& ctx) {
  nlohmann::json j = placement_to_json(p.placement, &ctx.cluster);
  j["flow"] = flow_to_json(p.flow, ctx.cluster, p.placement.ranges);
  j["upper_bound_tps"] = ctx.perf.flow_upper_bound();
  j["plan_seconds"] = p.seconds;
  return j;
}

// Ctrl-C asks the running planner to stop and return its best placement; a
// second Ctrl-C ends the process as usual.
std::atomic<bool> g_stop_requested{false};

extern "C" void on_interrupt(int) {
  g_stop_requested.store(true);
  std::signal(SIGINT, SIG_DFL);
}

void print_progress(const PlanProgress& p) {
  if (!(p.bound_tps > 0)) {  // the served objective: decode tokens/s simulated, no bound per step
    std::fprintf(stderr, "[%7.2f s] %10.2f decode tokens/s served  (%s)\n", p.seconds, p.objective_tps, p.source.c_str());
    return;
  }
  double gap = 100.0 * (p.bound_tps - p.objective_tps) / p.bound_tps;
  std::fprintf(stderr, "[%7.2f s] %10.2f tokens/s  bound %10.2f  gap %5.1f%%  (%s)\n", p.seconds,
               p.objective_tps, p.bound_tps, gap, p.source.c_str());
}

void run_plan(const PlanOptions& o) {
  if (o.time_limit_s < 0) fail("--time-limit {}: must be >= 0 seconds", o.time_limit_s);
  if (o.threads < 1 || o.threads > 256) fail("--threads {}: expected 1 to 256", o.threads);
  if (o.move_penalty_tps < 0) fail("--move-penalty {}: must be >= 0", o.move_penalty_tps);
  if (o.compare && !o.svg.empty()) fail("--svg draws one placement: use --method instead of --compare");
  make_cli_planner({"helix", o.objective, o.runtime, o.lengths, o.seed, 0});  // bad names fail before planning
  LoadedCluster loaded = load_cluster_arg(o.cluster, o.machine_profiles);
  ModelSpec model = planned_model(o.model, o.dtypes);
  PerfOptions perf_options;
  perf_options.allow_overcommit = o.allow_overcommit || o.method == "separate-paper";
  PerfModel perf = PerfModel::build(loaded.cluster, model, perf_options);
  std::optional<Placement> start;
  if (!o.from.empty()) start = load_placement(o.from, loaded.cluster, model.num_layers);
  PlanContext ctx{loaded.cluster, model, perf, o.seed};
  ctx.time_limit_s = o.time_limit_s;
  ctx.threads = o.threads;
  ctx.start = start ? &*start : nullptr;
  ctx.move_penalty_tps = o.move_penalty_tps;
  ctx.stop = &g_stop_requested;
  if (!o.quiet) ctx.on_progress = print_progress;
  std::signal(SIGINT, on_interrupt);

  if (!o.compare) {
    Planned p = run_method(o.method, ctx, o);
    if (o.json) {
      print_json(planned_json(p, ctx));
    } else {
      print_single(p, ctx, loaded);
    }
    if (!o.output.empty()) {
      save_placement(p.placement, o.output, &loaded.cluster);
      if (!o.json) std::printf("placement written to %s\n", o.output.c_str());
    }
    if (!o.svg.empty()) {
      save_svg(placement_svg(ctx.cluster, ctx.model, p.placement, p.flow, "method " + o.method), o.svg);
    }
    return;
  }
  std::vector<Planned> all;
  std::vector<std::string> failures;
  nlohmann::json json_all = nlohmann::json::array();
  for (const auto& method : planner_names()) {
    if (method == "separate-paper" && !perf_options.allow_overcommit) continue;
    try {
      all.push_back(run_method(method, ctx, o));
      json_all.push_back(planned_json(all.back(), ctx));
    } catch (const Error& e) {
      failures.push_back(e.what());
    }
  }
  if (o.json) {
    print_json({{"format", "helix-plan-compare"}, {"version", 1}, {"plans", json_all},
                {"not_applicable", failures}});
  } else {
    print_comparison(all, failures, ctx, loaded);
  }
}

}  // namespace

void register_plan(CLI::App& app) {
  auto options = std::make_shared<PlanOptions>();
  CLI::App* cmd = app.add_subcommand("plan", "Place the model's layers on the cluster's nodes");
  cmd->add_option("--cluster", options->cluster,
                  "Cluster file (.yaml, or the paper's .ini) or a built-in cluster name")
      ->capture_default_str();
  cmd->add_option("--machine-profiles", options->machine_profiles,
                  "The paper's machine_profiles.ini (default: next to an .ini cluster)");
  cmd->add_option("--model", options->model,
                  "Model preset name, HF config.json, or the model's files (.gguf or a directory with weights: "
                  "planned with the bytes helix's workers hold and send)")
      ->capture_default_str();
  add_worker_dtype_options(cmd, options->dtypes);
  std::string methods;
  for (const auto& m : planner_names()) methods += (methods.empty() ? "" : "|") + m;
  cmd->add_option("--method", options->method, "Placement method: " + methods)->capture_default_str();
  cmd->add_option("--output,-o", options->output, "Write the placement JSON here");
  cmd->add_option("--svg", options->svg, "Draw the placement and its flow as an SVG picture here");
  cmd->add_option("--seed", options->seed, "Seed of every random choice")->capture_default_str();
  cmd->add_flag("--compare", options->compare, "Run every method and print them side by side");
  cmd->add_flag("--json", options->json, "Print machine-readable JSON instead of tables");
  cmd->add_option("--time-limit", options->time_limit_s,
                  "Wall-clock seconds for anytime methods (helix, milp-paper)")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "Threads for anytime methods")->capture_default_str();
  cmd->add_option("--max-evaluations", options->max_evaluations,
                  "helix: stop after this many evaluations (max flow: per thread; served: simulations) — "
                  "exactly reproducible runs");
  cmd->add_option("--objective", options->objective,
                  "helix: served (the decode tokens/s the runtime serves, simulated) or max-flow (the paper's)")
      ->capture_default_str();
  cmd->add_option("--runtime", options->runtime,
                  "with --objective served: the runtime to plan for, helix or paper (the paper's prototype)")
      ->capture_default_str();
  cmd->add_option("--lengths", options->lengths,
                  "with --objective served: request lengths (azure-conv, azure-code, alpaca, shared-gpt or a CSV)")
      ->capture_default_str();
  cmd->add_option("--from", options->from,
                  "Re-plan from this placement (helix JSON or the paper's .ini): it seeds the search");
  cmd->add_option("--move-penalty", options->move_penalty_tps,
                  "With --from: tokens/s charged per layer a node must newly load")
      ->capture_default_str();
  cmd->add_flag("--quiet,-q", options->quiet, "No progress lines on stderr");
  cmd->add_flag("--allow-overcommit", options->allow_overcommit,
                "Let a node hold more layers than fit (the paper's 'force set'; separate-paper)");
  cmd->callback([options] { run_plan(*options); });
}

}  // namespace helix::cli
