#include "helix/sched/serving_view.h"

#include <algorithm>
#include <map>

#include "helix/core/error.h"

namespace helix::sched {
namespace {

std::size_t slot(int endpoint, int num_nodes) {
  return static_cast<std::size_t>(endpoint < 0 ? num_nodes : endpoint);
}

}  // namespace

void ServingView::index() {
  const int n = num_nodes();
  out_links.assign(static_cast<std::size_t>(n + 1), {});
  in_links.assign(static_cast<std::size_t>(n + 1), {});
  for (int l = 0; l < static_cast<int>(links.size()); ++l) {
    const LinkView& link = links[static_cast<std::size_t>(l)];
    if (link.from == kSink || link.to == kSource) fail("scheduler view: link {} runs backwards", l);
    out_links[slot(link.from, n)].push_back(l);
    in_links[slot(link.to, n)].push_back(l);
  }
}

const std::vector<int>& ServingView::outbound(int sender) const {
  return out_links.at(slot(sender, num_nodes()));
}

const std::vector<int>& ServingView::inbound(int receiver) const {
  return in_links.at(slot(receiver, num_nodes()));
}

double ServingView::out_nic_Bps(int sender) const {
  return sender == kSource ? coordinator_out_Bps : nodes.at(static_cast<std::size_t>(sender)).nic_out_Bps;
}

double ServingView::in_nic_Bps(int receiver) const {
  return receiver == kSink ? coordinator_in_Bps : nodes.at(static_cast<std::size_t>(receiver)).nic_in_Bps;
}

ServingView make_serving_view(const ClusterSpec& cluster, int num_layers,
                              std::span<const LayerRange> ranges, std::span<const LinkPair> links,
                              std::span<const double> kv_capacity,
                              std::span<const long long> prompt_max_tokens, const FlowSolution& flow) {
  const int n = cluster.num_nodes();
  if (static_cast<int>(ranges.size()) != n || static_cast<int>(kv_capacity.size()) != n ||
      static_cast<int>(prompt_max_tokens.size()) != n) {
    fail("scheduler view: expected per-node tables of {} entries", n);
  }
  ServingView view;
  view.num_layers = num_layers;
  view.coordinator_out_Bps = cluster.coordinator.nic_out_Bps;
  view.coordinator_in_Bps = cluster.coordinator.nic_in_Bps;
  for (int i = 0; i < n; ++i) {
    const auto s = static_cast<std::size_t>(i);
    const GpuType& gpu = cluster.gpu_of(i);
    view.nodes.push_back(NodeView{cluster.nodes[s].name, ranges[s], prompt_max_tokens[s],
                                  kv_capacity[s], gpu.nic_in_Bps, gpu.nic_out_Bps});
  }
  std::map<LinkPair, const FlowArc*> arc_of;
  for (const FlowArc& arc : flow.arcs) {
    if (arc.kind == ArcKind::Link) arc_of[{arc.from, arc.to}] = &arc;
  }
  for (const auto& [from, to] : links) {
    const Link* link = cluster.find_link(from, to);
    if (link == nullptr) {
      fail("scheduler view: no link {} -> {} in cluster '{}'", cluster.endpoint_name(from),
           cluster.endpoint_name(to), cluster.name);
    }
    LinkView v;
    v.from = from == kCoordinator ? kSource : from;
    v.to = to == kCoordinator ? kSink : to;
    v.bandwidth_Bps = link->bandwidth_Bps;
    v.latency_s = link->latency_s;
    if (auto it = arc_of.find({from, to}); it != arc_of.end()) {
      v.flow_tps = it->second->flow_tps;
      v.capacity_tps = it->second->capacity_tps;
    }
    view.links.push_back(v);
  }
  view.index();
  return view;
}

LayerRange layers_to_infer(const ServingView& view, int from, int next) {
  if (next == kSink) return {};
  const LayerRange& held = view.nodes.at(static_cast<std::size_t>(next)).layers;
  if (from == kSource) return held;
  const int after = view.nodes.at(static_cast<std::size_t>(from)).layers.end;
  return LayerRange{std::max(held.start, after), held.end};
}

}  // namespace helix::sched
