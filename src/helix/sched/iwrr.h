// Iwrr: the Helix router's per-node choice among outbound links (planner spec
// §4.2, "IWRR"). Despite the paper's name it is a greedy "least normalised load
// after assignment": choosing adds w / cap[i] to the chosen link's load, and the
// choice minimises load[i] + w / cap[i] over the allowed links (ties: lowest
// index). With w = prompt length and cap = max-flow flow, links receive work in
// proportion to their flow, interleaved rather than in bursts. Loads never decay.
#pragma once

#include <span>
#include <vector>

namespace helix::sched {

class Iwrr {
 public:
  Iwrr() = default;
  explicit Iwrr(std::vector<double> capacities);

  // The allowed index with the least load after adding `work`, or -1 if none is
  // allowed. Adds the work to its load. Indices with capacity <= 0 are never chosen.
  int choose(double work, std::span<const char> allowed);
  void add(double work, int index);     // a decode follows a known link
  void restore(double work, int index); // undo a choose() (a rejected route)

  int size() const { return static_cast<int>(capacities_.size()); }
  double load(int index) const { return loads_.at(static_cast<std::size_t>(index)); }
  double capacity(int index) const { return capacities_.at(static_cast<std::size_t>(index)); }

 private:
  std::vector<double> capacities_;
  std::vector<double> loads_;
};

}  // namespace helix::sched
