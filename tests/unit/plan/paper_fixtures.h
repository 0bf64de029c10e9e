// Loading the paper's published clusters and placements for the plan tests.
#pragma once

#include <cctype>
#include <string>

#include "helix/cluster/cluster_spec.h"
#include "helix/cluster/paper_import.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/paper_solution.h"
#include "helix/plan/placement.h"
#include "support/test_support.h"

namespace helix::test {

// `config` is e.g. "single_cluster/config/cluster24.ini"; machine_profiles.ini
// is taken from the same folder unless `profiles_dir` names another.
inline ClusterSpec paper_cluster(const std::string& config, const std::string& profiles_dir = "") {
  auto path = artifact(config);
  auto profiles = profiles_dir.empty() ? path.parent_path() / "machine_profiles.ini"
                                       : artifact(profiles_dir) / "machine_profiles.ini";
  return import_paper_cluster(path, profiles);
}

inline Placement paper_placement(const std::string& sol, const ClusterSpec& cluster,
                                 const ModelSpec& model) {
  return import_paper_solution(artifact(sol), cluster, model.num_layers);
}

// A gtest-safe name from file paths: "single_cluster/layout_llama70b/ilp/ilp_sol.ini"
// -> "single_cluster_layout_llama70b_ilp_ilp_sol".
inline std::string test_name(std::string text) {
  for (auto dot = text.find(".ini"); dot != std::string::npos; dot = text.find(".ini")) {
    text.erase(dot, 4);
  }
  for (char& c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return text;
}

}  // namespace helix::test
