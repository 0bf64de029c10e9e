// `helix flow`: the max flow of a given placement on a cluster — under the
// planner's semantics (what placements are optimised for) and the simulator's
// (what the router uses) — with per-node flows and the min cut in words.
#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli_common.h"
#include "commands.h"
#include "planned_model.h"
#include "flow_report.h"
#include "helix/core/error.h"
#include "helix/flow/flow_network.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/placement.h"
#include "helix/plan/placement_svg.h"

namespace helix::cli {
namespace {

struct FlowOptions {
  std::string cluster = kDefaultCluster;
  std::string machine_profiles;
  std::string placement;
  std::string model;
  WorkerDtypes dtypes;  // with model files: what the workers will store and send
  std::string semantics = "both";
  std::string links = "auto";
  std::string svg;  // --svg: draw the placement and its planner-semantics flow here
  bool json = false;
  bool allow_overcommit = false;
};

// Without --model: the placement's own model, else the paper model with that many layers.
ModelSpec model_for(const FlowOptions& o, const Placement& placement) {
  if (!placement.model.empty()) return planned_model(placement.model, o.dtypes);
  if (!o.dtypes.kv.empty() || !o.dtypes.activations.empty()) {
    fail("--kv-dtype and --activations apply to a model's files: give them with --model");
  }
  if (placement.num_layers == 80) return model_preset("llama2-70b");
  if (placement.num_layers == 60) return model_preset("llama1-30b");
  fail("--model is needed: the placement has {} layers and names no model", placement.num_layers);
}

std::vector<LinkPair> simulator_links(const FlowOptions& o, const LoadedCluster& loaded,
                                      const Placement& placement) {
  if (loaded.simulator_links && o.links == "auto") return *loaded.simulator_links;
  LinkSelection selection;
  selection.allow_partial = o.links == "partial" || (o.links == "auto" && placement.method == "petals");
  return select_pipeline_links(loaded.cluster, placement.ranges, placement.num_layers, selection);
}

void print_solution(const char* title, const FlowSolution& s, const ClusterSpec& cluster,
                    const Placement& placement) {
  std::printf("%s: max flow %.3f tokens/s\n", title, s.max_flow_tps);
  for (const auto& line : describe_min_cut(s, cluster, placement.ranges)) {
    std::printf("  %s\n", line.c_str());
  }
}

void run_flow(const FlowOptions& o) {
  if (o.semantics != "planner" && o.semantics != "simulator" && o.semantics != "both") {
    fail("--semantics {}: expected planner, simulator or both", o.semantics);
  }
  if (!o.svg.empty() && o.semantics == "simulator") {
    fail("--svg draws the planner-semantics flow: not with --semantics simulator");
  }
  if (o.links != "auto" && o.links != "strict" && o.links != "partial") {
    fail("--links {}: expected auto, strict or partial", o.links);
  }
  LoadedCluster loaded = load_cluster_arg(o.cluster, o.machine_profiles);
  // With --model the placement is checked against that model's layers; without,
  // the placement says which model it is for.
  std::optional<ModelSpec> given;
  if (!o.model.empty()) given = planned_model(o.model, o.dtypes);
  Placement placement = load_placement(o.placement, loaded.cluster, given ? given->num_layers : 0);
  ModelSpec model = given ? *given : model_for(o, placement);
  if (model.num_layers != placement.num_layers) {
    fail("{}: the placement covers {} layers but {} has {}", o.placement, placement.num_layers,
         model.name, model.num_layers);
  }
  PerfOptions perf_options;
  perf_options.allow_overcommit = o.allow_overcommit;
  PerfModel perf = PerfModel::build(loaded.cluster, model, perf_options);

  nlohmann::json json = {{"format", "helix-flow"}, {"version", 1}, {"model", model.name},
                         {"cluster", loaded.source}, {"placement", o.placement},
                         {"upper_bound_tps", perf.flow_upper_bound()}};
  if (!o.json) {
    std::printf("helix flow: %s on %s (%d nodes: %s)\n\n", model.name.c_str(), loaded.source.c_str(),
                loaded.cluster.num_nodes(), composition_text(loaded.cluster).c_str());
  }
  if (o.semantics != "simulator") {
    FlowSolution s = solve_planner_flow(loaded.cluster, model, perf, placement.ranges);
    json["planner"] = flow_to_json(s, loaded.cluster, placement.ranges);
    if (!o.svg.empty()) {
      const std::filesystem::path file(o.placement);
      const std::string title = (file.parent_path().filename() / file.filename()).string();
      save_svg(placement_svg(loaded.cluster, model, placement, s, title), o.svg);
    }
    if (!o.json) {
      std::printf("%s\n", node_flow_table(s, loaded.cluster, placement.ranges).c_str());
      print_solution("planner semantics", s, loaded.cluster, placement);
    }
  }
  if (o.semantics != "planner") {
    auto links = simulator_links(o, loaded, placement);
    FlowSolution s = solve_simulator_flow(loaded.cluster, model, perf, placement.ranges, links);
    json["simulator"] = flow_to_json(s, loaded.cluster, placement.ranges);
    json["simulator"]["num_links"] = links.size();
    if (!o.json) print_solution("simulator semantics", s, loaded.cluster, placement);
  }
  if (o.json) {
    print_json(json);
  } else {
    std::printf("network-free upper bound: %.3f tokens/s\n", perf.flow_upper_bound());
  }
}

}  // namespace

void register_flow(CLI::App& app) {
  auto options = std::make_shared<FlowOptions>();
  CLI::App* cmd = app.add_subcommand("flow", "Max flow, per-node flows and min cut of a placement");
  cmd->add_option("--cluster", options->cluster,
                  "Cluster file (.yaml, the paper's cluster .ini or simulator_cluster.ini) or a "
                  "built-in cluster name")
      ->capture_default_str();
  cmd->add_option("--machine-profiles", options->machine_profiles,
                  "The paper's machine_profiles.ini (default: next to an .ini cluster)");
  cmd->add_option("--placement,-p", options->placement,
                  "Placement: helix JSON or the paper's *_sol.ini / *solution_file.ini")
      ->required();
  cmd->add_option("--model", options->model,
                  "Model preset, config.json, or the model's files (.gguf or a directory with weights) (default: the "
                  "placement's model)");
  add_worker_dtype_options(cmd, options->dtypes);
  cmd->add_option("--semantics", options->semantics, "planner, simulator or both")
      ->capture_default_str();
  cmd->add_option("--links", options->links,
                  "Simulator links: auto (file's links, or partial for Petals), strict, partial")
      ->capture_default_str();
  cmd->add_option("--svg", options->svg,
                  "Draw the placement and its planner-semantics flow as an SVG picture here");
  cmd->add_flag("--json", options->json, "Print machine-readable JSON instead of tables");
  cmd->add_flag("--allow-overcommit", options->allow_overcommit,
                "Accept nodes holding more layers than fit (the paper's 'force set')");
  cmd->callback([options] { run_flow(*options); });
}

}  // namespace helix::cli
