#include "helix/flow/flow_arcs.h"

#include "helix/core/error.h"

namespace helix::flow_internal {

void check_ranges(const ClusterSpec& cluster, std::span<const LayerRange> ranges, int num_layers) {
  if (static_cast<int>(ranges.size()) != cluster.num_nodes()) {
    fail("flow network: {} layer ranges for {} nodes", ranges.size(), cluster.num_nodes());
  }
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const LayerRange& r = ranges[i];
    if (!r.empty() && (r.start < 0 || r.end > num_layers)) {
      fail("flow network: node {} holds layers [{}, {}) outside a {}-layer model", cluster.nodes[i].name,
           r.start, r.end, num_layers);
    }
  }
}

}  // namespace helix::flow_internal
