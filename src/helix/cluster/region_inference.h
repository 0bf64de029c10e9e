// Region inference for clusters whose files carry no regions (the paper's .ini
// files: planner spec §1.1 says regions show only in the link statistics).
//
// Rule: let B be the fastest compute<->compute link (or the fastest link of any
// kind if there is none). A link is "fast" if its bandwidth >= B / 2. Compute nodes
// joined by fast links (in either direction, transitively: union-find) form one
// region. Regions are numbered by their lowest node index and named "region-0",
// "region-1", ... The coordinator joins the region that most of its fast links
// (both directions counted) go to, the lowest-numbered one on a tie; if none of its
// links is fast it gets a region of its own named "coordinator", placed last.
//
// On the paper's clusters this gives one region for cluster24/cluster42 and the
// three partitions {0-3}, {4-13}, {14-23} of 3cluster24, whose coordinator links
// are all cross-region-slow (so the coordinator is alone in "coordinator").
#pragma once

#include "helix/cluster/cluster_spec.h"

namespace helix {

// Overwrites cluster.regions, every node's region and coordinator.region.
void infer_regions(ClusterSpec& cluster);

}  // namespace helix
