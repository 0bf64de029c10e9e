// Equal stages laid out region by region: a candidate family for clusters that
// span regions (docs/design.md, "Planning for what is served").
//
// Swarm's equal stages (every node holds w layers, each stage's nodes balanced
// by capacity) keep every node's KV cache, but its stages draw nodes from any
// region, so a token crosses a far link at nearly every stage: on the generated
// 64-node cluster half of each token's time (0.7 of 1.38 s) is 30-80 ms
// crossings. Here the stages are dealt out to the regions in a chosen order,
// as many to a region as its share of the cluster's capacity (or of its KV
// cache), so a request crosses each region boundary once.
#pragma once

#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/layer_range.h"
#include "helix/perf/perf_model.h"

namespace helix::served {

struct RegionalStages {
  std::string describe;            // "w=4 by capacity: us-east 5 us-west 6 ..."
  int width_rank = 0;              // 0 for the narrowest width, 1 for the next, ...
  int order_rank = 0;              // 0 for the cheapest region order, ...
  std::vector<LayerRange> ranges;  // one per node; empty for a node left out
};

// Stage widths w that divide the model (the widest every node can hold, and the
// next two wider ones, which leave out the nodes that cannot hold them); for
// each, the stage count per region in proportion to the region's capacity or to
// its KV cache at w layers; region orders starting from the coordinator's region
// (every order for up to 6 regions, else the nearest-region-next order), ranked
// by what the round trip coordinator -> regions -> coordinator costs (latency,
// and `prompt_bytes` — a mean prompt's activations — sent over each crossing)
// and capped at `max_orders`. Nothing on a single-region cluster.
std::vector<RegionalStages> regional_stage_layouts(const ClusterSpec& cluster, const PerfModel& perf, int num_layers,
                                                   double prompt_bytes, std::size_t max_orders);

}  // namespace helix::served
