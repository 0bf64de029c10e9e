// MaxFlow against an independent Edmonds–Karp on seeded random graphs, plus the
// properties the router and the planner rely on: a valid flow, cut = value,
// determinism, and reuse of one object across graphs.
#include "helix/flow/max_flow.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "helix/core/error.h"
#include "unit/flow/reference_max_flow.h"

namespace helix {
namespace {

using test::Arc;
using test::edmonds_karp;
using test::Graph;

// Capacities: mostly log-uniform over 1e-3 .. 1e10 when `wild`, else 1 .. 100;
// some zeros and parallel/antiparallel arcs come for free.
Graph random_graph(std::uint64_t seed, bool wild) {
  std::mt19937_64 rng(seed);
  Graph g;
  g.n = std::uniform_int_distribution<int>(2, 24)(rng);
  const int m = std::uniform_int_distribution<int>(1, g.n * 5)(rng);
  std::uniform_int_distribution<int> vertex(0, g.n - 1);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int e = 0; e < m; ++e) {
    double cap = wild ? std::pow(10.0, -3.0 + 13.0 * unit(rng)) : std::floor(1 + 100 * unit(rng));
    if (unit(rng) < 0.05) cap = 0;
    g.arcs.push_back({vertex(rng), vertex(rng), cap});
  }
  return g;
}

double solve(MaxFlow& mf, const Graph& g, MaxFlow::Output output = MaxFlow::Output::FlowAndCut) {
  mf.reset(g.n);
  for (const Arc& a : g.arcs) mf.add_arc(a.from, a.to, a.cap);
  return mf.solve(0, g.n - 1, output);
}

// Tolerance scale: the value is exact up to the fixed-point resolution, which is
// relative to the bound min(out of source, into sink) (max_flow.h).
double tolerance(const Graph& g) {
  double out = 0, in = 0;
  for (const Arc& a : g.arcs) {
    if (a.from == 0 && a.to != 0) out += a.cap;
    if (a.to == g.n - 1 && a.from != g.n - 1) in += a.cap;
  }
  return 1e-9 * std::max(1.0, std::min(out, in));
}

void expect_valid_flow_and_cut(const MaxFlow& mf, const Graph& g, double value) {
  const int s = 0, t = g.n - 1;
  const double tol = tolerance(g);
  std::vector<double> net(static_cast<std::size_t>(g.n), 0.0);
  double cut = 0;
  for (int a = 0; a < mf.num_arcs(); ++a) {
    const double f = mf.flow(a);
    EXPECT_GE(f, 0.0);
    EXPECT_LE(f, g.arcs[static_cast<std::size_t>(a)].cap);
    net[static_cast<std::size_t>(mf.arc_from(a))] -= f;
    net[static_cast<std::size_t>(mf.arc_to(a))] += f;
    if (mf.crosses_cut(a)) {  // saturated
      cut += mf.capacity(a);
      EXPECT_NEAR(f, mf.capacity(a), tol);
    }
    // Arcs back into the source side carry nothing in a max flow.
    if (!mf.on_source_side(mf.arc_from(a)) && mf.on_source_side(mf.arc_to(a))) {
      EXPECT_EQ(f, 0.0);
    }
  }
  for (int v = 0; v < g.n; ++v) {
    if (v != s && v != t) {
      EXPECT_NEAR(net[static_cast<std::size_t>(v)], 0.0, tol) << "vertex " << v;
    }
  }
  EXPECT_NEAR(net[static_cast<std::size_t>(t)], value, tol);
  EXPECT_NEAR(-net[static_cast<std::size_t>(s)], value, tol);
  EXPECT_TRUE(mf.on_source_side(s));
  EXPECT_FALSE(mf.on_source_side(t));
  EXPECT_NEAR(cut, value, tol);
}

TEST(MaxFlow, MatchesEdmondsKarpOnRandomGraphs) {
  MaxFlow mf;  // one object for all graphs: buffers are reused
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    const Graph g = random_graph(seed, false);
    const double expected = edmonds_karp(g, 0, g.n - 1);
    const double value = solve(mf, g);
    ASSERT_NEAR(value, expected, tolerance(g)) << "seed " << seed;
    expect_valid_flow_and_cut(mf, g, value);
  }
}

