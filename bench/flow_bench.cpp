// Cost of one placement evaluation (PlacementEvaluator::max_flow, the planner's
// inner loop, planner spec §2.12) on
//  * a 42-node cluster shaped like the paper's high-heterogeneity one (7 GPU
//    types, complete graph at 1e9 B/s) with a Swarm-like placement (20 stages of 4
//    layers of an 80-layer model, spec §5.2), and
//  * a generated 1,000-node cluster (5 regions, fast links inside a region, sparse
//    slow links across) with a staged placement.
// Baselines measured in the same run, so results read as ratios:
//  * CopyArcs     — copy the graph's arc list (from, to, capacity) into a warm buffer;
//  * AddArcs      — MaxFlow::reset + add_arc for every arc (filling the input arrays);
//  * SolveOnly    — AddArcs + MaxFlow::solve(ValueOnly): the max flow without the
//                   evaluator's graph construction from the cluster.
// A global operator new counter reports allocations per evaluation after warm-up.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/cluster/paper_import.h"
#include "helix/plan/paper_solution.h"
#include "helix/flow/flow_network.h"
#include "helix/flow/max_flow.h"
#include "helix/model/layer_range.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"

namespace {
std::int64_t g_allocations = 0;  // single-threaded benchmarks
}  // namespace

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC cannot see that the replaced operator new above is what allocated p.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace helix {
namespace {

constexpr int kLayers = 80;
constexpr int kStageLayers = 4;

// Seven machine types; T(k) = base / k^0.95 (falls with k, like the paper's
// tables), K = max layers. Bases put A100(8) near 2,850 and T4(4) near 760 tokens/s.
struct TypeShape {
  const char* name;
  double base;
  int max_layers;
};
constexpr TypeShape kTypes[] = {{"A100", 20500, 20}, {"L4x2", 11500, 16}, {"L4", 3400, 8}, {"T4x4", 7000, 12},
                                {"T4x2", 4300, 8},  {"T4", 2850, 4},     {"V100", 3500, 4}};
constexpr int kHighHetCounts[] = {4, 6, 8, 4, 6, 10, 4};  // 42 nodes

struct Setup {
  ClusterSpec cluster;
  ModelSpec model;
  PerfModel perf;
  std::vector<LayerRange> ranges;
};

ModelSpec llama70b_like() {
  ModelSpec m;
  m.name = "llama2-70b-like";
  m.num_layers = kLayers;
  m.token_size_bytes = 2;
  m.activation_bytes_per_token = 16384;
  return m;
}

void add_types(ClusterSpec& c) {
  for (const TypeShape& t : kTypes) {
    GpuType g;
    g.name = t.name;
    g.nic_in_Bps = 1.25e9;
    g.nic_out_Bps = 1.25e9;
    c.gpu_types.push_back(g);
  }
  c.coordinator.nic_in_Bps = 1.25e9;
  c.coordinator.nic_out_Bps = 1.25e9;
}

NodePerf shaped_perf(const TypeShape& t) {
  NodePerf p;
  p.max_layers = t.max_layers;
  for (int k = 1; k <= t.max_layers; ++k) {
    p.throughput_tps.push_back(t.base / std::pow(k, 0.95));
    p.capacity_tps.push_back(std::min(p.throughput_tps.back(), 1.25e9 / 16384));
    p.kv_capacity.push_back(1e5);
  }
  return p;
}

PerfModel perf_of(const ClusterSpec& c) {
  std::vector<NodePerf> nodes;
  for (const ComputeNode& n : c.nodes) nodes.push_back(shaped_perf(kTypes[n.gpu_type]));
  return PerfModel::from_tables(kLayers, std::move(nodes));
}

// Swarm (spec §5.2): nodes by cap(w) descending (ties: larger index first), each
// to the stage with the least throughput so far.
std::vector<LayerRange> swarm_placement(const PerfModel& perf) {
  const int n = perf.num_nodes();
  std::vector<std::pair<double, int>> items;
  for (int i = 0; i < n; ++i) items.emplace_back(perf.capacity(i, kStageLayers), i);
  std::sort(items.rbegin(), items.rend());
  std::vector<double> stage_tps(kLayers / kStageLayers, 0.0);
  std::vector<LayerRange> ranges(static_cast<std::size_t>(n));
  for (const auto& [cap, i] : items) {
    const auto st = std::min_element(stage_tps.begin(), stage_tps.end()) - stage_tps.begin();
    const int start = static_cast<int>(st) * kStageLayers;
    ranges[static_cast<std::size_t>(i)] = {start, start + kStageLayers};
    stage_tps[static_cast<std::size_t>(st)] += cap;
  }
  return ranges;
}

Setup high_heterogeneity_42() {
  Setup s{{}, llama70b_like(), {}, {}};
  s.cluster.name = "high-het-42-like";
  s.cluster.regions = {"r0"};
  add_types(s.cluster);
  for (int t = 0; t < 7; ++t) {
    for (int j = 0; j < kHighHetCounts[t]; ++j) {
      s.cluster.nodes.push_back({"n" + std::to_string(s.cluster.nodes.size()), t, 0});
    }
  }
  for (int a = kCoordinator; a < s.cluster.num_nodes(); ++a) {
    for (int b = kCoordinator; b < s.cluster.num_nodes(); ++b) {
      if (a != b) s.cluster.links.push_back({a, b, 1e9, 1e-3});
    }
  }
  s.cluster.index_links();
  s.perf = perf_of(s.cluster);
  s.ranges = swarm_placement(s.perf);
  return s;
}

// 1,000 nodes in 5 regions of 200; complete graph inside a region (1.0–1.25 GB/s),
// 20 random peers per node in other regions (12.5–125 MB/s, both directions), the
// coordinator in region 0 (fast to it, 100 MB/s elsewhere).
Setup generated_1000() {
  constexpr int kRegions = 5, kPerRegion = 200, kRemotePeers = 20;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Setup s{{}, llama70b_like(), {}, {}};
  s.cluster.name = "generated-1000";
  add_types(s.cluster);
  for (int r = 0; r < kRegions; ++r) s.cluster.regions.push_back("region" + std::to_string(r));
  for (int i = 0; i < kRegions * kPerRegion; ++i) {
    s.cluster.nodes.push_back({"n" + std::to_string(i), static_cast<int>(unit(rng) * 7), i / kPerRegion});
  }
  const int n = s.cluster.num_nodes();
  std::vector<char> linked(static_cast<std::size_t>(n) * n, 0);
  auto add = [&](int a, int b, double bw) {
    if (a == b || linked[static_cast<std::size_t>(a) * n + b]) return;
    linked[static_cast<std::size_t>(a) * n + b] = 1;
    s.cluster.links.push_back({a, b, bw, 1e-3});
  };
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      if (a / kPerRegion == b / kPerRegion) add(a, b, 1e9 + 2.5e8 * unit(rng));
    }
    for (int p = 0; p < kRemotePeers; ++p) {
      const int b = static_cast<int>(unit(rng) * n);
      if (b / kPerRegion == a / kPerRegion) continue;
      const double bw = 1.25e7 + 1.125e8 * unit(rng);
      add(a, b, bw);
      add(b, a, bw);
    }
  }
  for (int i = 0; i < n; ++i) {
    const double bw = i / kPerRegion == 0 ? 1e9 : 1e8;
    s.cluster.links.push_back({kCoordinator, i, bw, 1e-3});
    s.cluster.links.push_back({i, kCoordinator, bw, 1e-3});
  }
  s.cluster.index_links();
  s.perf = perf_of(s.cluster);
  s.ranges = swarm_placement(s.perf);
  return s;
}

