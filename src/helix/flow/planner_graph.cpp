#include "helix/flow/planner_graph.h"

#include <algorithm>

#include "helix/core/error.h"
#include "helix/flow/flow_arcs.h"

namespace helix::flow_internal {

PlannerGraph::PlannerGraph(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf)
    : cluster_(&cluster),
      perf_(&perf),
      links_(cluster, model),
      n_(cluster.num_nodes()),
      layers_(model.num_layers) {
  if (perf.num_nodes() != n_) {
    fail("flow network: the performance model has {} nodes, the cluster {}", perf.num_nodes(), n_);
  }
  cap_first_.push_back(0);
  for (int i = 0; i < n_; ++i) {
    const int max_k = std::min(perf.node(i).max_layers, layers_);
    for (int k = 1; k <= max_k; ++k) cap_table_.push_back(perf.capacity(i, k));
    cap_first_.push_back(static_cast<int>(cap_table_.size()));
  }
}

double PlannerGraph::build(std::span<const LayerRange> ranges, std::vector<FlowArc>* arcs) {
  check_ranges(*cluster_, ranges, layers_);
  bucket_by_start(ranges);
  flow.reset(2 + 2 * n_);
  for (int b = bucket_first_[0]; b < bucket_first_[1]; ++b) {
    const int i = bucket_nodes_[at(b)];
    const double c = links_.from_coordinator(i);
    if (c >= 0) add_arc(flow, arcs, kSource, in(i), link_arc(kCoordinator, i, c));
  }
  double bound = 0;
  for (int i = 0; i < n_; ++i) {
    const LayerRange& r = ranges[at(i)];
    if (r.empty()) continue;
    const double cap = capacity(i, r.size());
    bound += cap;
    add_arc(flow, arcs, in(i), out(i), node_arc(ArcKind::Compute, i, cap));
    add_links_out_of(i, r, arcs);
  }
  return bound;
}

void PlannerGraph::add_links_out_of(int i, const LayerRange& r, std::vector<FlowArc>* arcs) {
  for (int b = bucket_first_[at(r.end)]; b < bucket_first_[at(r.end + 1)]; ++b) {
    const int j = bucket_nodes_[at(b)];
    const double c = links_.between(i, j);
    if (c >= 0) add_arc(flow, arcs, out(i), in(j), link_arc(i, j, c));
  }
  if (r.end != layers_) return;
  const double c = links_.to_coordinator(i);
  if (c >= 0) add_arc(flow, arcs, out(i), kSink, link_arc(i, kCoordinator, c));
}

double PlannerGraph::capacity(int i, int k) const {
  const int offset = cap_first_[at(i)] + k - 1;
  if (offset < cap_first_[at(i + 1)]) return cap_table_[at(offset)];
  return perf_->capacity(i, k);  // beyond max_layers: overcommit, or PerfModel's error
}

// Counting sort of the non-empty nodes by start layer, node order kept in a bucket.
void PlannerGraph::bucket_by_start(std::span<const LayerRange> ranges) {
  bucket_first_.assign(at(layers_ + 2), 0);
  for (const LayerRange& r : ranges) {
    if (!r.empty()) ++bucket_first_[at(r.start + 1)];
  }
  for (int s = 0; s <= layers_; ++s) bucket_first_[at(s + 1)] += bucket_first_[at(s)];
  bucket_fill_.assign(bucket_first_.begin(), bucket_first_.end());
  bucket_nodes_.resize(at(n_));
  for (int i = 0; i < n_; ++i) {
    const LayerRange& r = ranges[at(i)];
    if (!r.empty()) bucket_nodes_[at(bucket_fill_[at(r.start)]++)] = i;
  }
}

}  // namespace helix::flow_internal
