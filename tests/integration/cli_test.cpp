// The `helix` binary as a user runs it: a separate process, real files, exit codes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace helix {
namespace {

std::string helix_cmd(const std::string& args) { return std::string(HELIX_BINARY) + " " + args; }

std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

nlohmann::json run_json(const std::string& args) {
  test::CommandResult r = test::run_command(helix_cmd(args));
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  return nlohmann::json::parse(r.out);
}

// A bad input must give exit code 1 and exactly one line on stderr that says
// "error: " and names the place.
void expect_one_line_error(const std::string& args, const std::string& must_contain) {
  test::CommandResult r = test::run_command(helix_cmd(args));
  EXPECT_EQ(r.exit_code, 1) << args << "\nstdout: " << r.out << "\nstderr: " << r.err;
  ASSERT_FALSE(r.err.empty()) << args;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0U) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos)
      << "expected '" << must_contain << "' in: " << r.err;
}

TEST(Cli, FlowOfThePublishedSingleClusterIlpPlacement) {
  auto cluster = test::artifact("single_cluster/config/cluster24.ini");
  auto sol = test::artifact("single_cluster/layout_llama70b/ilp/ilp_sol.ini");
  nlohmann::json j = run_json("flow --json --cluster " + quoted(cluster) + " --placement " + quoted(sol));
  EXPECT_EQ(j["format"], "helix-flow");
  EXPECT_EQ(j["model"], "llama2-70b");
  EXPECT_NEAR(j["planner"]["max_flow_tps"].get<double>(), 1289.556, 1e-3);
  EXPECT_NEAR(j["simulator"]["max_flow_tps"].get<double>(), 1289.556, 1e-3);
  EXPECT_NEAR(j["upper_bound_tps"].get<double>(), 2803.861, 1e-3);
  // The min cut is two nodes: a T4 with 4 layers and an L4 with 7 (spec §2.12).
  ASSERT_EQ(j["planner"]["min_cut"].size(), 2U);
  double cut = 0;
  for (const auto& arc : j["planner"]["min_cut"]) {
    EXPECT_EQ(arc["kind"], "compute");
    cut += arc["capacity_tps"].get<double>();
  }
  EXPECT_NEAR(cut, 1289.556, 1e-3);
}

TEST(Cli, FlowReadsThePapersSimulatorClusterFile) {
  auto dir = test::artifact("single_cluster/layout_llama70b/petals");
  nlohmann::json j = run_json("flow --json --semantics simulator --cluster " +
                              quoted(dir / "simulator_cluster.ini") + " --placement " +
                              quoted(dir / "petals_sol.ini"));
  EXPECT_NEAR(j["simulator"]["max_flow_tps"].get<double>(), 952.107, 1e-3);
  EXPECT_FALSE(j.contains("planner"));
}

TEST(Cli, PlanWritesAPlacementThatFlowReadsBack) {
  test::TempDir dir;
  auto cluster = test::artifact("single_cluster/config/cluster24.ini");
  auto out = dir.path() / "plan.json";
  nlohmann::json plan = run_json("plan --json --method swarm --model llama2-70b --cluster " +
                                 quoted(cluster) + " -o " + quoted(out));
  EXPECT_EQ(plan["format"], "helix-placement");
  EXPECT_NEAR(plan["objective_tps"].get<double>(), 757.853, 1e-3);
  nlohmann::json flow = run_json("flow --json --semantics planner --cluster " + quoted(cluster) +
                                 " --placement " + quoted(out));
  EXPECT_NEAR(flow["planner"]["max_flow_tps"].get<double>(), 757.853, 1e-3);
}

TEST(Cli, CompareOnBuiltInDefaultsRunsEveryMethod) {
  nlohmann::json j = run_json("plan --compare --json --time-limit 1");
  EXPECT_EQ(j["format"], "helix-plan-compare");
  std::set<std::string> methods;
  for (const auto& p : j["plans"]) {
    methods.insert(p["method"].get<std::string>());
    EXPECT_GT(p["objective_tps"].get<double>(), 0) << p["method"];
  }
  EXPECT_TRUE(methods.contains("petals"));
  EXPECT_TRUE(methods.contains("swarm"));
  EXPECT_TRUE(methods.contains("homogeneous"));
  test::CommandResult text = test::run_command(helix_cmd("plan --compare --time-limit 1 --method swarm"));
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("max flow (tok/s)"), std::string::npos) << text.out;
}

