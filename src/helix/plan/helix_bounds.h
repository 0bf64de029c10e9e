// Upper bounds on the max flow any placement of a cluster can reach — what lets
// helix's planner say how far from optimal its answer may be.
//
// Layer-supply bound: in any placement, each unit of flow crosses every layer
// exactly once, on one node holding that layer (strict pipelines, spec §2.5). So
// for a max flow F, summing over layers gives  L·F = Σ_i k_i·f_i  with the flow
// through node i  f_i <= min(cap_i(k_i), F).  Hence F is at most the largest F with
//     Σ_i max_{1<=k<=K_i} k·min(cap_i(k), F)  >=  L·F.
// It ignores the network and how ranges tile, so it is valid for every cluster,
// and it is much tighter than the paper's Σ_i max_k k·cap_i(k) / L (§1.8) because a
// node cannot usefully carry more than F on one layer. On cluster10 it equals the
// proven optimum.
#pragma once

#include <vector>

#include "helix/perf/perf_model.h"

namespace helix {

double layer_supply_bound(const PerfModel& perf, int num_layers);

// Cover-count bound: a layer is covered either by one "solo" node whose capacity
// alone is >= F, or by at least q(F) = ceil(F / c*) nodes, where c* is the largest
// capacity any node option has below F. Each layer therefore needs coverage weight
// 1, where a solo node weighs 1 and any other 1/q(F); so F is feasible only if
//     Σ_i max_k k·w_i(k, F)  >=  L.
// It captures integrality the layer-supply bound misses (two slow nodes do not
// make a fast one for a layer) and proves cluster10's optimum. Feasibility is not
// monotone in F (q(F) jumps as F passes a capacity), so every interval between
// capacities is scanned and the largest feasible F is returned.
double cover_count_bound(const PerfModel& perf, int num_layers);

// The tightest of the bounds above.
double placement_upper_bound(const PerfModel& perf, int num_layers);
// The same bound for `num_layers` layers served by the given nodes only.
double layer_supply_bound(const PerfModel& perf, int num_layers, const std::vector<int>& nodes);

}  // namespace helix