TEST(MaxFlow, MatchesEdmondsKarpWithWildlyMixedCapacities) {
  MaxFlow mf;
  for (std::uint64_t seed = 1000; seed < 1400; ++seed) {
    const Graph g = random_graph(seed, true);
    const double expected = edmonds_karp(g, 0, g.n - 1);
    const double value = solve(mf, g);
    ASSERT_NEAR(value, expected, tolerance(g)) << "seed " << seed;
    expect_valid_flow_and_cut(mf, g, value);
  }
}

// Bigger sparse graphs, so that the periodic global relabel and the gap heuristic run.
TEST(MaxFlow, MatchesEdmondsKarpOnLargerGraphs) {
  MaxFlow mf;
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> vertex(0, 149);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    Graph g{150, {}};
    for (int e = 0; e < 900; ++e) {
      g.arcs.push_back({vertex(rng), vertex(rng), seed % 2 ? std::pow(10.0, -3.0 + 13.0 * unit(rng)) : 1 + std::floor(50 * unit(rng))});
    }
    const double value = solve(mf, g);
    ASSERT_NEAR(value, edmonds_karp(g, 0, g.n - 1), tolerance(g)) << "seed " << seed;
    expect_valid_flow_and_cut(mf, g, value);
  }
}

TEST(MaxFlow, ValueOnlyGivesTheSameValue) {
  MaxFlow full, value_only;
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    const Graph g = random_graph(seed, seed % 2 == 0);
    EXPECT_EQ(solve(full, g), solve(value_only, g, MaxFlow::Output::ValueOnly)) << "seed " << seed;
  }
}

TEST(MaxFlow, DeterministicBitForBit) {
  MaxFlow a, b;
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const Graph g = random_graph(seed, true);
    const double va = solve(a, g);
    solve(b, random_graph(seed + 777, true));  // dirty b's buffers with another graph first
    const double vb = solve(b, g);
    ASSERT_EQ(std::memcmp(&va, &vb, sizeof va), 0);
    for (int e = 0; e < a.num_arcs(); ++e) {
      const double fa = a.flow(e), fb = b.flow(e);
      ASSERT_EQ(std::memcmp(&fa, &fb, sizeof fa), 0) << "seed " << seed << " arc " << e;
    }
  }
}

// The shape of helix's planner graphs: huge coordinator arcs, small node arcs.
TEST(MaxFlow, CoordinatorArcsDoNotSwampNodeCapacities) {
  // source=0, sink=1, node i: in 2+2i, out 3+2i; two stages of two nodes.
  const double node_caps[4] = {757.8529, 531.7031, 1289.5557, 100.25};
  MaxFlow mf;
  mf.reset(10);
  for (int i = 0; i < 4; ++i) mf.add_arc(2 + 2 * i, 3 + 2 * i, node_caps[i]);
  for (int i = 0; i < 2; ++i) {
    mf.add_arc(0, 2 + 2 * i, 5e8);
    mf.add_arc(3 + 2 * (i + 2), 1, 5e8);
    for (int j = 2; j < 4; ++j) mf.add_arc(3 + 2 * i, 2 + 2 * j, 61035.15625);
  }
  const double value = mf.solve(0, 1, MaxFlow::Output::FlowAndCut, 757.8529 + 531.7031 + 1289.5557 + 100.25);
  EXPECT_NEAR(value, 757.8529 + 531.7031, 1e-9);
  for (int a = 0; a < 2; ++a) EXPECT_TRUE(mf.crosses_cut(a)) << a;  // stage 0 binds
  for (int a = 2; a < mf.num_arcs(); ++a) EXPECT_FALSE(mf.crosses_cut(a)) << a;
}

