// `helix plan`: place a model's layers on a cluster with one method (or all of
// them side by side with --compare), print the placement, its max flow and what
// binds it, and write the placement as JSON.
#include <chrono>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli_common.h"
#include "commands.h"
#include "flow_report.h"
#include "helix/core/error.h"
#include "helix/flow/flow_network.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/placement.h"
#include "helix/plan/planner.h"

namespace helix::cli {
namespace {

struct PlanOptions {
  std::string cluster = kDefaultCluster;
  std::string machine_profiles;
  std::string model = kDefaultModel;
  std::string method = "swarm";
  std::string output;
  std::uint64_t seed = 0;
  bool compare = false;
  bool json = false;
  bool allow_overcommit = false;
};

struct Planned {
  Placement placement;
  FlowSolution flow;
  double seconds = 0;
};

Planned run_method(const std::string& method, const PlanContext& ctx) {
  auto planner = make_planner(method);
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

void print_single(const Planned& p, const PlanContext& ctx, const LoadedCluster& loaded) {
  std::printf("helix plan: method %s, %s\n\n", p.placement.method.c_str(),
              header(loaded, ctx.model).c_str());
  std::printf("%s\n", node_flow_table(p.flow, ctx.cluster, p.placement.ranges).c_str());
  std::printf("max flow: %.2f tokens/s (planner semantics; network-free upper bound %.2f)\n",
              p.flow.max_flow_tps, ctx.perf.flow_upper_bound());
  std::printf("bottleneck (min cut):\n");
  for (const auto& line : describe_min_cut(p.flow, ctx.cluster, p.placement.ranges)) {
    std::printf("  %s\n", line.c_str());
  }
}

void print_comparison(const std::vector<Planned>& all, const std::vector<std::string>& failures,
                      const PlanContext& ctx, const LoadedCluster& loaded) {
  std::printf("helix plan --compare: %s\n\n", header(loaded, ctx.model).c_str());
  std::vector<std::vector<std::string>> rows = {
      {"method", "max flow (tok/s)", "vs best", "nodes used", "time (ms)", "bottleneck"}};
  double best = 0;
  for (const auto& p : all) best = std::max(best, p.flow.max_flow_tps);
  for (const auto& p : all) {
    int used = 0;
    for (const auto& r : p.placement.ranges) used += r.empty() ? 0 : 1;
    auto cut = describe_min_cut(p.flow, ctx.cluster, p.placement.ranges);
    rows.push_back({p.placement.method, fixed(p.flow.max_flow_tps),
                    best > 0 ? fixed(100.0 * p.flow.max_flow_tps / best, 1) + "%" : "-",
                    std::to_string(used), fixed(p.seconds * 1e3, 1), cut.empty() ? "" : cut.back()});
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

void run_plan(const PlanOptions& o) {
  LoadedCluster loaded = load_cluster_arg(o.cluster, o.machine_profiles);
  ModelSpec model = resolve_model(o.model);
  PerfOptions perf_options;
  perf_options.allow_overcommit = o.allow_overcommit || o.method == "separate-paper";
  PerfModel perf = PerfModel::build(loaded.cluster, model, perf_options);
  PlanContext ctx{loaded.cluster, model, perf, o.seed};

  if (!o.compare) {
    Planned p = run_method(o.method, ctx);
    if (o.json) {
      print_json(planned_json(p, ctx));
    } else {
      print_single(p, ctx, loaded);
    }
    if (!o.output.empty()) {
      save_placement(p.placement, o.output, &loaded.cluster);
      if (!o.json) std::printf("placement written to %s\n", o.output.c_str());
    }
    return;
  }
  std::vector<Planned> all;
  std::vector<std::string> failures;
  nlohmann::json json_all = nlohmann::json::array();
  for (const auto& method : planner_names()) {
    if (method == "separate-paper" && !perf_options.allow_overcommit) continue;
    try {
      all.push_back(run_method(method, ctx));
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
  cmd->add_option("--model", options->model, "Model preset name or HF config.json")
      ->capture_default_str();
  std::string methods;
  for (const auto& m : planner_names()) methods += (methods.empty() ? "" : "|") + m;
  cmd->add_option("--method", options->method, "Placement method: " + methods)->capture_default_str();
  cmd->add_option("--output,-o", options->output, "Write the placement JSON here");
  cmd->add_option("--seed", options->seed, "Seed of every random choice")->capture_default_str();
  cmd->add_flag("--compare", options->compare, "Run every method and print them side by side");
  cmd->add_flag("--json", options->json, "Print machine-readable JSON instead of tables");
  cmd->add_flag("--allow-overcommit", options->allow_overcommit,
                "Let a node hold more layers than fit (the paper's 'force set'; separate-paper)");
  cmd->callback([options] { run_plan(*options); });
}

}  // namespace helix::cli
