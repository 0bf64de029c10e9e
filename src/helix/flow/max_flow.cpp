// Push-relabel max flow; see max_flow.h for the contract and the numeric scheme.
//
// Invariants (standard, Goldberg–Tarjan): heights form a valid labelling — for a
// residual half-arc v->u, height[v] <= height[u] + 1 — with height[target] = 0 and
// height[blocked] = n. A vertex is active when it holds excess and has height < n;
// vertices at height >= n cannot reach the target and are left alone. Every
// buffer is sized with resize()/assign(), which reuse their capacity, so a warm
// MaxFlow allocates nothing.
#include "helix/flow/max_flow.h"

#include <algorithm>
#include <cmath>

#include "helix/core/error.h"

namespace helix {
namespace {

// Bits of headroom: the sum of all quantized capacities stays below 2^62, so no
// excess, residual or sum of them can overflow int64.
constexpr int kFixedPointBits = 62;
// Largest power-of-two exponent used for the scale (keeps it a finite double).
constexpr int kMaxScaleExponent = 1000;
// Work units charged per relabel beyond the arcs scanned, and the global
// relabel period (work since the last one > kGlobalAlpha·n + half-arcs), as in HIPR.
constexpr std::int64_t kRelabelCost = 12;
constexpr std::int64_t kGlobalAlpha = 6;

std::size_t at(int i) { return static_cast<std::size_t>(i); }

}  // namespace

void MaxFlow::reset(int num_vertices) {
  if (num_vertices < 0) fail("max flow: negative vertex count {}", num_vertices);
  n_ = num_vertices;
  arc_from_.clear();
  arc_to_.clear();
  arc_cap_.clear();
}

int MaxFlow::add_arc(int from, int to, double capacity) {
  if (from < 0 || from >= n_ || to < 0 || to >= n_) {
    fail("max flow: arc {} -> {} names a vertex outside 0..{}", from, to, n_ - 1);
  }
  if (!(capacity >= 0)) fail("max flow: arc {} -> {} has capacity {}", from, to, capacity);
  arc_from_.push_back(from);
  arc_to_.push_back(to);
  arc_cap_.push_back(capacity);
  return static_cast<int>(arc_from_.size()) - 1;
}

double MaxFlow::flow(int arc) const {
  std::size_t e = at(arc);
  return static_cast<double>(qcap_[e] - half_[at(fwd_[e])].res) / scale_;
}

// Chooses the fixed-point scale (max_flow.h, "Numbers") and lays out the CSR
// residual graph with a counting sort that keeps each vertex's half-arcs in the
// order their arcs were added: determinism does not depend on anything else.
void MaxFlow::build_residual_graph(double flow_bound, int source, int sink) {
  const std::size_t m = arc_from_.size();
  double out_of_source = 0, into_sink = 0;
  for (std::size_t e = 0; e < m; ++e) {
    if (arc_from_[e] == source && arc_to_[e] != source) out_of_source += arc_cap_[e];
    if (arc_to_[e] == sink && arc_from_[e] != sink) into_sink += arc_cap_[e];
  }
  const double bound = std::min({flow_bound, out_of_source, into_sink});
  if (!std::isfinite(bound)) fail("max flow: unbounded (an infinite path from source to sink)");
  // Any clamp above the max flow keeps clamped arcs out of the cut; with a zero
  // bound use 1, not 0, so that positive arcs stay positive for the cut's BFS.
  const double clamp = bound > 0 ? 2 * bound : 1;
  double total = 0;
  for (std::size_t e = 0; e < m; ++e) total += std::min(arc_cap_[e], clamp);
  scale_ = 1;
  if (total > 0) {
    int exponent = 0;
    std::frexp(total, &exponent);  // total < 2^exponent
    scale_ = std::ldexp(1.0, std::min(kFixedPointBits - exponent, kMaxScaleExponent));
  }
  qcap_.resize(m);
  for (std::size_t e = 0; e < m; ++e) {
    // Truncation is floor here: the product is >= 0 (and exact, scale is 2^k).
    qcap_[e] = static_cast<std::int64_t>(std::min(arc_cap_[e], clamp) * scale_);
  }

  first_.assign(at(n_ + 1), 0);
  for (std::size_t e = 0; e < m; ++e) {
    ++first_[at(arc_from_[e] + 1)];
    ++first_[at(arc_to_[e] + 1)];
  }
  for (int v = 0; v < n_; ++v) first_[at(v + 1)] += first_[at(v)];
  half_.resize(2 * m);
  fwd_.resize(m);
  current_.assign(first_.begin(), first_.end() - 1);  // insertion cursors
  for (std::size_t e = 0; e < m; ++e) {
    const int a = current_[at(arc_from_[e])]++;
    const int b = current_[at(arc_to_[e])]++;
    half_[at(a)] = HalfArc{arc_to_[e], b, qcap_[e]};
    half_[at(b)] = HalfArc{arc_from_[e], a, 0};
    fwd_[e] = a;
  }
}

double MaxFlow::solve(int source, int sink, Output output, double flow_bound) {
  if (source < 0 || source >= n_ || sink < 0 || sink >= n_ || source == sink) {
    fail("max flow: bad terminals {} -> {} for {} vertices", source, sink, n_);
  }
  build_residual_graph(flow_bound, source, sink);
  const std::size_t n = at(n_);
  excess_.assign(n, 0);
  height_.assign(n, 0);
  next_active_.resize(n);
  level_next_.resize(n);
  level_prev_.resize(n);
  active_head_.resize(n);
  level_head_.resize(n);
  queue_.resize(n);
  relabel_period_ = kGlobalAlpha * n_ + static_cast<std::int64_t>(half_.size());

  // Phase 1: saturate the source's arcs, then push towards the sink.
  for (int a = first_[at(source)]; a < first_[at(source) + 1]; ++a) {
    HalfArc& arc = half_[at(a)];
    const std::int64_t delta = arc.res;
    const int u = arc.head;
    if (delta == 0 || u == source) continue;
    arc.res = 0;
    half_[at(arc.mate)].res += delta;
    excess_[at(u)] += delta;
    excess_[at(source)] -= delta;
  }
  run_phase(sink, source);
  const std::int64_t value = excess_[at(sink)];

  if (output == Output::FlowAndCut) {
    run_phase(source, sink);  // phase 2: return stranded excess to the source
    mark_source_side(source);
  }
  return static_cast<double>(value) / scale_;
}

// Highest-label discharging until no vertex below height n holds excess.
void MaxFlow::run_phase(int target, int blocked) {
  target_ = target;
  global_relabel(target, blocked);
  while (max_active_ >= 0) {
    const int v = active_head_[at(max_active_)];
    if (v < 0) {
      --max_active_;
      continue;
    }
    active_head_[at(max_active_)] = next_active_[at(v)];
    discharge(v);
    if (work_ > relabel_period_) global_relabel(target, blocked);
  }
}

// Exact distances to `target` in the residual graph (reverse BFS); unreachable
// vertices and `blocked` get n. Rebuilds the level lists and the active stacks.
void MaxFlow::global_relabel(int target, int blocked) {
  work_ = 0;
  std::fill(height_.begin(), height_.end(), n_);
  std::fill(level_head_.begin(), level_head_.end(), -1);
  std::fill(active_head_.begin(), active_head_.end(), -1);
  height_[at(target)] = 0;
  std::size_t tail = 0;
  queue_[tail++] = target;
  for (std::size_t q = 0; q < tail; ++q) {
    const int v = queue_[q];
    for (int a = first_[at(v)]; a < first_[at(v) + 1]; ++a) {
      const HalfArc& arc = half_[at(a)];
      const int u = arc.head;
      if (height_[at(u)] != n_ || u == blocked || half_[at(arc.mate)].res == 0) continue;
      height_[at(u)] = height_[at(v)] + 1;
      queue_[tail++] = u;
    }
  }
  max_level_ = 0;
  max_active_ = -1;
  for (int v = 0; v < n_; ++v) {
    if (height_[at(v)] >= n_) continue;
    current_[at(v)] = first_[at(v)];
    add_to_level(v);
    if (excess_[at(v)] > 0 && v != target) add_active(v);
  }
}

// Pushes v's excess along admissible half-arcs (height drops by one), relabelling
// when none is left, until v is empty or lifted out of reach (height >= n).
void MaxFlow::discharge(int v) {
  std::int64_t& ex = excess_[at(v)];
  while (true) {
    const int h = height_[at(v)];
    const int end = first_[at(v) + 1];
    for (int a = current_[at(v)]; a < end; ++a) {
      HalfArc& arc = half_[at(a)];
      if (arc.res == 0) continue;
      const int u = arc.head;
      if (height_[at(u)] != h - 1) continue;
      const std::int64_t delta = std::min(ex, arc.res);
      arc.res -= delta;
      half_[at(arc.mate)].res += delta;
      if (excess_[at(u)] == 0 && u != target_) add_active(u);
      excess_[at(u)] += delta;
      ex -= delta;
      if (ex == 0) {
        current_[at(v)] = a;
        return;
      }
    }
    relabel(v);
    if (height_[at(v)] >= n_) return;
  }
}

// Lifts v to one above its lowest residual neighbour, or applies the gap
// heuristic when v was the last vertex at its height.
void MaxFlow::relabel(int v) {
  const int old = height_[at(v)];
  remove_from_level(v);
  if (level_head_[at(old)] < 0) {
    gap(old);
    height_[at(v)] = n_;
    return;
  }
  int lowest = n_;
  int best = first_[at(v)];
  for (int a = first_[at(v)]; a < first_[at(v) + 1]; ++a) {
    if (half_[at(a)].res == 0) continue;
    const int candidate = height_[at(half_[at(a)].head)] + 1;
    if (candidate < lowest) {
      lowest = candidate;
      best = a;
    }
  }
  work_ += first_[at(v) + 1] - first_[at(v)] + kRelabelCost;
  height_[at(v)] = lowest;
  if (lowest >= n_) return;
  current_[at(v)] = best;
  add_to_level(v);
}

// No vertex is left at `emptied`: everything above it can no longer reach the
// target, so it all moves to height n.
void MaxFlow::gap(int emptied) {
  for (int d = emptied + 1; d <= max_level_; ++d) {
    for (int w = level_head_[at(d)]; w >= 0; w = level_next_[at(w)]) height_[at(w)] = n_;
    level_head_[at(d)] = -1;
    active_head_[at(d)] = -1;
  }
  max_level_ = emptied - 1;
  max_active_ = std::min(max_active_, emptied - 1);
}

void MaxFlow::add_active(int v) {
  const int d = height_[at(v)];
  next_active_[at(v)] = active_head_[at(d)];
  active_head_[at(d)] = v;
  max_active_ = std::max(max_active_, d);
}

void MaxFlow::add_to_level(int v) {
  const int d = height_[at(v)];
  const int old_head = level_head_[at(d)];
  level_next_[at(v)] = old_head;
  level_prev_[at(v)] = -1;
  if (old_head >= 0) level_prev_[at(old_head)] = v;
  level_head_[at(d)] = v;
  max_level_ = std::max(max_level_, d);
}

void MaxFlow::remove_from_level(int v) {
  const int prev = level_prev_[at(v)];
  const int next = level_next_[at(v)];
  if (prev >= 0) {
    level_next_[at(prev)] = next;
  } else {
    level_head_[at(height_[at(v)])] = next;
  }
  if (next >= 0) level_prev_[at(next)] = prev;
}

void MaxFlow::mark_source_side(int source) {
  source_side_.assign(at(n_), 0);
  source_side_[at(source)] = 1;
  std::size_t tail = 0;
  queue_[tail++] = source;
  for (std::size_t q = 0; q < tail; ++q) {
    const int v = queue_[q];
    for (int a = first_[at(v)]; a < first_[at(v) + 1]; ++a) {
      const int u = half_[at(a)].head;
      if (source_side_[at(u)] || half_[at(a)].res == 0) continue;
      source_side_[at(u)] = 1;
      queue_[tail++] = u;
    }
  }
}

}  // namespace helix
