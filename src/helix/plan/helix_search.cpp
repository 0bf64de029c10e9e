#include "helix/plan/helix_search.h"

#include <algorithm>

#include "helix/plan/helix_bridge.h"

namespace helix {
namespace {

constexpr std::size_t kHistoryLength = 10000;  // LAHC memory (moves)
constexpr int kCheckEvery = 64;              // moves between clock / stop checks

// Layers `now` holds that `before` did not: weights a re-plan has to load.
int new_layers(const LayerRange& now, const LayerRange& before) {
  if (now.empty()) return 0;
  if (before.empty()) return now.size();
  int overlap = std::max(0, std::min(now.end, before.end) - std::max(now.start, before.start));
  return now.size() - overlap;
}

}  // namespace

LocalSearch::LocalSearch(const PlanContext& ctx, std::uint64_t seed)
    : ctx_(ctx),
      evaluator_(ctx.cluster, ctx.model, ctx.perf),
      rng_(seed),
      num_layers_(ctx.model.num_layers) {
  if (ctx.start != nullptr && ctx.move_penalty_tps > 0) reference_ = ctx.start->ranges;
  const auto n = static_cast<std::size_t>(ctx.cluster.num_nodes());
  in_neighbours_.resize(n);
  out_neighbours_.resize(n);
  for (const Link& l : ctx.cluster.links) {
    if (l.from == kCoordinator || l.to == kCoordinator) continue;
    out_neighbours_[static_cast<std::size_t>(l.from)].push_back(l.to);
    in_neighbours_[static_cast<std::size_t>(l.to)].push_back(l.from);
  }
}

double LocalSearch::score(const std::vector<LayerRange>& ranges) {
  ++evaluations_;
  double value = evaluator_.max_flow(ranges);
  if (!reference_.empty()) {
    int moved = 0;
    for (std::size_t i = 0; i < ranges.size(); ++i) moved += new_layers(ranges[i], reference_[i]);
    value -= ctx_.move_penalty_tps * moved;
  }
  return value;
}

void LocalSearch::reset(const std::vector<LayerRange>& start) {
  current_ = start;
  current_score_ = score(current_);
  if (best_.empty() || current_score_ > best_score_) {
    best_ = current_;
    best_score_ = current_score_;
    refresh_binding();
  }
  history_.assign(kHistoryLength, current_score_);
  step_ = 0;
}

void LocalSearch::perturb(int strength) {
  for (int done = 0, tries = 0; done < strength && tries < 20 * strength; ++tries) {
    if (!propose()) continue;
    current_.swap(candidate_);
    ++done;
  }
  current_score_ = score(current_);
  history_.assign(kHistoryLength, current_score_);
}

long LocalSearch::run(long iterations, std::chrono::steady_clock::time_point deadline,
                      const std::atomic<bool>* stop) {
  long done = 0;
  for (; done < iterations; ++done) {
    if (done % kCheckEvery == 0 && done > 0) {
      if (std::chrono::steady_clock::now() >= deadline) break;
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
    }
    if (!propose()) continue;
    double s = score(candidate_);
    double& remembered = history_[step_++ % history_.size()];
    if (s >= current_score_ || s >= remembered) {
      current_.swap(candidate_);
      current_score_ = s;
      if (s > best_score_) {
        best_score_ = s;
        best_ = current_;
        refresh_binding();
      }
    }
    remembered = current_score_;
  }
  return done;
}

// ------------------------------------------------------------------ moves

bool LocalSearch::propose() {
  candidate_ = current_;
  collect_boundaries();
  int kind = uniform(0, 99);
  if (kind < 17) return move_resize(binding_or_random_node());
  if (kind < 30) return move_align(random_node());
  if (kind < 40) return move_attach(random_node());
  if (kind < 55) return move_parallel(random_node());
  if (kind < 70) return move_split(random_node());
  if (kind < 80) return move_swap(random_node());
  if (kind < 95) return move_shift();
  if (kind < 96) return move_bridge();
  if (kind < 97) return move_rebuild();
  return move_release(random_node());
}

// A chain of flow-free nodes from a random entry the residual graph allows
// (helix_bridge.h). Costs ~20 ordinary moves, hence its small share.
bool LocalSearch::move_bridge() {
  // Half the time, first release one or two random nodes: what they carried may be
  // worth less than what a bridge through them (or around them) gains.
  if (uniform(0, 1) == 0) {
    for (int r = uniform(1, 2); r > 0; --r) candidate_[static_cast<std::size_t>(random_node())] = {};
  }
  const FlowSolution flow = solve_planner_flow(ctx_.cluster, ctx_.model, ctx_.perf, candidate_);
  const ResidualSides sides = residual_sides(flow, ctx_.cluster.num_nodes());
  std::vector<int> entries{kCoordinator};
  for (int i = 0; i < ctx_.cluster.num_nodes(); ++i) {
    if (sides.source_reaches_out[static_cast<std::size_t>(i)] && !candidate_[static_cast<std::size_t>(i)].empty()) {
      entries.push_back(i);
    }
  }
  const int entry = entries[static_cast<std::size_t>(uniform(0, static_cast<int>(entries.size()) - 1))];
  const Bridge bridge = widest_bridge(ctx_.cluster, ctx_.model, ctx_.perf, candidate_, sides, entry);
  if (bridge.chain.empty()) return false;
  for (const auto& [node, range] : bridge.chain) candidate_[static_cast<std::size_t>(node)] = range;
  return true;
}

// Ruin and recreate: clear a few nodes (binding ones first), then lay bridges
// until none helps (helix_bridge.h). The largest move; ~1 ms on 42 nodes.
bool LocalSearch::move_rebuild() {
  for (int r = uniform(2, 6); r > 0; --r) candidate_[static_cast<std::size_t>(binding_or_random_node())] = {};
  candidate_ = lay_bridges(ctx_.cluster, ctx_.model, ctx_.perf, evaluator_, std::move(candidate_)).first;
  return true;
}

bool LocalSearch::fits(int node, const LayerRange& r) const {
  return r.start >= 0 && r.end <= num_layers_ && r.size() >= 1 &&
         r.size() <= ctx_.perf.node(node).max_layers;
}

bool LocalSearch::move_resize(int node) {
  const LayerRange r = candidate_[static_cast<std::size_t>(node)];
  int max_k = std::min(ctx_.perf.node(node).max_layers, num_layers_);
  int k = uniform(1, max_k);
  LayerRange next;
  if (r.empty()) {
    int start = uniform(0, num_layers_ - k);
    next = {start, start + k};
  } else if (uniform(0, 1) == 0) {
    int start = std::min(r.start, num_layers_ - k);  // keep the start
    next = {start, start + k};
  } else {
    int end = std::max(r.end, k);  // keep the end
    next = {end - k, end};
  }
  if (next == r || !fits(node, next)) return false;
  candidate_[static_cast<std::size_t>(node)] = next;
  return true;
}

bool LocalSearch::move_align(int node) {
  const int max_k = ctx_.perf.node(node).max_layers;
  int b = boundaries_[static_cast<std::size_t>(uniform(0, static_cast<int>(boundaries_.size()) - 1))];
  bool at_start = b == 0 || (b < num_layers_ && uniform(0, 1) == 0);
  // Prefer an opposite end on another boundary, so both ends connect.
  std::vector<int>& partners = partners_;
  partners.clear();
  for (int other : boundaries_) {
    int k = at_start ? other - b : b - other;
    if (k >= 1 && k <= max_k) partners.push_back(other);
  }
  LayerRange next;
  if (!partners.empty() && uniform(0, 3) > 0) {
    int other = partners[static_cast<std::size_t>(uniform(0, static_cast<int>(partners.size()) - 1))];
    next = at_start ? LayerRange{b, other} : LayerRange{other, b};
  } else {
    int k = uniform(1, std::min(max_k, num_layers_));
    next = at_start ? LayerRange{b, b + k} : LayerRange{b - k, b};
  }
  if (!fits(node, next) || next == candidate_[static_cast<std::size_t>(node)]) return false;
  candidate_[static_cast<std::size_t>(node)] = next;
  return true;
}

bool LocalSearch::move_parallel(int node) {
  int target = binding_or_random_node();
  const LayerRange r = candidate_[static_cast<std::size_t>(target)];
  if (target == node || r.empty() || !fits(node, r) || candidate_[static_cast<std::size_t>(node)] == r) {
    return false;
  }
  candidate_[static_cast<std::size_t>(node)] = r;
  return true;
}

// A (preferably binding) node of k >= 2 layers hands the tail of its range to
// `node` — and, half the time, to a second node in parallel, so that a slow link
// between the two parts is doubled from the start — forming a chain of shorter,
// faster stages.
bool LocalSearch::move_split(int node) {
  int target = binding_or_random_node();
  LayerRange& r = candidate_[static_cast<std::size_t>(target)];
  if (target == node || r.size() < 2) return false;
  int cut = uniform(r.start + 1, r.end - 1);
  LayerRange tail{cut, r.end};
  if (!fits(node, tail)) return false;
  r.end = cut;
  candidate_[static_cast<std::size_t>(node)] = tail;
  int second = random_node();
  if (uniform(0, 1) == 0 && second != node && second != target && fits(second, tail)) {
    candidate_[static_cast<std::size_t>(second)] = tail;
  }
  return true;
}

bool LocalSearch::move_swap(int node) {
  int other = random_node();
  auto& a = candidate_[static_cast<std::size_t>(node)];
  auto& b = candidate_[static_cast<std::size_t>(other)];
  if (node == other || a == b) return false;
  if ((!b.empty() && !fits(node, b)) || (!a.empty() && !fits(other, a))) return false;
  std::swap(a, b);
  return true;
}

bool LocalSearch::move_shift() {
  if (boundaries_.size() <= 2) return false;
  // An interior boundary (boundaries_ is sorted and holds 0 and L).
  int b = boundaries_[static_cast<std::size_t>(uniform(1, static_cast<int>(boundaries_.size()) - 2))];
  int delta = uniform(0, 1) == 0 ? -uniform(1, 2) : uniform(1, 2);
  bool changed = false;
  for (int i = 0; i < static_cast<int>(candidate_.size()); ++i) {
    LayerRange& r = candidate_[static_cast<std::size_t>(i)];
    if (r.empty()) continue;
    LayerRange next = r;
    if (r.end == b) next.end += delta;
    if (r.start == b) next.start += delta;
    if (next == r) continue;
    if (!fits(i, next)) return false;
    r = next;
    changed = true;
  }
  return changed;
}

bool LocalSearch::move_attach(int node) {
  const int max_k = std::min(ctx_.perf.node(node).max_layers, num_layers_);
  const bool after = uniform(0, 1) == 0;  // behind a predecessor, or before a successor
  const auto& anchors = after ? in_neighbours_[static_cast<std::size_t>(node)]
                              : out_neighbours_[static_cast<std::size_t>(node)];
  if (anchors.empty()) return false;
  const LayerRange& a = candidate_[static_cast<std::size_t>(anchors[static_cast<std::size_t>(
      uniform(0, static_cast<int>(anchors.size()) - 1))])];
  if (a.empty()) return false;
  const int fixed = after ? a.end : a.start;
  if ((after && fixed >= num_layers_) || (!after && fixed <= 0)) return false;
  // The other end: where a neighbour on the other side starts (ends), if any fits.
  const auto& others = after ? out_neighbours_[static_cast<std::size_t>(node)]
                             : in_neighbours_[static_cast<std::size_t>(node)];
  std::vector<int>& ends = partners_;
  ends.clear();
  for (int o : others) {
    const LayerRange& r = candidate_[static_cast<std::size_t>(o)];
    if (r.empty()) continue;
    int k = after ? r.start - fixed : fixed - r.end;
    if (k >= 1 && k <= max_k) ends.push_back(after ? r.start : r.end);
  }
  if (after && fixed + max_k >= num_layers_) ends.push_back(num_layers_);
  if (!after && fixed - max_k <= 0) ends.push_back(0);
  int other_end;
  if (!ends.empty() && uniform(0, 3) > 0) {
    other_end = ends[static_cast<std::size_t>(uniform(0, static_cast<int>(ends.size()) - 1))];
  } else {
    int k = uniform(1, max_k);
    other_end = after ? std::min(num_layers_, fixed + k) : std::max(0, fixed - k);
  }
  LayerRange next = after ? LayerRange{fixed, other_end} : LayerRange{other_end, fixed};
  if (!fits(node, next) || next == candidate_[static_cast<std::size_t>(node)]) return false;
  candidate_[static_cast<std::size_t>(node)] = next;
  return true;
}

bool LocalSearch::move_release(int node) {
  if (candidate_[static_cast<std::size_t>(node)].empty()) return false;
  candidate_[static_cast<std::size_t>(node)] = {};
  return true;
}

// ---------------------------------------------------------------- helpers

int LocalSearch::uniform(int low, int high) {
  return std::uniform_int_distribution<int>(low, high)(rng_);
}

int LocalSearch::random_node() { return uniform(0, static_cast<int>(current_.size()) - 1); }

int LocalSearch::binding_or_random_node() {
  if (binding_.empty() || uniform(0, 1) == 0) return random_node();
  return binding_[static_cast<std::size_t>(uniform(0, static_cast<int>(binding_.size()) - 1))];
}

void LocalSearch::collect_boundaries() {
  boundaries_.clear();
  boundaries_.push_back(0);
  boundaries_.push_back(num_layers_);
  for (const auto& r : candidate_) {
    if (r.empty()) continue;
    boundaries_.push_back(r.start);
    boundaries_.push_back(r.end);
  }
  std::sort(boundaries_.begin(), boundaries_.end());
  boundaries_.erase(std::unique(boundaries_.begin(), boundaries_.end()), boundaries_.end());
}

void LocalSearch::refresh_binding() {
  binding_.clear();
  FlowSolution s = solve_planner_flow(ctx_.cluster, ctx_.model, ctx_.perf, best_);
  for (int a : s.min_cut) {
    const FlowArc& arc = s.arcs[static_cast<std::size_t>(a)];
    if (arc.kind == ArcKind::Compute) binding_.push_back(arc.node);
  }
}

}  // namespace helix
