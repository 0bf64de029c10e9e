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
// The same bound for `num_layers` layers served by the given nodes only.
double layer_supply_bound(const PerfModel& perf, int num_layers, const std::vector<int>& nodes);

}  // namespace helix
