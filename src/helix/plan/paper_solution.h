// The paper's placement files (`ilp_sol.ini`, `petals_sol.ini`, `swarm_sol.ini`,
// `*solution_file.ini`; planner spec §2.10):
//   [Settings]  offset=2
//   [Solution]  compute_node_{i+offset}=[s, s+1, ..., e-1]   (empty list: unused)
// Node compute_node_K is cluster node K - offset. Nodes a file does not list are
// unused (the paper's per-GPU-type files list only that type's nodes).
#pragma once

#include <filesystem>
#include <string>

#include "helix/cluster/cluster_spec.h"
#include "helix/plan/placement.h"

namespace helix {

// `num_layers` = 0 infers L as the highest layer listed + 1. Errors name file:line.
Placement import_paper_solution(const std::filesystem::path& path, const ClusterSpec& cluster,
                                int num_layers = 0);
Placement parse_paper_solution(const std::string& text, const std::string& where,
                               const ClusterSpec& cluster, int num_layers = 0);

// The same format back, for comparison with the paper's tools.
std::string write_paper_solution(const Placement& placement);

}  // namespace helix