// Built on first use only, so that a filtered run does not pay for the other one.
const Setup& setup(int which) {
  if (which == 42) {
    static const Setup small = high_heterogeneity_42();
    return small;
  }
  static const Setup large = generated_1000();
  return large;
}

// The planner graph as a plain arc list, with the evaluator's vertex numbering
// (0 source, 1 sink, node i = 2+2i in, 3+2i out), for the baselines.
struct PlainArc {
  int from, to;
  double cap;
};

std::vector<PlainArc> plain_arcs(const Setup& s) {
  const FlowSolution sol = solve_planner_flow(s.cluster, s.model, s.perf, s.ranges);
  auto in = [](int e) { return e == kCoordinator ? 1 : 2 + 2 * e; };
  auto out = [](int e) { return e == kCoordinator ? 0 : 3 + 2 * e; };
  std::vector<PlainArc> arcs;
  for (const FlowArc& a : sol.arcs) {
    if (a.kind == ArcKind::Compute) arcs.push_back({in(a.node), out(a.node), a.capacity_tps});
    if (a.kind == ArcKind::Link) arcs.push_back({out(a.from), in(a.to), a.capacity_tps});
  }
  return arcs;
}

// Call right after the timed loop, before anything else allocates.
void report(benchmark::State& state, std::int64_t allocations, std::size_t arcs, double value) {
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(allocations) / static_cast<double>(state.iterations()));
  state.counters["arcs"] = static_cast<double>(arcs);
  state.counters["max_flow_tps"] = value;
}

void BM_Evaluate(benchmark::State& state) {
  const Setup& s = setup(static_cast<int>(state.range(0)));
  PlacementEvaluator evaluator(s.cluster, s.model, s.perf);
  double value = evaluator.max_flow(s.ranges);  // warm-up: buffers reach their size
  const std::int64_t before = g_allocations;
  for (auto _ : state) {
    value = evaluator.max_flow(s.ranges);
    benchmark::DoNotOptimize(value);
  }
  const std::int64_t allocations = g_allocations - before;
  report(state, allocations, plain_arcs(s).size(), value);
}

