// placement_svg (placement_svg.h): well-formed XML, every used node named,
// deterministic, escaped, and usable for a large cluster.
#include "helix/plan/placement_svg.h"

#include <gtest/gtest.h>

#include <vector>

#include "helix/flow/flow_network.h"
#include "paper_fixtures.h"
#include "unit/flow/flow_test_clusters.h"

namespace helix {
namespace {

// A tiny XML well-formedness check: tags balance and nest, attributes are quoted,
// and '&' only starts one of the five predefined entities. Returns "" or the problem.
std::string xml_problem(const std::string& xml) {
  std::vector<std::string> open;
  std::size_t i = 0;
  while (i < xml.size()) {
    if (xml[i] == '&') {
      const std::size_t semi = xml.find(';', i);
      if (semi == std::string::npos) return "bare & at " + std::to_string(i);
      const std::string entity = xml.substr(i, semi - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" && entity != "&apos;") {
        return "unknown entity " + entity;
      }
      i = semi + 1;
      continue;
    }
    if (xml[i] == '>') return "stray > at " + std::to_string(i);
    if (xml[i] != '<') {
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    char quote = 0;
    for (; end < xml.size(); ++end) {
      if (quote) {
        if (xml[end] == quote) quote = 0;
        if (xml[end] == '<') return "< inside an attribute at " + std::to_string(end);
      } else if (xml[end] == '"' || xml[end] == '\'') {
        quote = xml[end];
      } else if (xml[end] == '>') {
        break;
      }
    }
    if (end >= xml.size()) return "unclosed tag at " + std::to_string(i);
    const std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.starts_with("?") || tag.starts_with("!")) continue;
    if (tag.ends_with("/")) continue;
    const std::string name = tag.substr(tag.starts_with("/") ? 1 : 0, tag.find_first_of(" \n/", 1) - (tag.starts_with("/") ? 1 : 0));
    if (!tag.starts_with("/")) {
      open.push_back(name);
      continue;
    }
    if (open.empty() || open.back() != name) return "</" + name + "> closes " + (open.empty() ? "nothing" : open.back());
    open.pop_back();
  }
  return open.empty() ? "" : "<" + open.back() + "> never closed";
}

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

TEST(XmlChecker, CatchesBrokenDocuments) {
  EXPECT_EQ(xml_problem(R"(<a x="1"><b/><c>t &amp; u</c></a>)"), "");
  EXPECT_NE(xml_problem("<a><b></a>"), "");
  EXPECT_NE(xml_problem("<a>x & y</a>"), "");
  EXPECT_NE(xml_problem("<a>"), "");
  EXPECT_NE(xml_problem("<a>1 > 0</a>"), "");
}

struct Picture {
  ClusterSpec cluster;
  ModelSpec model = model_preset("llama2-70b");
  Placement placement;
  FlowSolution flow;
  std::string svg;

  Picture(const std::string& config, const std::string& solution) : cluster(test::paper_cluster(config)) {
    PerfModel perf = PerfModel::build(cluster, model);
    placement = test::paper_placement(solution, cluster, model);
    flow = solve_planner_flow(cluster, model, perf, placement.ranges);
    svg = placement_svg(cluster, model, placement, flow, "single-24 <ILP> & co");
  }
};

TEST(PlacementSvg, SingleClusterIlpIsWellFormedAndNamesEveryUsedNode) {
  Picture p("single_cluster/config/cluster24.ini", "single_cluster/layout_llama70b/ilp/ilp_sol.ini");
  EXPECT_EQ(xml_problem(p.svg), "");
  EXPECT_TRUE(p.svg.starts_with("<?xml"));
  EXPECT_NE(p.svg.find("single-24 &lt;ILP&gt; &amp; co — max flow 1289.56 tokens/s"), std::string::npos);
  for (int i = 0; i < p.cluster.num_nodes(); ++i) {
    if (p.placement.ranges[static_cast<std::size_t>(i)].empty()) continue;
    EXPECT_NE(p.svg.find(">" + p.cluster.nodes[static_cast<std::size_t>(i)].name + " ("), std::string::npos)
        << p.cluster.nodes[static_cast<std::size_t>(i)].name;
  }
  // The min cut (a T4 and an L4, spec §2.12) is outlined in red.
  EXPECT_GE(count(p.svg, R"(stroke="#d62728" stroke-width="2.0")"), 2);
}

TEST(PlacementSvg, Deterministic) {
  Picture a("single_cluster/config/cluster24.ini", "single_cluster/layout_llama70b/ilp/ilp_sol.ini");
  Picture b("single_cluster/config/cluster24.ini", "single_cluster/layout_llama70b/ilp/ilp_sol.ini");
  EXPECT_EQ(a.svg, b.svg);
}

TEST(PlacementSvg, HighHeterogeneityCluster) {
  Picture p("high_heterogeneity/config/cluster42.ini", "high_heterogeneity/layout_llama70b/ilp/ilp_sol.ini");
  EXPECT_EQ(xml_problem(p.svg), "");
  for (const char* type : {"A100", "L4x2", "T4x4"}) EXPECT_NE(p.svg.find(std::string(">") + type + " × "), std::string::npos);
}

TEST(PlacementSvg, NamesAreEscaped) {
  ClusterSpec c = test::flow_cluster({test::flow_gpu("A<100>")}, {0, 0});
  c.nodes[0].name = "east&\"west\"";
  test::connect_all(c, 1e9);
  c.index_links();
  ModelSpec model = test::flow_model(8);
  PerfModel perf = PerfModel::from_tables(8, {test::flow_node_perf_over_k(4000, 8), test::flow_node_perf_over_k(4000, 8)});
  Placement placement = empty_placement(c, model.name, 8, "hand");
  placement.ranges = {{0, 4}, {4, 8}};
  const FlowSolution flow = solve_planner_flow(c, model, perf, placement.ranges);
  const std::string svg = placement_svg(c, model, placement, flow, "it's");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_NE(svg.find("east&amp;&quot;west&quot; (A&lt;100&gt;)"), std::string::npos);
}

// 1,000 nodes in 20 stages of 50: rows shrink, labels give way to a note, links stay.
TEST(PlacementSvg, ThousandNodesShrinkRows) {
  std::vector<int> types(1000, 0);
  ClusterSpec c = test::flow_cluster({test::flow_gpu("A100")}, types);
  for (int i = 0; i < 1000; ++i) {
    if (i < 50) test::link(c, kCoordinator, i, 1e9);
    if (i >= 950) test::link(c, i, kCoordinator, 1e9);
    if (i < 950) test::link(c, i, i + 50, 1e9);
  }
  c.index_links();
  ModelSpec model = test::flow_model(80);
  PerfModel perf = PerfModel::from_tables(80, std::vector<NodePerf>(1000, test::flow_node_perf_over_k(4000, 4)));
  Placement placement = empty_placement(c, model.name, 80, "hand");
  for (int i = 0; i < 1000; ++i) placement.ranges[static_cast<std::size_t>(i)] = {4 * (i / 50), 4 * (i / 50) + 4};
  const FlowSolution flow = solve_planner_flow(c, model, perf, placement.ranges);
  EXPECT_NEAR(flow.max_flow_tps, 50 * 1000, 1e-6);
  const std::string svg = placement_svg(c, model, placement, flow, "1000 nodes");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_NE(svg.find("1000 rows: too many for labels"), std::string::npos);
  EXPECT_EQ(count(svg, "<path d="), 1000 + 50 + 1);  // every link with flow, plus the legend's sample
  EXPECT_LT(svg.size(), 2'000'000u);
}

}  // namespace
}  // namespace helix
