// Region (and GPU-type) sequences: a family of starting placements for helix's
// planner that respects slow networks.
//
// With several regions, pipelines visit the regions one after another: each
// region serves one contiguous segment of layers with its own nodes (fast links
// inside) and hands over to the next region once, where many node pairs share the
// slow links. For each order of the regions (all orders up to 4 regions, else 24
// seeded ones): segment lengths are chosen so that every region's layer-supply
// bound on its segment is as high as possible; each segment is solved as an
// interval MILP on that region's nodes (helix_interval_milp.h), with the flow of a
// node at a region boundary capped at `width` x the region pair's per-pair link
// capacity (width 1-4 are tried), which spreads each crossing over several pairs.
// On a one-region cluster the GPU types play the regions' part, without caps.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "helix/model/layer_range.h"
#include "helix/plan/planner.h"

namespace helix {

// Builds sequence placements one by one and passes each to `consider` with its
// name ("region sequence" / "GPU-type sequence"), while `keep_going()` is true.
// `time_budget_s` is spread over the MILP solves (each gets 0.2-3 s); with
// `max_nodes` > 0 each solve stops on that node budget instead and the time is only
// a guard against hangs (reproducible runs).
void sequence_placements(
    const PlanContext& ctx, double time_budget_s, long max_nodes, const std::function<bool()>& keep_going,
    const std::function<void(const std::vector<LayerRange>&, const std::string&)>& consider);

}  // namespace helix
