#include "helix/plan/placement.h"

#include <gtest/gtest.h>

#include "helix/core/error.h"
#include "helix/plan/paper_solution.h"
#include "paper_fixtures.h"

namespace helix {
namespace {

ClusterSpec three_node_cluster() {
  ClusterSpec c;
  c.name = "tiny";
  GpuType l4;
  l4.name = "L4";
  c.gpu_types.push_back(l4);
  c.regions = {"r"};
  for (int i = 0; i < 3; ++i) c.nodes.push_back({"n" + std::to_string(i), 0, 0});
  c.index_links();
  return c;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Placement, JsonRoundTripKeepsEveryField) {
  ClusterSpec c = three_node_cluster();
  Placement p = empty_placement(c, "llama2-70b", 80, "swarm");
  p.ranges = {{0, 40}, {40, 80}, {}};
  p.objective_tps = 123.5;
  p.details = {{"stages", 2}};
  nlohmann::json j = placement_to_json(p, &c);
  EXPECT_EQ(j["format"], "helix-placement");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["nodes"][2]["unused"], true);
  EXPECT_EQ(j["nodes"][0]["gpu"], "L4");
  Placement back = placement_from_json(j, "test");
  EXPECT_EQ(back.ranges, p.ranges);
  EXPECT_EQ(back.node_names, p.node_names);
  EXPECT_EQ(back.method, "swarm");
  EXPECT_DOUBLE_EQ(back.objective_tps, 123.5);
  EXPECT_EQ(back.details, p.details);
}

TEST(Placement, LoadReordersToTheClusterAndChecksIt) {
  ClusterSpec c = three_node_cluster();
  test::TempDir dir;
  auto path = dir.write("p.json", R"({"format":"helix-placement","version":1,"model":"m",
    "num_layers":10,"nodes":[{"name":"n2","start":5,"end":10},{"name":"n0","start":0,"end":5},
    {"name":"n1","unused":true}]})");
  Placement p = load_placement(path, c);
  EXPECT_EQ(p.ranges[0], (LayerRange{0, 5}));
  EXPECT_EQ(p.ranges[2], (LayerRange{5, 10}));
  EXPECT_TRUE(p.ranges[1].empty());
}

TEST(Placement, BadInputsNameThePlace) {
  ClusterSpec c = three_node_cluster();
  test::TempDir dir;
  auto write = [&](const std::string& nodes) {
    return dir.write("p.json", R"({"format":"helix-placement","version":1,"model":"m","num_layers":10,"nodes":)" +
                                   nodes + "}");
  };
  // A node of another cluster.
  auto other = write(R"([{"name":"x9","start":0,"end":10},{"name":"n1","unused":true},{"name":"n2","unused":true}])");
  EXPECT_NE(error_of([&] { load_placement(other, c); }).find("node 'x9' is not in the cluster"), std::string::npos);
  // A cluster node missing.
  auto missing = write(R"([{"name":"n0","start":0,"end":10}])");
  EXPECT_NE(error_of([&] { load_placement(missing, c); }).find("'n1' is missing"), std::string::npos);
  // Layers outside the model.
  auto outside = write(R"([{"name":"n0","start":0,"end":12},{"name":"n1","unused":true},{"name":"n2","unused":true}])");
  EXPECT_NE(error_of([&] { load_placement(outside, c); }).find("outside the model's layers 0-9"), std::string::npos);
  // A reversed range.
  auto reversed = write(R"([{"name":"n0","start":5,"end":2}])");
  EXPECT_NE(error_of([&] { load_placement(reversed, c); }).find("nodes[0] (n0)"), std::string::npos);
  // Missing field.
  auto no_start = write(R"([{"name":"n0","end":2}])");
  EXPECT_NE(error_of([&] { load_placement(no_start, c); }).find("missing field 'start'"), std::string::npos);
  // Wrong model size.
  auto fine = write(R"([{"name":"n0","start":0,"end":10},{"name":"n1","unused":true},{"name":"n2","unused":true}])");
  EXPECT_NE(error_of([&] { load_placement(fine, c, 80); }).find("model has 80"), std::string::npos);
  // Unsupported version and broken JSON.
  auto v2 = dir.write("v2.json", R"({"format":"helix-placement","version":2,"nodes":[]})");
  EXPECT_NE(error_of([&] { load_placement(v2, c); }).find("version 2 is not supported"), std::string::npos);
  auto broken = dir.write("broken.json", "{\"format\": ");
  EXPECT_NE(error_of([&] { load_placement(broken, c); }).find("invalid JSON"), std::string::npos);
}

TEST(PaperSolution, NonContiguousLayersAndForeignNodesAreRefused) {
  ClusterSpec c = three_node_cluster();
  std::string gap = "[Settings]\noffset=2\n\n[Solution]\ncompute_node_2=[0, 1, 3]\n";
  EXPECT_EQ(error_of([&] { parse_paper_solution(gap, "sol.ini", c); }),
            "sol.ini:5: layers are not contiguous: 3 follows 1");
  std::string foreign = "[Settings]\noffset=2\n[Solution]\ncompute_node_9=[0, 1]\n";
  EXPECT_NE(error_of([&] { parse_paper_solution(foreign, "sol.ini", c); }).find("sol.ini:4: compute_node_9"),
            std::string::npos);
  std::string no_offset = "[Solution]\ncompute_node_2=[0]\n";
  EXPECT_NE(error_of([&] { parse_paper_solution(no_offset, "sol.ini", c); }).find("offset"), std::string::npos);
  std::string junk = "[Settings]\noffset=2\n[Solution]\ncompute_node_2=0, 1\n";
  EXPECT_NE(error_of([&] { parse_paper_solution(junk, "sol.ini", c); }).find("sol.ini:4"), std::string::npos);
}

TEST(PaperSolution, ImportsThePublishedIlpLayoutAndWritesItBack) {
  ClusterSpec cluster = test::paper_cluster("single_cluster/config/cluster24.ini");
  auto path = test::artifact("single_cluster/layout_llama70b/ilp/ilp_sol.ini");
  Placement p = import_paper_solution(path, cluster, 80);
  // compute_node_5 (node 3) holds layers 53..59.
  EXPECT_EQ(p.ranges[3], (LayerRange{53, 60}));
  EXPECT_EQ(p.ranges[20], (LayerRange{25, 26}));
  Placement again = parse_paper_solution(write_paper_solution(p), "again", cluster, 80);
  EXPECT_EQ(again.ranges, p.ranges);
}

}  // namespace
}  // namespace helix
