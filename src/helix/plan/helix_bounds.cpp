#include "helix/plan/helix_bounds.h"

#include <algorithm>
#include <limits>

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

namespace {

// Σ_i max_k k·w_i(k): solo options weigh 1 per layer, the others 1/q.
double cover_weight(const PerfModel& perf, double flow, double q) {
  double total = 0;
  for (int i = 0; i < perf.num_nodes(); ++i) {
    double best = 0;
    for (int k = 1; k <= perf.node(i).max_layers; ++k) {
      best = std::max(best, k * (perf.capacity(i, k) >= flow ? 1.0 : 1.0 / q));
    }
    total += best;
  }
  return total;
}

}  // namespace

double cover_count_bound(const PerfModel& perf, int num_layers) {
  std::vector<double> caps;
  for (int i = 0; i < perf.num_nodes(); ++i) {
    for (int k = 1; k <= perf.node(i).max_layers; ++k) caps.push_back(perf.capacity(i, k));
  }
  std::sort(caps.begin(), caps.end());
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());
  if (caps.empty()) return 0;
  // F in (caps[j], caps[j+1]]: the solo options (cap >= F) are those >= caps[j+1]
  // and c* = caps[j]; within the interval q = ceil(F / c*) grows with F and the
  // weights only fall, so the largest feasible F there is found step by step.
  double best = 0;
  if (cover_weight(perf, caps.front(), 1.0) >= num_layers) best = caps.front();  // F <= smallest cap
  for (std::size_t j = 0; j + 1 < caps.size(); ++j) {
    const double c_star = caps[j];
    const double top = caps[j + 1];
    for (double q = 2;; ++q) {
      double low = std::max(c_star, c_star * (q - 1));  // F with ceil(F / c*) == q
      if (low >= top) break;
      if (cover_weight(perf, top, q) < num_layers) break;  // solo set is that of `top`
      best = std::max(best, std::min(top, c_star * q));
    }
  }
  // F above every capacity: no solo option; q = ceil(F / largest cap).
  for (double q = 2; cover_weight(perf, std::numeric_limits<double>::infinity(), q) >= num_layers; ++q) {
    best = std::max(best, caps.back() * q);
  }
  return best;
}

double placement_upper_bound(const PerfModel& perf, int num_layers) {
  return std::min(layer_supply_bound(perf, num_layers), cover_count_bound(perf, num_layers));
}

}  // namespace helix
