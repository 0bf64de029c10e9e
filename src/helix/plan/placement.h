// Placement: which contiguous layer range each compute node holds — the output of
// every planner and the input of the flow evaluation, the simulator and the
// runtime. It is stored as versioned JSON (docs/formats.md, "helix-placement" v1)
// and can also be imported from the paper's `*_sol.ini` files (paper_solution.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/layer_range.h"

namespace helix {

inline constexpr int kPlacementFormatVersion = 1;

struct Placement {
  std::string model;                 // ModelSpec::name it was planned for
  int num_layers = 0;                // L
  std::string cluster;               // ClusterSpec::name (informational)
  std::string method;                // "petals", "swarm", "helix", "imported", ...
  std::vector<std::string> node_names;  // parallel to `ranges`; the cluster's node order
  std::vector<LayerRange> ranges;       // node i holds [start, end); empty = unused
  double objective_tps = 0;          // planner-semantics max flow when planned
  nlohmann::json details = nlohmann::json::object();  // method-specific report fields

  int num_nodes() const { return static_cast<int>(ranges.size()); }
};

// An all-empty placement for `cluster`, to be filled by a planner.
Placement empty_placement(const ClusterSpec& cluster, const std::string& model, int num_layers,
                          const std::string& method);

nlohmann::json placement_to_json(const Placement& placement, const ClusterSpec* cluster = nullptr);
// `where` names the source in error messages.
Placement placement_from_json(const nlohmann::json& json, const std::string& where);

void save_placement(const Placement& placement, const std::filesystem::path& path,
                    const ClusterSpec* cluster = nullptr);

// Reads helix JSON (.json) or the paper's solution files (.ini), then checks it
// against the cluster (see check_placement_matches_cluster) and re-orders it to the
// cluster's node order. `num_layers` = 0 accepts the placement's own.
Placement load_placement(const std::filesystem::path& path, const ClusterSpec& cluster,
                         int num_layers = 0);

// Errors (naming the node) unless: every node of the placement is a node of the
// cluster and vice versa, every range lies in [0, num_layers), and num_layers
// matches. Returns the placement re-ordered to the cluster's node order.
Placement match_placement_to_cluster(const Placement& placement, const ClusterSpec& cluster,
                                     int num_layers, const std::string& where);

}  // namespace helix
