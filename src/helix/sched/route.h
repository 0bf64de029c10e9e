// Route: one request's pipeline through the cluster, as a list of hops from the
// coordinator's source to its sink (planner spec §4.2). Decode iterations of a
// query reuse its prompt's route, because the KV cache lives on those nodes.
#pragma once

#include <vector>

#include "helix/model/layer_range.h"

namespace helix::sched {

struct Stage {
  int link = 0;              // index into ServingView::links
  int node = 0;              // the endpoint the hop leads to (a node, or kSink)
  LayerRange layers;         // the layers run on `node` (empty for the sink)
  double bandwidth_Bps = 0;  // the share of the link the router reserved (Helix only)
};

struct Route {
  std::vector<Stage> stages;
};

}  // namespace helix::sched
