// placement_svg: a placement and its flow as one SVG picture a person reads at a
// glance (`helix plan --svg`, `helix flow --svg`).
//
// Layers 0..L-1 run left to right; each node holding layers is one row (sorted by
// start layer) with a bar over its range, coloured by machine type (legend at the
// bottom) and as opaque as the node is busy (flow / capacity, also written at the
// row's right end). Links carrying flow are curves from the end of one bar to the
// start of the next, as wide as their flow; the coordinator is a column at each
// end (it sends prompts on the left, receives results on the right). Min-cut
// elements are outlined in red. Rows shrink for big clusters (labels are dropped
// below a readable height), so 1,000 nodes still make a usable picture.
//
// Output is deterministic (same input, same bytes) and well-formed XML (names
// escaped). Arcs other than compute and links (simulator NICs) are ignored.
#pragma once

#include <filesystem>
#include <string>

#include "helix/cluster/cluster_spec.h"
#include "helix/flow/flow_network.h"
#include "helix/model/model_spec.h"
#include "helix/plan/placement.h"

namespace helix {

std::string placement_svg(const ClusterSpec& cluster, const ModelSpec& model, const Placement& placement,
                          const FlowSolution& flow, const std::string& title);

// Writes `svg` to `path`; throws Error naming the path if it cannot.
void save_svg(const std::string& svg, const std::filesystem::path& path);

// `text` with &, <, >, " and ' escaped for XML text and attribute values.
std::string xml_escape(const std::string& text);

}  // namespace helix
