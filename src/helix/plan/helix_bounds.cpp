#include "helix/plan/helix_bounds.h"

#include <algorithm>

namespace helix {
namespace {

// Σ_i max_k k·min(cap_i(k), F): the layer-tokens/s the cluster can usefully supply at F.
double useful_supply(const PerfModel& perf, const std::vector<int>& nodes, double flow) {
  double total = 0;
  for (int i : nodes) {
    double best = 0;
    for (int k = 1; k <= perf.node(i).max_layers; ++k) {
      best = std::max(best, k * std::min(perf.capacity(i, k), flow));
    }
    total += best;
  }
  return total;
}

}  // namespace

double layer_supply_bound(const PerfModel& perf, int num_layers) {
  std::vector<int> all(static_cast<std::size_t>(perf.num_nodes()));
  for (int i = 0; i < perf.num_nodes(); ++i) all[static_cast<std::size_t>(i)] = i;
  return layer_supply_bound(perf, num_layers, all);
}

double layer_supply_bound(const PerfModel& perf, int num_layers, const std::vector<int>& nodes) {
  // useful_supply(F) / F = Σ_i max_k k·min(cap_i(k)/F, 1) does not increase with F,
  // so the F with useful_supply(F) >= L·F form an interval [0, F*]: bisect for F*
  // and return the upper end (an upper bound within 1e-9).
  double low = 0;
  double high = 0;
  for (int i : nodes) {
    for (int k = 1; k <= perf.node(i).max_layers; ++k) high += perf.capacity(i, k) * k;
  }
  high = high / std::max(1, num_layers) + 1;
  for (int iteration = 0; iteration < 100 && high - low > 1e-9 * std::max(1.0, high); ++iteration) {
    double mid = 0.5 * (low + high);
    // Supply can equal L·F exactly over a whole interval (every node capped at F);
    // rounding must not end the interval early, or the "bound" would cut off
    // feasible flows: accept within a relative 1e-9.
    (useful_supply(perf, nodes, mid) >= num_layers * mid * (1 - 1e-9) ? low : high) = mid;
  }
  return high;
}

}  // namespace helix
