// helix's port of networkx's preflow_push against networkx itself: the fixtures in
// tests/fixtures/networkx/ hold networkx's per-edge flows (with insertion-ordered
// level sets, see make_fixtures.py) for small hand graphs and for the paper
// simulator's flow graphs of the three published 70B ILP layouts.
#include "helix/flow/networkx_flow.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "helix/cluster/paper_import.h"
#include "helix/core/error.h"
#include "helix/model/model_spec.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/paper_solution.h"
#include "support/test_support.h"

namespace helix {
namespace {

struct Fixture {
  std::string name;
  int num_nodes = 0, source = 0, sink = 0;
  std::vector<std::string> vertex;
  std::vector<NxEdge> edges;
  std::vector<double> flow;
  double value = 0;
  std::string paper;  // artifact folder, for the paper graphs
};

std::filesystem::path fixture_dir() { return test::source_dir() / "tests" / "fixtures" / "networkx"; }

Fixture read_fixture(const std::filesystem::path& path) {
  Fixture f;
  f.name = path.stem().string();
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string tag;
    words >> tag;
    if (tag.empty() || tag[0] == '#') continue;
    if (tag == "graph") {
      words >> f.num_nodes >> f.source >> f.sink;
    } else if (tag == "vertex") {
      int index = 0;
      std::string name;
      words >> index >> name;
      f.vertex.push_back(name);
    } else if (tag == "edge") {
      // strtod, not >>: it reads "inf" and every repr() float exactly.
      NxEdge e;
      std::string cap, flow;
      words >> e.tail >> e.head >> cap >> flow;
      e.capacity = std::strtod(cap.c_str(), nullptr);
      f.edges.push_back(e);
      f.flow.push_back(std::strtod(flow.c_str(), nullptr));
    } else if (tag == "value") {
      std::string value;
      words >> value;
      f.value = std::strtod(value.c_str(), nullptr);
    } else if (tag == "paper") {
      words >> f.paper;
    }
  }
  return f;
}

std::vector<Fixture> all_fixtures() {
  std::vector<Fixture> out;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(fixture_dir())) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) out.push_back(read_fixture(file));
  return out;
}

// networkx's results are compared to 1e-9 relative; in practice they agree bit for bit.
void expect_close(double expected, double actual, const std::string& what) {
  EXPECT_NEAR(actual, expected, 1e-9 * std::max(1.0, std::abs(expected))) << what;
}

TEST(NetworkxFlow, FixturesExist) {
  const std::vector<Fixture> fixtures = all_fixtures();
  int paper = 0;
  for (const Fixture& f : fixtures) paper += f.paper.empty() ? 0 : 1;
  EXPECT_GE(fixtures.size(), 6u);
  EXPECT_EQ(paper, 3);
}

TEST(NetworkxFlow, EveryFixtureGraphGetsNetworkxsSplit) {
  for (const Fixture& f : all_fixtures()) {
    ASSERT_EQ(static_cast<int>(f.vertex.size()), f.num_nodes) << f.name;
    const NxFlowResult r = networkx_max_flow(f.num_nodes, f.edges, f.source, f.sink);
    expect_close(f.value, r.value, f.name + " value");
    ASSERT_EQ(r.flow.size(), f.flow.size()) << f.name;
    for (std::size_t e = 0; e < f.flow.size(); ++e) {
      expect_close(f.flow[e], r.flow[e],
                   f.name + " edge " + f.vertex.at(static_cast<std::size_t>(f.edges[e].tail)) + " -> " +
                       f.vertex.at(static_cast<std::size_t>(f.edges[e].head)));
    }
  }
}

// The paper's vertex names of an arc (planner spec §3): node index i is uid i + 2.
std::pair<std::string, std::string> upstream_names(const FlowArc& arc) {
  const std::string n = std::to_string(arc.node + 2);
  auto out = [](int e) { return e == kCoordinator ? std::string("0_out") : std::to_string(e + 2) + "_out"; };
  auto in = [](int e) { return e == kCoordinator ? std::string("1_in") : std::to_string(e + 2) + "_in"; };
  switch (arc.kind) {
    case ArcKind::CoordinatorOut: return {"source", "0_out"};
    case ArcKind::CoordinatorIn: return {"1_in", "sink"};
    case ArcKind::NicIn: return {n + "_in", n + "_start"};
    case ArcKind::Compute: return {n + "_start", n + "_end"};
    case ArcKind::NicOut: return {n + "_end", n + "_out"};
    case ArcKind::Link: return {out(arc.from), in(arc.to)};
  }
  return {"?", "?"};
}

struct PaperGraph {
  PaperSimulatorCluster sim;
  ModelSpec model;
  PerfModel perf;
  Placement placement;
};

PaperGraph paper_graph(const std::string& dir) {
  PaperSimulatorCluster sim = import_paper_simulator_cluster(test::artifact(dir + "/simulator_cluster.ini"));
  ModelSpec model = model_preset("llama2-70b");
  PerfModel perf = PerfModel::build(sim.cluster, model);
  Placement placement = import_paper_solution(test::artifact(dir + "/ilp_sol.ini"), sim.cluster, model.num_layers);
  return PaperGraph{std::move(sim), std::move(model), std::move(perf), std::move(placement)};
}

