// Cluster pruning before the paper's MILP (planner spec §2.8, upstream
// fake_cluster_generator.py prune_cluster): keep only each node's best links so
// that the MILP, whose size grows with the number of links, stays solvable.
//
// Rules, with bandwidths compared exactly and ties broken as upstream does:
//  * coordinator -> i (the paper's source links): sorted by (bandwidth, i)
//    descending — equal bandwidths favour the larger node index. The first
//    min_keep are kept; positions [min_keep, max_keep) are kept if bandwidth > τ.
//  * i -> coordinator (sink links): the same order, kept if bandwidth >= τ.
//  * between nodes: for every node, its incident node pairs sorted by (bandwidth,
//    "Link-a-b") descending, a < b, the name compared as a STRING ("Link-0-9" >
//    "Link-0-41"); the first min_keep kept, then those with bandwidth >= τ up to
//    max_keep. The kept pairs are the union over all nodes, so a node can keep
//    more than max_keep links. A kept pair keeps both directions.
// The paper's clusters have symmetric links; for a pair whose two directions
// differ, its bandwidth is that of the weaker direction present.
#pragma once

#include "helix/cluster/cluster_spec.h"

namespace helix {

// The cluster with only the kept links (in their original order); nodes, types
// and the coordinator are unchanged. Throws Error unless 0 <= min_keep <= max_keep.
// The paper's runs used (12, 12, 1 B/s) on 3cluster24 and cluster42.
ClusterSpec prune_cluster(const ClusterSpec& cluster, int min_keep, int max_keep, double threshold_Bps);

}  // namespace helix
