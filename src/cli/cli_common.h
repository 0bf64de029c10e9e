// What the `helix` subcommands share: finding the cluster (a file, or a built-in
// example by name), the model, and printing tables.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"
#include "helix/plan/planner.h"

namespace helix::cli {

// The built-in cluster used when --cluster is not given.
inline constexpr const char* kDefaultCluster = "single24";
inline constexpr const char* kDefaultModel = "llama2-70b";

// A cluster as loaded from the command line, plus what the paper's simulator
// files carry beyond the cluster (their explicit directed links).
struct LoadedCluster {
  ClusterSpec cluster;
  std::optional<std::vector<std::pair<int, int>>> simulator_links;  // from simulator_cluster.ini
  std::string source;  // file name or "built-in <name>"
};

// `spec` is a path (.yaml/.yml, the paper's .ini cluster or simulator_cluster.ini)
// or the name of a built-in example (examples/clusters/<name>.yaml).
LoadedCluster load_cluster_arg(const std::string& spec, const std::string& machine_profiles);
std::vector<std::string> builtin_cluster_names();

// A plain text table: the first row is the header; columns are left-aligned
// except those whose header ends with a unit in parentheses or is numeric.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

std::string fixed(double value, int decimals = 2);

void print_json(const nlohmann::json& json);

// What `helix plan` and `helix simulate --plan-and-compare` mean by a method:
// "helix" plans for what the runtime serves (objective "served", for `runtime`
// "helix" or "paper") or for max flow ("max-flow"); the others are the baselines.
// max_work > 0 bounds helix's work (simulations, or max-flow evaluations) for
// reproducible runs.
struct PlannerChoice {
  std::string method = "helix";
  std::string objective = "served";
  std::string runtime = "helix";
  std::string lengths = "azure-conv";
  std::uint64_t seed = 0;
  long max_work = 0;
};
std::unique_ptr<Planner> make_cli_planner(const PlannerChoice& choice);

}  // namespace helix::cli
