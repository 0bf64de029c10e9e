// One chain of helix's placement search: late-acceptance hill climbing (LAHC)
// over per-node layer ranges, each candidate scored by the exact max flow of the
// real cluster graph (PlacementEvaluator: network included, ~5 µs on 42 nodes).
//
// Moves are the changes that matter for a flow over layer ranges:
//  * resize     a node's range grows or shrinks at one end (capacity trade-off);
//  * align      a node moves so that it starts or ends on an existing boundary,
//               joining pipelines it could not connect to before;
//  * parallel   a node copies the range of a (preferably binding) node, adding
//               capacity exactly where the min cut is;
//  * split      a node hands the tail of its range to another node;
//  * swap       two nodes of different types exchange ranges;
//  * shift      a boundary moves, with every node ending or starting there;
//  * attach     a node moves right behind (or in front of) a node it has a link
//               from (to), preferably ending (starting) where one of its other
//               neighbours starts (ends): what sparse, pruned networks need;
//  * bridge     a chain of nodes that carry no flow is laid between a point the
//               source still reaches and one that still reaches the sink
//               (helix_bridge.h): several nodes move at once, as sparse networks need;
//  * rebuild    a few nodes are cleared and bridges laid until none helps;
//  * release    a node is left unused.
// Binding nodes come from the min cut of the chain's best placement, refreshed as
// it improves. LAHC accepts a candidate that is no worse than the current score or
// than the score `history` steps ago, which lets the chain cross the plateaus the
// max-flow objective is full of.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "helix/flow/flow_network.h"
#include "helix/plan/planner.h"

namespace helix {

class LocalSearch {
 public:
  LocalSearch(const PlanContext& ctx, std::uint64_t seed);

  // Restarts the chain from `start` (which becomes the current placement).
  void reset(const std::vector<LayerRange>& start);
  // Applies `strength` random moves to the current placement, accepting each.
  void perturb(int strength);
  // Runs up to `iterations` moves, stopping early at `deadline` or when *stop is
  // set. Returns how many moves were made.
  long run(long iterations, std::chrono::steady_clock::time_point deadline,
           const std::atomic<bool>* stop);

  double best_score() const { return best_score_; }
  const std::vector<LayerRange>& best() const { return best_; }
  // Objective of a placement: max flow minus the move penalty (see PlanContext).
  double score(const std::vector<LayerRange>& ranges);
  long evaluations() const { return evaluations_; }

 private:
  bool propose();  // builds candidate_ from current_; false if the move is void
  bool move_resize(int node);
  bool move_align(int node);
  bool move_parallel(int node);
  bool move_split(int node);
  bool move_swap(int node);
  bool move_shift();
  bool move_release(int node);
  bool move_attach(int node);
  bool move_bridge();
  bool move_rebuild();
  int random_node();
  int binding_or_random_node();
  void collect_boundaries();
  void refresh_binding();
  bool fits(int node, const LayerRange& r) const;
  int uniform(int low, int high);  // inclusive

  const PlanContext& ctx_;
  PlacementEvaluator evaluator_;
  std::mt19937_64 rng_;
  int num_layers_;
  std::vector<LayerRange> reference_;  // ctx.start's ranges, for the move penalty
  std::vector<LayerRange> current_, candidate_, best_;
  double current_score_ = 0;
  double best_score_ = 0;
  std::vector<double> history_;
  std::size_t step_ = 0;
  std::vector<int> boundaries_;
  std::vector<int> binding_;
  std::vector<int> partners_;  // scratch for move_align / move_attach
  std::vector<std::vector<int>> in_neighbours_, out_neighbours_;  // cluster links between nodes
  long evaluations_ = 0;
};

}  // namespace helix
