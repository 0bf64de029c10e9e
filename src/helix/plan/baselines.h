// The paper's baseline placements (planner spec §5), each a Planner:
//  * Petals (§5.1): nodes in a seeded random order each take their maximum number
//    of layers at the window whose current coverage is weakest. Bit-compatible with
//    the paper's generator (Python's random.shuffle ported in core/python_random.h).
//  * Swarm (§5.2): equal stages of w layers (w the largest divisor of L that every
//    node can hold); nodes, strongest first, join the stage with the least capacity.
//  * Homogeneous (§5.3): machine types by k*T(k) at full load, nodes chained into
//    whole pipelines greedily; a final incomplete pipeline is left unused.
//  * Separate pipelines (§5.4): one pipeline per GPU type, layers split as evenly as
//    possible (smaller shares first). The paper wrote these by hand and squeezed
//    every node of a type into one pipeline even when that overfills memory
//    ("force set"); helix generates them, and by default builds as many pipelines
//    per type as memory allows, or exactly the paper's shape with overcommit.
#pragma once

#include "helix/plan/planner.h"

namespace helix {

class PetalsPlanner final : public Planner {
 public:
  std::string name() const override { return "petals"; }
  std::string description() const override;
  Placement plan(const PlanContext& ctx) const override;
};

class SwarmPlanner final : public Planner {
 public:
  std::string name() const override { return "swarm"; }
  std::string description() const override;
  Placement plan(const PlanContext& ctx) const override;
  // Layers per stage: the largest divisor of num_layers that is <= every node's max.
  static int stage_width(const PlanContext& ctx);
};

class HomogeneousPlanner final : public Planner {
 public:
  std::string name() const override { return "homogeneous"; }
  std::string description() const override;
  Placement plan(const PlanContext& ctx) const override;
};

class SeparatePipelinesPlanner final : public Planner {
 public:
  // paper_shape: one pipeline through ALL nodes of each type, as the paper's files
  // (needs a PerfModel built with allow_overcommit when nodes overfill).
  explicit SeparatePipelinesPlanner(bool paper_shape = false) : paper_shape_(paper_shape) {}
  std::string name() const override { return "separate"; }
  std::string description() const override;
  Placement plan(const PlanContext& ctx) const override;

 private:
  bool paper_shape_;
};

// Splits `num_layers` over `parts` consecutive shares as evenly as possible,
// smaller shares first (80 over 12 -> 6,6,6,6,7,...,7). Returns the share sizes.
std::vector<int> even_split(int num_layers, int parts);

}  // namespace helix
