// HelixRouter: the paper's request scheduler (planner spec §4.2–4.3, upstream
// GlobalFlowScheduler). Each prompt gets its own route, chosen hop by hop from
// the coordinator: at every node, among the outbound links that carry at least
// 5% of the node's outbound max-flow flow, lead to a node that can take the
// prompt's length, and whose node still has room in the KV ledger, it takes the
// one IWRR picks (weights = max-flow flows). Each hop reserves a share of the
// link proportional to its flow. Decodes follow their prompt's route and only add
// their token to the IWRR loads. The ledger is charged when a route is found and
// released when the query ends.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "helix/sched/iwrr.h"
#include "helix/sched/kv_ledger.h"
#include "helix/sched/route.h"
#include "helix/sched/serving_view.h"

namespace helix::sched {

struct HelixRouterOptions {
  KvParameters kv;
  double min_flow_share = 0.05;  // links below this share of a node's outflow are masked
};

// Why route_prompt() found no route: the first node where every link was masked.
struct RouteFailure {
  int at = kSource;        // the endpoint with no usable outbound link
  int masked_flow = 0;     // links masked for carrying (almost) no flow
  int masked_length = 0;   // links to nodes whose prompt limit is below the length
  int masked_kv = 0;       // links to nodes whose expected KV would pass the high-water mark
  std::string describe(const ServingView& view) const;
};

class HelixRouter {
 public:
  HelixRouter(const ServingView& view, HelixRouterOptions options);

  // A route for a prompt of `input_tokens`, or nothing (then `failure`, if given,
  // says why, and the IWRR loads are as before). On success the loads and the KV
  // ledger are charged.
  std::optional<Route> route_prompt(int input_tokens, RouteFailure* failure = nullptr);
  // A decode iteration of a routed query: one token on each hop.
  void on_decode(const Route& route);
  // Takes over a query routed by another router (the runtime rebuilds its router
  // when nodes come and go): charges the KV ledger as route_prompt() would have.
  // `route` must use this router's view's link indices.
  void adopt(const Route& route, int input_tokens);
  // The query is over: release its KV ledger charge.
  void on_query_finished(const Route& route, int input_tokens);

  const KvLedger& kv() const { return kv_; }
  const ServingView& view() const { return *view_; }
  // The IWRR state of a sender (kSource or a node), for tests and reports.
  const Iwrr& iwrr(int sender) const;

 private:
  struct Sender {
    std::vector<int> links;         // outbound links, link order
    std::vector<double> share_Bps;  // link bandwidth x flow / capacity: the traffic the flow implies
    double total_flow = 0;
    double total_share = 0;
    Iwrr iwrr;
  };
  std::size_t slot(int endpoint) const;
  int hop_index(int sender, int link) const;
  bool choose_hop(int from, int input_tokens, std::vector<char>& mask, RouteFailure* failure,
                  Stage* stage);
  double reserved_bandwidth(int from, int link_index) const;
  static std::vector<KvCharge> charges(const Route& route);

  const ServingView* view_;
  HelixRouterOptions options_;
  std::vector<Sender> senders_;         // per sender slot
  std::vector<double> in_share_total_;  // per receiver slot: Σ share of its inbound links
  std::vector<double> link_share_;      // per link: its share
  std::vector<int> link_pos_;           // per link: its index among its sender's links
  KvLedger kv_;
};

}  // namespace helix::sched
