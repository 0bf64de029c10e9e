#include "helix/sched/iwrr.h"

#include "helix/core/error.h"

namespace helix::sched {

Iwrr::Iwrr(std::vector<double> capacities)
    : capacities_(std::move(capacities)), loads_(capacities_.size(), 0.0) {}

int Iwrr::choose(double work, std::span<const char> allowed) {
  if (allowed.size() != capacities_.size()) fail("iwrr: mask has {} entries, expected {}", allowed.size(), capacities_.size());
  int best = -1;
  double best_load = 0;
  for (std::size_t i = 0; i < capacities_.size(); ++i) {
    if (!allowed[i] || !(capacities_[i] > 0)) continue;
    const double after = loads_[i] + work / capacities_[i];
    if (best < 0 || after < best_load) {  // strict: the first index wins ties
      best = static_cast<int>(i);
      best_load = after;
    }
  }
  if (best >= 0) add(work, best);
  return best;
}

void Iwrr::add(double work, int index) {
  const auto i = static_cast<std::size_t>(index);
  if (capacities_.at(i) > 0) loads_[i] += work / capacities_[i];
}

void Iwrr::restore(double work, int index) {
  const auto i = static_cast<std::size_t>(index);
  if (capacities_.at(i) > 0) loads_[i] -= work / capacities_[i];
}

}  // namespace helix::sched