void BM_SolveOnly(benchmark::State& state) {
  const Setup& s = setup(static_cast<int>(state.range(0)));
  const std::vector<PlainArc> arcs = plain_arcs(s);
  double bound = 0;
  for (const PlainArc& a : arcs) {
    if (a.from >= 2 && a.from % 2 == 0 && a.to == a.from + 1) bound += a.cap;  // compute arcs
  }
  MaxFlow flow;
  double value = 0;
  auto run = [&] {
    flow.reset(2 + 2 * s.cluster.num_nodes());
    for (const PlainArc& a : arcs) flow.add_arc(a.from, a.to, a.cap);
    value = flow.solve(0, 1, MaxFlow::Output::ValueOnly, bound);
  };
  run();
  const std::int64_t before = g_allocations;
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(value);
  }
  report(state, g_allocations - before, arcs.size(), value);
}

void BM_AddArcs(benchmark::State& state) {
  const Setup& s = setup(static_cast<int>(state.range(0)));
  const std::vector<PlainArc> arcs = plain_arcs(s);
  MaxFlow flow;
  auto run = [&] {
    flow.reset(2 + 2 * s.cluster.num_nodes());
    for (const PlainArc& a : arcs) flow.add_arc(a.from, a.to, a.cap);
  };
  run();
  const std::int64_t before = g_allocations;
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  report(state, g_allocations - before, arcs.size(), 0);
}

void BM_CopyArcs(benchmark::State& state) {
  const Setup& s = setup(static_cast<int>(state.range(0)));
  const std::vector<PlainArc> arcs = plain_arcs(s);
  std::vector<PlainArc> copy(arcs.size());
  const std::int64_t before = g_allocations;
  for (auto _ : state) {
    std::copy(arcs.begin(), arcs.end(), copy.begin());
    benchmark::DoNotOptimize(copy.data());
    benchmark::ClobberMemory();
  }
  report(state, g_allocations - before, arcs.size(), 0);
}

// The full solve with flows, min cut and FlowArc descriptions (allocates).
void BM_SolvePlannerFlow(benchmark::State& state) {
  const Setup& s = setup(static_cast<int>(state.range(0)));
  double value = 0;
  for (auto _ : state) {
    value = solve_planner_flow(s.cluster, s.model, s.perf, s.ranges).max_flow_tps;
    benchmark::DoNotOptimize(value);
  }
  state.counters["max_flow_tps"] = value;
}

// The paper's own 42-node high-heterogeneity cluster (imported from its .ini
// files with the paper's T(k)) and its published Swarm (arg 0) or MILP (arg 1)
// placement. Needs ../shared/data/helix; skipped without it.
void BM_EvaluatePaper42(benchmark::State& state) {
  const std::string root = std::string(HELIX_SHARED_DATA) + "/artifact/high_heterogeneity/";
  ClusterSpec cluster;
  try {
    cluster = import_paper_cluster(root + "config/cluster42.ini", root + "config/machine_profiles.ini");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const ModelSpec model = model_preset("llama2-70b");
  const PerfModel perf = PerfModel::build(cluster, model);
  const char* sol = state.range(0) == 0 ? "layout_llama70b/swarm/swarm_sol.ini"
                                        : "layout_llama70b/ilp/ilp_sol.ini";
  const auto ranges = import_paper_solution(root + sol, cluster, model.num_layers).ranges;
  PlacementEvaluator evaluator(cluster, model, perf);
  double value = evaluator.max_flow(ranges);
  const std::int64_t before = g_allocations;
  for (auto _ : state) {
    value = evaluator.max_flow(ranges);
    benchmark::DoNotOptimize(value);
  }
  const std::int64_t allocations = g_allocations - before;
  state.counters["allocs_per_iter"] =
      benchmark::Counter(static_cast<double>(allocations) / static_cast<double>(state.iterations()));
  state.counters["max_flow_tps"] = value;
}

BENCHMARK(BM_Evaluate)->Arg(42)->Arg(1000);
BENCHMARK(BM_EvaluatePaper42)->Arg(0)->Arg(1);
BENCHMARK(BM_SolveOnly)->Arg(42)->Arg(1000);
BENCHMARK(BM_AddArcs)->Arg(42)->Arg(1000);
BENCHMARK(BM_CopyArcs)->Arg(42)->Arg(1000);
BENCHMARK(BM_SolvePlannerFlow)->Arg(42)->Arg(1000);

}  // namespace
}  // namespace helix

BENCHMARK_MAIN();