const char* const kPaperDirs[] = {"high_heterogeneity/layout_llama70b/ilp", "single_cluster/layout_llama70b/ilp",
                                  "distributed_clusters/layout_llama70b/ilp"};

TEST(NetworkxFlow, PaperSimulatorGraphsGetNetworkxsSplit) {
  for (const Fixture& f : all_fixtures()) {
    if (f.paper.empty()) continue;
    SCOPED_TRACE(f.name);
    PaperGraph g = paper_graph(f.paper);
    const FlowSolution nx =
        solve_simulator_flow_networkx(g.sim.cluster, g.model, g.perf, g.placement.ranges, g.sim.links);
    const FlowSolution own = solve_simulator_flow(g.sim.cluster, g.model, g.perf, g.placement.ranges, g.sim.links);
    // Same arcs and min cut as helix's own solve, the same value.
    ASSERT_EQ(nx.arcs.size(), own.arcs.size());
    EXPECT_EQ(nx.min_cut, own.min_cut);
    EXPECT_NEAR(nx.max_flow_tps, own.max_flow_tps, 1e-6 * own.max_flow_tps);
    // The graph is the fixture's (names, order, capacities), the split networkx's.
    ASSERT_EQ(nx.arcs.size(), f.edges.size());
    expect_close(f.value, nx.max_flow_tps, "value");
    for (std::size_t a = 0; a < nx.arcs.size(); ++a) {
      const FlowArc& arc = nx.arcs[a];
      EXPECT_EQ(arc.kind, own.arcs[a].kind);
      EXPECT_EQ(arc.capacity_tps, own.arcs[a].capacity_tps);
      const auto [tail, head] = upstream_names(arc);
      const std::string what = tail + " -> " + head;
      EXPECT_EQ(tail, f.vertex.at(static_cast<std::size_t>(f.edges[a].tail))) << a;
      EXPECT_EQ(head, f.vertex.at(static_cast<std::size_t>(f.edges[a].head))) << a;
      EXPECT_DOUBLE_EQ(arc.capacity_tps, f.edges[a].capacity) << what;
      expect_close(f.flow[a], arc.flow_tps, what);
      EXPECT_LE(arc.flow_tps, arc.capacity_tps) << what;
    }
  }
}

// On the 42-node high-heterogeneity ILP graph networkx's split is not helix's own
// push-relabel split (same value, different routing weights): the reason this port exists.
TEST(NetworkxFlow, HighHeterogeneitySplitDiffersFromHelixsOwn) {
  PaperGraph g = paper_graph(kPaperDirs[0]);
  const FlowSolution nx = solve_simulator_flow_networkx(g.sim.cluster, g.model, g.perf, g.placement.ranges, g.sim.links);
  const FlowSolution own = solve_simulator_flow(g.sim.cluster, g.model, g.perf, g.placement.ranges, g.sim.links);
  EXPECT_NEAR(nx.max_flow_tps, 4137.548, 1e-3);
  int differing = 0;
  for (std::size_t a = 0; a < nx.arcs.size(); ++a) {
    if (std::abs(nx.arcs[a].flow_tps - own.arcs[a].flow_tps) > 1e-3) ++differing;
  }
  EXPECT_GT(differing, 0);
}

TEST(NetworkxFlow, RejectsWhatNetworkxRejects) {
  const std::vector<NxEdge> edges = {{0, 1, 1.0}};
  EXPECT_THROW(networkx_max_flow(2, edges, 0, 0), Error);
  EXPECT_THROW(networkx_max_flow(2, edges, 0, 2), Error);
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<NxEdge> unbounded = {{0, 1, inf}, {1, 2, inf}, {0, 2, 1.0}};
  EXPECT_THROW(networkx_max_flow(3, unbounded, 0, 2), Error);
}

TEST(NetworkxFlow, UnreachableSinkGivesZero) {
  const std::vector<NxEdge> edges = {{0, 1, 1.0}, {2, 1, 1.0}};
  const NxFlowResult r = networkx_max_flow(3, edges, 0, 2);
  EXPECT_EQ(r.value, 0);
  EXPECT_EQ(r.flow, (std::vector<double>{0, 0}));
}

// Writes the paper graphs for make_fixtures.py (see its usage); run on demand.
TEST(NetworkxFlow, DISABLED_WritePaperGraphs) {
  const char* dir = std::getenv("HELIX_NX_GRAPH_DIR");
  ASSERT_NE(dir, nullptr) << "set HELIX_NX_GRAPH_DIR";
  std::filesystem::create_directories(dir);
  for (const char* paper : kPaperDirs) {
    PaperGraph g = paper_graph(paper);
    const FlowSolution s = solve_simulator_flow(g.sim.cluster, g.model, g.perf, g.placement.ranges, g.sim.links);
    const std::string stem = std::string(paper).substr(0, std::string(paper).find('/'));
    std::FILE* out = std::fopen((std::filesystem::path(dir) / (stem + ".graph")).c_str(), "w");
    ASSERT_NE(out, nullptr);
    std::fprintf(out, "paper %s\n", paper);
    for (const FlowArc& arc : s.arcs) {
      const auto [tail, head] = upstream_names(arc);
      std::fprintf(out, "%s %s %.17g\n", tail.c_str(), head.c_str(), arc.capacity_tps);
    }
    std::fclose(out);
  }
}

}  // namespace
}  // namespace helix
