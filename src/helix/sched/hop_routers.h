// The baseline request schedulers of the paper (planner spec §4.6). Unlike the
// Helix router, they choose a request's next hop when it is about to leave a
// node, among that node's outbound links; a decode follows its prompt's hops.
//
//  * SwarmRouter (SWARM's stochastic wiring): per sender a min-heap of
//    (priority, link); a choice pops the smallest and pushes it back with
//    priority + ema(link), where ema is a smoothed measure of how long requests
//    took on that link (transmission + queueing + compute at the next node).
//  * RandomRouter (upstream "Naive"): a random idle link.
//  * ShortestQueueRouter: a random idle link among those leading to the nodes with
//    the fewest queued requests.
//
// They see plain data: the caller passes which links are idle and how long queues
// are. Randomness comes from a PythonRandom the caller owns, because the paper's
// simulator draws request lengths from the same stream.
#pragma once

#include <queue>
#include <span>
#include <utility>
#include <vector>

#include "helix/core/python_random.h"
#include "helix/sched/serving_view.h"

namespace helix::sched {

struct SwarmParameters {
  double initial_priority = 0.05;  // ε: first ema and heap priority of every link
  double smoothing = 0.8;          // γ: weight of the newest delay
};

class SwarmRouter {
 public:
  SwarmRouter(const ServingView& view, SwarmParameters parameters = {});

  // The next link out of `sender` (which must have outbound links).
  int choose_link(int sender);
  // A request that entered `link` `delay_s` ago has just finished on its next node.
  void report(int link, double delay_s);
  double ema(int link) const { return ema_.at(static_cast<std::size_t>(link)); }

 private:
  using Entry = std::pair<double, int>;  // (priority, link): ties go to the smaller link
  using MinHeap = std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>>;
  const ServingView* view_;
  SwarmParameters parameters_;
  std::vector<double> ema_;    // per link
  std::vector<MinHeap> heap_;  // per sender slot
};

class RandomRouter {
 public:
  explicit RandomRouter(PythonRandom& rng) : rng_(&rng) {}
  // Shuffles the idle links and returns the first that is not yet taken this
  // round (`taken` is indexed by link), or -1.
  int choose_link(std::span<const int> idle_links, std::span<const char> taken);

 private:
  PythonRandom* rng_;
  std::vector<int> scratch_;
};

class ShortestQueueRouter {
 public:
  ShortestQueueRouter(const ServingView& view, PythonRandom& rng) : view_(&view), random_(rng) {}
  // Among `sender`'s outbound links, those to the nodes with the fewest queued
  // requests (`queued` per node). A link to the sink counts as the shortest and
  // ends the scan (upstream's order-dependent rule). Link order.
  std::vector<int> shortest_links(int sender, std::span<const int> queued) const;
  // A random idle, untaken link among shortest_links(), or -1.
  int choose_link(int sender, std::span<const int> queued, std::span<const int> idle_links,
                  std::span<const char> taken);

 private:
  const ServingView* view_;
  RandomRouter random_;
};

}  // namespace helix::sched