TEST(Cli, BadPlacementsGiveOneLineErrors) {
  test::TempDir dir;
  auto cluster = quoted(test::artifact("single_cluster/config/cluster24.ini"));
  auto gap = dir.write("gap_sol.ini", "[Settings]\noffset=2\n[Solution]\ncompute_node_2=[0, 1, 3]\n");
  expect_one_line_error("flow --cluster " + cluster + " --placement " + quoted(gap),
                        "gap_sol.ini:4: layers are not contiguous");
  auto outside = dir.write("outside_sol.ini", "[Settings]\noffset=2\n[Solution]\ncompute_node_2=[78, 79, 80]\n");
  expect_one_line_error("flow --model llama2-70b --cluster " + cluster + " --placement " + quoted(outside),
                        "outside the model's layers 0-79");
  // The 42-node cluster's placement on the 24-node cluster.
  auto foreign = test::artifact("high_heterogeneity/layout_llama70b/ilp/ilp_sol.ini");
  expect_one_line_error("flow --cluster " + cluster + " --placement " + quoted(foreign),
                        "another cluster");
  expect_one_line_error("flow --cluster " + cluster + " --placement " + quoted(dir.path() / "none.json"),
                        "none.json: cannot open file");
}

// A two-node cluster; each case below breaks one thing.
constexpr const char* kClusterYaml = R"(format: helix-cluster/1
name: pair
network:
  in_region: {bandwidth: 10 Gbps, latency: 1 ms}
nodes:
  - {name: a, gpu: A100}
  - {name: b, gpu: L4}
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return text.replace(pos, from.size(), to);
}

TEST(Cli, BadClusterFilesGiveOneLineErrorsNamingFileAndLine) {
  test::TempDir dir;
  auto run_plan = [&](const std::string& name, const std::string& yaml, const std::string& expect) {
    auto path = dir.write(name, yaml);
    expect_one_line_error("plan --model llama1-30b --method petals --cluster " + quoted(path), expect);
  };
  // The good file plans fine.
  auto good = dir.write("good.yaml", kClusterYaml);
  EXPECT_EQ(test::run_command(helix_cmd("plan --model llama1-30b --method petals --cluster " + quoted(good))).exit_code, 0);
  run_plan("missing.yaml", replaced(kClusterYaml, ", gpu: L4", ""), "missing.yaml:7");
  run_plan("unknown_gpu.yaml", replaced(kClusterYaml, "gpu: L4", "gpu: B200"), "unknown_gpu.yaml:7");
  run_plan("negative.yaml", replaced(kClusterYaml, "bandwidth: 10 Gbps", "bandwidth: -10 Gbps"), "negative.yaml:4");
  run_plan("typo.yaml", replaced(kClusterYaml, "bandwidth: 10 Gbps", "bandwidth: 10 Gbsp"), "typo.yaml:4");
  run_plan("ambiguous.yaml", replaced(kClusterYaml, "bandwidth: 10 Gbps", "bandwidth: 10 mbps"), "ambiguous");
  run_plan("unknown_key.yaml", replaced(kClusterYaml, "name: pair", "nmae: pair"), "unknown_key.yaml:2");
  run_plan("not_yaml.yaml", "format: [unclosed", "not_yaml.yaml");
}

TEST(Cli, BadPaperClusterFilesNameTheLine) {
  test::TempDir dir;
  std::string ini = test::read_file(test::artifact("single_cluster/config/t4.ini"));
  auto profiles = test::artifact("single_cluster/config/machine_profiles.ini");
  std::string broken = replaced(ini, "bandwidth=1000 * mbps", "bandwidth=1000 * mbsp");
  auto path = dir.write("broken.ini", broken);
  expect_one_line_error("plan --model llama1-30b --cluster " + quoted(path) + " --machine-profiles " +
                            quoted(profiles),
                        "broken.ini:");
  std::string unknown_type = replaced(ini, "type=T4", "type=T5");
  auto path2 = dir.write("unknown_type.ini", unknown_type);
  expect_one_line_error("plan --model llama1-30b --cluster " + quoted(path2) + " --machine-profiles " +
                            quoted(profiles),
                        "T5");
}

TEST(Cli, BadArgumentsGiveOneLineErrors) {
  expect_one_line_error("plan --method gurobi", "unknown placement method 'gurobi'");
  expect_one_line_error("plan --model gpt-5", "unknown model 'gpt-5'");
  expect_one_line_error("plan --cluster nowhere.yaml", "nowhere.yaml");
  test::CommandResult usage = test::run_command(helix_cmd("plan --no-such-flag"));
  EXPECT_EQ(usage.exit_code, 2);  // command-line usage errors
}

}  // namespace
}  // namespace helix
