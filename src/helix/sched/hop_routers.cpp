#include "helix/sched/hop_routers.h"

#include <algorithm>

#include "helix/core/error.h"

namespace helix::sched {

SwarmRouter::SwarmRouter(const ServingView& view, SwarmParameters parameters)
    : view_(&view), parameters_(parameters), ema_(view.links.size(), parameters.initial_priority) {
  heap_.resize(static_cast<std::size_t>(view.num_nodes() + 1));
  for (int sender = kSource; sender < view.num_nodes(); ++sender) {
    if (sender == kSink) continue;
    MinHeap& heap = heap_[static_cast<std::size_t>(sender < 0 ? view.num_nodes() : sender)];
    for (int l : view.outbound(sender)) heap.emplace(parameters.initial_priority, l);
  }
}

int SwarmRouter::choose_link(int sender) {
  MinHeap& heap = heap_.at(static_cast<std::size_t>(sender < 0 ? view_->num_nodes() : sender));
  if (heap.empty()) fail("swarm router: {} has no outbound link", sender == kSource ? "the coordinator" : view_->nodes.at(static_cast<std::size_t>(sender)).name);
  const auto [priority, link] = heap.top();
  heap.pop();
  heap.emplace(priority + ema_[static_cast<std::size_t>(link)], link);
  return link;
}

void SwarmRouter::report(int link, double delay_s) {
  double& e = ema_.at(static_cast<std::size_t>(link));
  e = parameters_.smoothing * delay_s + (1 - parameters_.smoothing) * e;
}

int RandomRouter::choose_link(std::span<const int> idle_links, std::span<const char> taken) {
  scratch_.assign(idle_links.begin(), idle_links.end());
  rng_->shuffle(scratch_);
  for (int l : scratch_) {
    if (!taken[static_cast<std::size_t>(l)]) return l;
  }
  return -1;
}

std::vector<int> ShortestQueueRouter::shortest_links(int sender, std::span<const int> queued) const {
  std::vector<int> best;
  int shortest = 0;
  for (int l : view_->outbound(sender)) {
    const int to = view_->links[static_cast<std::size_t>(l)].to;
    if (to == kSink) {  // the coordinator never queues: shortest, and the scan stops here
      if (best.empty() || shortest > 0) best.clear();
      best.push_back(l);
      return best;
    }
    const int q = queued[static_cast<std::size_t>(to)];
    if (best.empty() || q < shortest) {
      best.assign(1, l);
      shortest = q;
    } else if (q == shortest) {
      best.push_back(l);
    }
  }
  return best;
}

int ShortestQueueRouter::choose_link(int sender, std::span<const int> queued,
                                     std::span<const int> idle_links, std::span<const char> taken) {
  const std::vector<int> shortest = shortest_links(sender, queued);
  std::vector<int> candidates;
  for (int l : idle_links) {
    if (std::find(shortest.begin(), shortest.end(), l) != shortest.end()) candidates.push_back(l);
  }
  return random_.choose_link(candidates, taken);
}

}  // namespace helix::sched
