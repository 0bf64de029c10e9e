// Lane designs: a family of placements built for what a KV-bound cluster serves
// (docs/design.md, "Planning for what is served").
//
// In a closed loop the queries in flight are bounded by the KV cache of the
// tightest layer, and each token takes the sum of its stages' times, so a cluster
// serves about (KV-bound concurrency) / (time per token). Max flow sees neither:
// its optimum on the paper's single-24 cluster is one chain through all 24 nodes,
// which serves less than the paper's own placement. A lane design trades the two
// explicitly. It cuts the layers into segments; each segment is covered by
// lanes, a lane being a chain of nodes of one group (same GPU type and region)
// that share the segment's layers evenly; a request runs one lane per segment.
// Fast groups in a segment of their own put their speed on every request's path;
// slow groups side by side in one segment add their KV cache to the same layers
// without adding their latency to each other (single-24: four A100 holding 0-32,
// then eight L4 and twelve T4 as two lanes over 32-80, serves 1.18x the paper's).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/layer_range.h"
#include "helix/perf/perf_model.h"

namespace helix::served {

// Interchangeable nodes: same GPU type, same region, in node order.
struct NodeGroup {
  std::string name;        // "A100@region-0"
  std::vector<int> nodes;  // cluster node indices
  int max_layers = 0;      // the smallest of its nodes'
};

std::vector<NodeGroup> node_groups(const ClusterSpec& cluster, const PerfModel& perf);

struct Lane {
  int group = 0;  // index into the groups
  int nodes = 0;  // how many of the group's nodes chain up (the first ones still free)
};

struct Segment {
  int end = 0;  // the segment is [previous end, end)
  std::vector<Lane> lanes;
};

struct LaneDesign {
  std::vector<Segment> segments;  // in layer order; the last ends at L
  std::string describe(const std::vector<NodeGroup>& groups) const;
};

// The placement of a design: each lane's nodes split its segment evenly (the
// first ones one layer more). Nothing when a lane has no nodes left in its group
// or a node would hold more than it fits.
std::optional<std::vector<LayerRange>> realise(const LaneDesign& design, const std::vector<NodeGroup>& groups,
                                               int num_nodes);

// Designs of 1 to `max_segments` segments: every assignment of groups to a
// segment (or to none), one lane per group and segment (all its nodes) or two,
// segment ends that balance the KV cache per layer across segments (the bound
// on concurrency), and ends a tenth of the model either way. Capped at `limit`
// designs, in a fixed order.
std::vector<LaneDesign> enumerate_designs(const std::vector<NodeGroup>& groups, const PerfModel& perf, int num_layers,
                                          int max_segments, std::size_t limit);

}  // namespace helix::served
