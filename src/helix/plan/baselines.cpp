#include "helix/plan/baselines.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "helix/core/error.h"
#include "helix/core/python_random.h"

namespace helix {
namespace {

Placement start_placement(const PlanContext& ctx, const std::string& method) {
  return empty_placement(ctx.cluster, ctx.model.name, ctx.model.num_layers, method);
}

int max_layers(const PlanContext& ctx, int node) { return ctx.perf.node(node).max_layers; }

// Index of the window [a, a+w) whose sorted coverage is lexicographically
// smallest; ties keep the earliest start (spec §5.1).
int weakest_window(const std::vector<double>& cover, int w) {
  const int L = static_cast<int>(cover.size());
  auto sorted_window = [&](int a) {
    std::vector<double> v(cover.begin() + a, cover.begin() + std::min(a + w, L));
    std::sort(v.begin(), v.end());
    return v;
  };
  int best = 0;
  std::vector<double> best_vec = sorted_window(0);
  for (int a = 1; a <= L - w; ++a) {
    std::vector<double> v = sorted_window(a);
    if (v < best_vec) {
      best = a;
      best_vec = std::move(v);
    }
  }
  return best;
}

// Nodes grouped by machine type, in order of the type's first node.
std::vector<std::vector<int>> nodes_by_type(const ClusterSpec& cluster) {
  std::map<int, std::size_t> group_of_type;
  std::vector<std::vector<int>> groups;
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    int type = cluster.nodes[static_cast<std::size_t>(i)].gpu_type;
    auto [it, fresh] = group_of_type.emplace(type, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

// Chains `chain` into one pipeline over all layers, evenly split.
void assign_pipeline(Placement& p, const std::vector<int>& chain) {
  std::vector<int> shares = even_split(p.num_layers, static_cast<int>(chain.size()));
  int start = 0;
  for (std::size_t j = 0; j < chain.size(); ++j) {
    p.ranges[static_cast<std::size_t>(chain[j])] = {start, start + shares[j]};
    start += shares[j];
  }
}

std::vector<std::string> names_of(const ClusterSpec& cluster, const std::vector<int>& nodes) {
  std::vector<std::string> names;
  for (int i : nodes) names.push_back(cluster.nodes[static_cast<std::size_t>(i)].name);
  return names;
}

}  // namespace

std::vector<int> even_split(int num_layers, int parts) {
  if (parts <= 0) fail("cannot split {} layers over {} parts", num_layers, parts);
  std::vector<int> shares(static_cast<std::size_t>(parts), num_layers / parts);
  int extra = num_layers % parts;
  for (int j = parts - extra; j < parts; ++j) ++shares[static_cast<std::size_t>(j)];
  return shares;
}

// ---------------------------------------------------------------- Petals (§5.1)

std::string PetalsPlanner::description() const {
  return "Petals: nodes in seeded random order take their max layers where coverage is weakest";
}

Placement PetalsPlanner::plan(const PlanContext& ctx) const {
  Placement p = start_placement(ctx, name());
  const int L = ctx.model.num_layers;
  // (capacity at max layers, node) — shuffled, not sorted, exactly as upstream.
  std::vector<std::pair<double, int>> items;
  for (int i = 0; i < ctx.cluster.num_nodes(); ++i) {
    items.emplace_back(ctx.perf.capacity(i, max_layers(ctx, i)), i);
  }
  PythonRandom rng(ctx.seed);
  rng.shuffle(items);
  std::vector<double> cover(static_cast<std::size_t>(L), 0.0);
  for (const auto& [capacity, node] : items) {
    int w = std::min(max_layers(ctx, node), L);
    int start = weakest_window(cover, w);
    p.ranges[static_cast<std::size_t>(node)] = {start, start + w};
    for (int l = start; l < start + w; ++l) cover[static_cast<std::size_t>(l)] += capacity;
  }
  return p;
}

// ----------------------------------------------------------------- Swarm (§5.2)

std::string SwarmPlanner::description() const {
  return "Swarm: equal stages; strongest nodes first join the stage with least capacity";
}

int SwarmPlanner::stage_width(const PlanContext& ctx) {
  int limit = ctx.model.num_layers;
  for (int i = 0; i < ctx.cluster.num_nodes(); ++i) limit = std::min(limit, max_layers(ctx, i));
  for (int w = limit; w >= 1; --w) {
    if (ctx.model.num_layers % w == 0) return w;
  }
  fail("swarm: some node cannot hold even one layer of {}", ctx.model.name);
}

Placement SwarmPlanner::plan(const PlanContext& ctx) const {
  Placement p = start_placement(ctx, name());
  const int w = stage_width(ctx);
  const int stages = ctx.model.num_layers / w;
  std::vector<std::pair<double, int>> items;
  for (int i = 0; i < ctx.cluster.num_nodes(); ++i) items.emplace_back(ctx.perf.capacity(i, w), i);
  // Descending by (capacity, index): equal capacities put the larger index first.
  std::sort(items.begin(), items.end(), std::greater<>());
  std::vector<double> stage_capacity(static_cast<std::size_t>(stages), 0.0);
  for (const auto& [capacity, node] : items) {
    auto weakest = std::min_element(stage_capacity.begin(), stage_capacity.end());
    int stage = static_cast<int>(weakest - stage_capacity.begin());
    p.ranges[static_cast<std::size_t>(node)] = {stage * w, (stage + 1) * w};
    *weakest += capacity;
  }
  p.details = {{"stage_width", w}, {"stages", stages}};
  return p;
}

// ----------------------------------------------------------- Homogeneous (§5.3)

std::string HomogeneousPlanner::description() const {
  return "Homogeneous: strongest machine types first, nodes chained into whole pipelines";
}

Placement HomogeneousPlanner::plan(const PlanContext& ctx) const {
  Placement p = start_placement(ctx, name());
  const int L = ctx.model.num_layers;
  auto groups = nodes_by_type(ctx.cluster);
  auto strength = [&](const std::vector<int>& g) {
    int k = max_layers(ctx, g.front());
    return ctx.perf.capacity(g.front(), k) * k;
  };
  std::stable_sort(groups.begin(), groups.end(),
                   [&](const auto& a, const auto& b) { return strength(a) > strength(b); });
  PythonRandom rng(ctx.seed);
  std::vector<int> current;  // nodes of the pipeline being filled
  int length = 0;
  int pipelines = 0;
  for (auto& group : groups) {
    rng.shuffle(group);
    for (int node : group) {
      int k = std::min(max_layers(ctx, node), L - length);
      p.ranges[static_cast<std::size_t>(node)] = {length, length + k};
      current.push_back(node);
      length += k;
      if (length == L) {
        ++pipelines;
        current.clear();
        length = 0;
      }
    }
  }
  for (int node : current) p.ranges[static_cast<std::size_t>(node)] = {};  // incomplete: unused
  if (pipelines == 0) fail("homogeneous: the cluster cannot hold one whole copy of {}", ctx.model.name);
  p.details = {{"pipelines", pipelines}, {"unused_nodes", names_of(ctx.cluster, current)}};
  return p;
}

// ---------------------------------------------------- Separate pipelines (§5.4)

std::string SeparatePipelinesPlanner::description() const {
  return "Separate pipelines: one pipeline per GPU type, layers split evenly";
}

Placement SeparatePipelinesPlanner::plan(const PlanContext& ctx) const {
  Placement p = start_placement(ctx, name());
  const int L = ctx.model.num_layers;
  nlohmann::json pipelines = nlohmann::json::array();
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& group : nodes_by_type(ctx.cluster)) {
    const std::string& type = ctx.cluster.gpu_of(group.front()).name;
    const int n = static_cast<int>(group.size());
    int count = 1;
    if (!paper_shape_) {
      int fits = L;  // nodes of one type normally share K; take the smallest to be safe
      for (int node : group) fits = std::min(fits, max_layers(ctx, node));
      int per_pipeline = (L + fits - 1) / fits;
      count = n / per_pipeline;
      if (count == 0) {
        skipped.push_back(fmt::format("{}: {} nodes cannot hold {} layers", type, n, L));
        continue;
      }
    }
    // Deal the type's nodes, in index order, into `count` chains of near-equal length.
    std::vector<int> sizes = even_split(n, count);
    auto next = group.begin();
    for (int size : sizes) {
      std::vector<int> chain(next, next + size);
      next += size;
      assign_pipeline(p, chain);
      pipelines.push_back({{"gpu", type}, {"nodes", names_of(ctx.cluster, chain)}});
    }
  }
  if (pipelines.empty()) {
    fail("separate: no GPU type has enough memory for a whole copy of {} ({})", ctx.model.name,
         skipped.dump());
  }
  p.details = {{"pipelines", pipelines}, {"skipped_types", skipped}, {"paper_shape", paper_shape_}};
  return p;
}

}  // namespace helix
