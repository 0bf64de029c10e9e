// Printing a flow solution for people (tables, the min cut in words) and for
// programs (the versioned JSON documented in docs/formats.md, "helix-flow" v1).
#pragma once

#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "helix/cluster/cluster_spec.h"
#include "helix/flow/flow_network.h"
#include "helix/model/layer_range.h"
#include "helix/perf/perf_model.h"

namespace helix::cli {

// Per-node table: name, GPU, layers, capacity and the flow through the node.
std::string node_flow_table(const FlowSolution& solution, const ClusterSpec& cluster,
                            std::span<const LayerRange> ranges);

nlohmann::json flow_to_json(const FlowSolution& solution, const ClusterSpec& cluster,
                            std::span<const LayerRange> ranges);

// "4 A100, 8 L4, 12 T4"
std::string composition_text(const ClusterSpec& cluster);

}  // namespace helix::cli
