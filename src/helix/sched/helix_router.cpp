#include "helix/sched/helix_router.h"

#include <algorithm>

#include <fmt/format.h>

#include "helix/core/error.h"

namespace helix::sched {
namespace {

std::string endpoint_name(const ServingView& view, int endpoint) {
  if (endpoint == kSource) return "the coordinator";
  if (endpoint == kSink) return "the coordinator (sink)";
  return view.nodes.at(static_cast<std::size_t>(endpoint)).name;
}

}  // namespace

std::string RouteFailure::describe(const ServingView& view) const {
  return fmt::format(
      "no usable link out of {} ({} masked for low flow, {} for the prompt length, {} for KV)",
      endpoint_name(view, at), masked_flow, masked_length, masked_kv);
}

HelixRouter::HelixRouter(const ServingView& view, HelixRouterOptions options)
    : view_(&view), options_(options), kv_(view, options.kv) {
  const std::size_t slots = static_cast<std::size_t>(view.num_nodes() + 1);
  senders_.resize(slots);
  in_share_total_.assign(slots, 0.0);
  link_share_.assign(view.links.size(), 0.0);
  link_pos_.assign(view.links.size(), -1);
  for (std::size_t l = 0; l < view.links.size(); ++l) {
    const LinkView& link = view.links[l];
    // upstream's used_speed: the bytes/s this link's flow occupies.
    link_share_[l] = link.capacity_tps > 0 ? link.bandwidth_Bps * link.flow_tps / link.capacity_tps : 0;
    in_share_total_[slot(link.to)] += link_share_[l];
  }
  for (int sender = kSource; sender < view.num_nodes(); ++sender) {
    if (sender == kSink) continue;
    Sender& s = senders_[slot(sender)];
    std::vector<double> flows;
    for (int l : view.outbound(sender)) {
      link_pos_[static_cast<std::size_t>(l)] = static_cast<int>(s.links.size());
      s.links.push_back(l);
      s.share_Bps.push_back(link_share_[static_cast<std::size_t>(l)]);
      s.total_flow += view.links[static_cast<std::size_t>(l)].flow_tps;
      s.total_share += link_share_[static_cast<std::size_t>(l)];
      flows.push_back(view.links[static_cast<std::size_t>(l)].flow_tps);
    }
    s.iwrr = Iwrr(std::move(flows));
  }
}

std::size_t HelixRouter::slot(int endpoint) const {
  return static_cast<std::size_t>(endpoint < 0 ? view_->num_nodes() : endpoint);
}

const Iwrr& HelixRouter::iwrr(int sender) const { return senders_.at(slot(sender)).iwrr; }

int HelixRouter::hop_index(int sender, int link) const {
  const int pos = link_pos_.at(static_cast<std::size_t>(link));
  if (pos < 0 || view_->links[static_cast<std::size_t>(link)].from != sender) {
    fail("helix router: link {} does not leave {}", link, endpoint_name(*view_, sender));
  }
  return pos;
}

double HelixRouter::reserved_bandwidth(int from, int link_index) const {
  const LinkView& link = view_->links[static_cast<std::size_t>(link_index)];
  const double share = link_share_[static_cast<std::size_t>(link_index)];
  double bw = link.bandwidth_Bps;
  const Sender& s = senders_[slot(from)];
  if (s.total_share > 0) bw = std::min(bw, view_->out_nic_Bps(from) * share / s.total_share);
  const double in_total = in_share_total_[slot(link.to)];
  if (in_total > 0) bw = std::min(bw, view_->in_nic_Bps(link.to) * share / in_total);
  return bw;
}

bool HelixRouter::choose_hop(int from, int input_tokens, std::vector<char>& mask,
                             RouteFailure* failure, Stage* stage) {
  Sender& s = senders_[slot(from)];
  mask.assign(s.links.size(), 0);
  RouteFailure why;
  why.at = from;
  bool any = false;
  for (std::size_t i = 0; i < s.links.size(); ++i) {
    const LinkView& link = view_->links[static_cast<std::size_t>(s.links[i])];
    if (link.flow_tps < options_.min_flow_share * s.total_flow || !(link.flow_tps > 0)) {
      ++why.masked_flow;
    } else if (link.to != kSink &&
               input_tokens > view_->nodes[static_cast<std::size_t>(link.to)].prompt_max_tokens) {
      ++why.masked_length;
    } else if (link.to != kSink && !kv_.can_add(link.to, input_tokens)) {
      ++why.masked_kv;
    } else {
      mask[i] = 1;
      any = true;
    }
  }
  const int chosen = any ? s.iwrr.choose(input_tokens, mask) : -1;
  if (chosen < 0) {
    if (failure != nullptr) *failure = why;
    return false;
  }
  const int l = s.links[static_cast<std::size_t>(chosen)];
  const int next = view_->links[static_cast<std::size_t>(l)].to;
  *stage = Stage{l, next, layers_to_infer(*view_, from, next), reserved_bandwidth(from, l)};
  return true;
}

std::optional<Route> HelixRouter::route_prompt(int input_tokens, RouteFailure* failure) {
  Route route;
  std::vector<char> mask;
  int at = kSource;
  // A route visits each node at most once, so more hops than nodes means a cycle
  // in the links (which the flow would not use, but stay safe).
  const std::size_t max_hops = static_cast<std::size_t>(view_->num_nodes() + 1);
  while (at != kSink) {
    Stage stage;
    if (route.stages.size() >= max_hops || !choose_hop(at, input_tokens, mask, failure, &stage)) {
      int from = kSource;
      for (const Stage& done : route.stages) {  // undo the loads of the hops chosen so far
        senders_[slot(from)].iwrr.restore(input_tokens, hop_index(from, done.link));
        from = done.node;
      }
      return std::nullopt;
    }
    route.stages.push_back(stage);
    at = stage.node;
  }
  kv_.add(input_tokens, charges(route));
  return route;
}

void HelixRouter::on_decode(const Route& route) {
  int from = kSource;
  for (const Stage& stage : route.stages) {
    senders_[slot(from)].iwrr.add(1, hop_index(from, stage.link));
    from = stage.node;
  }
}

void HelixRouter::adopt(const Route& route, int input_tokens) { kv_.add(input_tokens, charges(route)); }

void HelixRouter::on_query_finished(const Route& route, int input_tokens) {
  kv_.remove(input_tokens, charges(route));
}

std::vector<KvCharge> HelixRouter::charges(const Route& route) {
  std::vector<KvCharge> out;
  for (const Stage& stage : route.stages) {
    if (stage.node >= 0) out.push_back(KvCharge{stage.node, stage.layers.size()});
  }
  return out;
}

}  // namespace helix::sched