TEST(MaxFlow, ClampedArcsNeverAppearInTheCut) {
  // A single node whose coordinator arcs are a million times its capacity.
  MaxFlow mf;
  mf.reset(4);
  mf.add_arc(0, 2, 5e8);
  mf.add_arc(2, 3, 1000);
  mf.add_arc(3, 1, 5e8);
  EXPECT_EQ(mf.solve(0, 1, MaxFlow::Output::FlowAndCut, 1000), 1000);
  EXPECT_FALSE(mf.crosses_cut(0));
  EXPECT_TRUE(mf.crosses_cut(1));
  EXPECT_FALSE(mf.crosses_cut(2));
  EXPECT_EQ(mf.flow(0), 1000);
}

TEST(MaxFlow, TinyBottleneckBetweenHugeArcs) {
  MaxFlow mf;
  mf.reset(4);
  mf.add_arc(0, 2, 1e10);
  mf.add_arc(2, 3, 1e-3);
  mf.add_arc(3, 1, 1e10);
  EXPECT_NEAR(mf.solve(0, 1), 1e-3, 1e-8);  // resolution ~ 2e10 · 2^-62 per arc
  EXPECT_NEAR(mf.solve(0, 1, MaxFlow::Output::FlowAndCut, 1e-3), 1e-3, 1e-18);  // a tight bound is exact
  EXPECT_TRUE(mf.crosses_cut(1));
}

TEST(MaxFlow, DisconnectedAndDegenerateNetworks) {
  MaxFlow mf;
  mf.reset(3);
  mf.add_arc(0, 2, 5);
  mf.add_arc(2, 2, 7);  // self-loop
  EXPECT_EQ(mf.solve(0, 1), 0);
  EXPECT_EQ(mf.flow(0), 0);
  EXPECT_TRUE(mf.on_source_side(2));
  EXPECT_FALSE(mf.on_source_side(1));

  mf.reset(2);
  EXPECT_EQ(mf.solve(0, 1), 0);
  EXPECT_THROW(mf.solve(0, 0), Error);
  EXPECT_THROW(mf.add_arc(0, 2, 1), Error);
  EXPECT_THROW(mf.add_arc(0, 1, -1), Error);
  EXPECT_THROW(mf.add_arc(0, 1, std::nan("")), Error);
}

TEST(MaxFlow, InfiniteArcsNeedABound) {
  MaxFlow mf;
  mf.reset(3);
  mf.add_arc(0, 2, std::numeric_limits<double>::infinity());
  mf.add_arc(2, 1, std::numeric_limits<double>::infinity());
  EXPECT_THROW(mf.solve(0, 1), Error);

  mf.reset(4);
  mf.add_arc(0, 2, std::numeric_limits<double>::infinity());
  mf.add_arc(2, 3, 10);
  mf.add_arc(3, 1, std::numeric_limits<double>::infinity());
  EXPECT_EQ(mf.solve(0, 1, MaxFlow::Output::FlowAndCut, 10), 10);  // a valid bound makes it finite
  EXPECT_TRUE(mf.crosses_cut(1));

  mf.reset(3);
  mf.add_arc(0, 2, std::numeric_limits<double>::infinity());
  mf.add_arc(2, 1, 3.5);
  EXPECT_EQ(mf.solve(0, 1), 3.5);
  EXPECT_TRUE(mf.crosses_cut(1));
}

// Phase 2 must send back excess stranded behind a bottleneck deep in the graph.
TEST(MaxFlow, StrandedExcessReturnsToTheSource) {
  // 0 -> 2 -> 3 -> 4 -> 1 with a narrow last hop, and a side branch 2 -> 5 (dead end).
  MaxFlow mf;
  mf.reset(6);
  mf.add_arc(0, 2, 100);
  mf.add_arc(2, 3, 100);
  mf.add_arc(3, 4, 100);
  mf.add_arc(4, 1, 1);
  mf.add_arc(2, 5, 50);
  EXPECT_EQ(mf.solve(0, 1), 1);
  for (int a = 0; a < 4; ++a) EXPECT_EQ(mf.flow(a), 1) << a;
  EXPECT_EQ(mf.flow(4), 0);
  EXPECT_TRUE(mf.crosses_cut(3));
}

}  // namespace
}  // namespace helix
