// ServingView: what a request scheduler sees of a serving cluster — plain data, no
// simulator or runtime types, so that the simulator and the runtime call the same
// schedulers (ARCHITECTURE.md, "one scheduler").
//
// Endpoints are compute-node indices 0..n-1 plus two pseudo-endpoints for the
// coordinator: kSource (it sends prompts and tokens) and kSink (it receives the
// results), as in the paper (simulator spec §4.1). Links are directed and listed
// in a fixed order (the cluster file's): that order breaks every tie.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/flow/flow_network.h"
#include "helix/model/layer_range.h"

namespace helix::sched {

inline constexpr int kSource = -1;
inline constexpr int kSink = -2;

struct NodeView {
  std::string name;
  LayerRange layers;                  // held layers; empty = unused
  long long prompt_max_tokens = 0;    // batch admission limit (longest prompt it can take)
  double kv_capacity = 0;             // KV slots, token x layer units
  double nic_in_Bps = 0;
  double nic_out_Bps = 0;
};

struct LinkView {
  int from = kSource;   // kSource or a node
  int to = kSink;       // kSink or a node
  double bandwidth_Bps = 0;
  double latency_s = 0;
  double flow_tps = 0;      // flow on this link in the max flow (the Helix router's weight)
  double capacity_tps = 0;  // the link's capacity in the flow graph
};

struct ServingView {
  int num_layers = 0;
  double coordinator_out_Bps = 0;  // the source's NIC
  double coordinator_in_Bps = 0;   // the sink's NIC
  std::vector<NodeView> nodes;
  std::vector<LinkView> links;

  // Per sender (kSource -> index n, node i -> i): indices into `links` of its
  // outbound links in link order; per receiver (kSink -> n, node j -> j) its
  // inbound links. Filled by index().
  std::vector<std::vector<int>> out_links, in_links;
  void index();
  int num_nodes() const { return static_cast<int>(nodes.size()); }
  const std::vector<int>& outbound(int sender) const;
  const std::vector<int>& inbound(int receiver) const;
  double out_nic_Bps(int sender) const;
  double in_nic_Bps(int receiver) const;
};

// Builds the view of a placed cluster. `links` are the directed links the
// pipelines may use, with kCoordinator meaning the source as `from` and the sink
// as `to`; `kv_capacity` and `prompt_max_tokens` are per node; `flow` is the
// simulator-semantics max flow over exactly these links (its Link arcs give each
// link's flow and capacity; links without an arc get 0). Throws Error for a link
// that is not in the cluster.
ServingView make_serving_view(const ClusterSpec& cluster, int num_layers,
                              std::span<const LayerRange> ranges, std::span<const LinkPair> links,
                              std::span<const double> kv_capacity,
                              std::span<const long long> prompt_max_tokens, const FlowSolution& flow);

// The layers a request runs on `next` after leaving `from` (planner spec §4.2):
// all of next's layers after the source, the layers past from's last otherwise
// (partial inference); empty when next is the sink.
LayerRange layers_to_infer(const ServingView& view, int from, int next);

}  // namespace helix::sched
