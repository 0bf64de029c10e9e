#include "helix/perf/perf_model.h"

#include <gtest/gtest.h>

#include "helix/core/error.h"
#include "helix/perf/machine_classes.h"
#include "unit/perf/perf_test_util.h"

namespace helix {
namespace {

PerfModel single24(const std::string& model, const PerfOptions& options = {}) {
  return PerfModel::build(test::make_cluster(test::paper_gpus(), test::single24_nodes()),
                          model_preset(model), options);
}

TEST(PerfModel, FlowUpperBoundSingle24Llama70b) {
  PerfModel p = single24("llama2-70b");
  EXPECT_EQ(p.num_nodes(), 24);
  EXPECT_EQ(p.num_layers(), 80);
  EXPECT_NEAR(p.flow_upper_bound(), 2803.860988, 1e-6);  // §1.8
}

TEST(PerfModel, FlowUpperBoundOtherPublishedValues) {
  EXPECT_NEAR(single24("llama1-30b").flow_upper_bound(), 1755.011, 5e-4);
  PerfModel het = PerfModel::build(test::make_cluster(test::paper_gpus(), test::highhet42_nodes()),
                                   model_preset("llama2-70b"));
  EXPECT_NEAR(het.flow_upper_bound(), 7104.258, 5e-4);
}

TEST(PerfModel, NodeTablesComeFromTheClusterComposition) {
  PerfModel p = single24("llama2-70b");
  const NodePerf& a100 = p.node(6);  // node 6 is an A100
  EXPECT_EQ(a100.max_layers, 12);
  EXPECT_NEAR(a100.throughput(12), 952.1074, 5e-5);
  EXPECT_EQ(a100.capacity(12), a100.throughput(12));  // the NIC term does not bind
  EXPECT_EQ(a100.kv_capacity[11], 3377472);
  EXPECT_EQ(p.node(1).max_layers, 4);  // T4
  EXPECT_NEAR(p.throughput(1, 1), 5709.2079, 5e-5);
  ASSERT_EQ(p.type_throughput().size(), 3u);
  EXPECT_EQ(p.type_throughput().at("L4"), p.node(0).throughput_tps);
}

TEST(PerfModel, CapacitySemantics) {
  PerfModel p = single24("llama2-70b");
  EXPECT_EQ(p.capacity(1, 0), 0.0);
  EXPECT_EQ(p.capacity(1, -3), 0.0);
  EXPECT_THROW(p.capacity(1, 5), Error);  // a T4 holds at most 4
  EXPECT_THROW(p.capacity(24, 1), Error);
  EXPECT_THROW(p.throughput(-1, 1), Error);

  PerfModel over = single24("llama2-70b", {.allow_overcommit = true});
  double cap4 = over.capacity(1, 4);
  EXPECT_DOUBLE_EQ(over.capacity(1, 6), cap4 * 4 / 6);
  EXPECT_DOUBLE_EQ(over.throughput(1, 8), over.throughput(1, 4) / 2);
  EXPECT_EQ(over.flow_upper_bound(), p.flow_upper_bound());
}

TEST(PerfModel, NicBoundCapsCapacityButNotThroughput) {
  auto types = test::paper_gpus();
  for (auto& t : types) t.nic_out_Bps = 1e7;  // 1e7 / 16384 = 610.35 tokens/s
  PerfModel p = PerfModel::build(test::make_cluster(types, test::single24_nodes()),
                                 model_preset("llama2-70b"));
  EXPECT_DOUBLE_EQ(p.capacity(6, 1), 1e7 / 16384);
  EXPECT_NEAR(p.throughput(6, 1), 23833.87, 5e-3);
  EXPECT_DOUBLE_EQ(p.capacity(6, 12), 1e7 / 16384);  // T(12) = 952 > 610
  EXPECT_EQ(p.capacity(0, 7), p.throughput(0, 7));    // L4: T(7) = 531.7 < 610
}

TEST(PerfModel, TypesSharingAProfileFormOneClass) {
  // Two A100 types of two nodes each behave as the paper's A100:4.
  auto types = test::paper_gpus();
  GpuType east = test::paper_gpu("A100", 40);
  east.name = "A100-east";
  GpuType west = east;
  west.name = "A100-west";
  types.push_back(east);
  types.push_back(west);
  auto nodes = test::single24_nodes();
  int seen = 0;
  for (auto& n : nodes) {
    if (n == "A100") n = (seen++ % 2 == 0) ? "A100-east" : "A100-west";
  }
  PerfModel split = PerfModel::build(test::make_cluster(types, nodes), model_preset("llama2-70b"));
  PerfModel whole = single24("llama2-70b");
  EXPECT_EQ(split.flow_upper_bound(), whole.flow_upper_bound());
  EXPECT_EQ(split.type_throughput().at("A100-east"), whole.type_throughput().at("A100"));
}

TEST(PerfModel, UnmeasuredGpuUsesFirstPrinciplesNextToMeasuredOnes) {
  auto types = test::paper_gpus();
  GpuType h100 = test::paper_gpu("H100", 80);
  h100.profile_name.clear();
  h100.mem_bandwidth_Bps = 3350e9;
  h100.peak_flops = 989e12;
  types.push_back(h100);
  auto nodes = test::single24_nodes();
  nodes.push_back("H100");
  ClusterSpec cluster = test::make_cluster(types, nodes);
  ClusterClasses classes = resolve_machine_classes(cluster, model_preset("llama2-70b"));
  ASSERT_EQ(classes.classes.size(), 4u);
  EXPECT_EQ(classes.classes[3].name, "H100");
  EXPECT_FALSE(classes.classes[3].profile.measured);
  EXPECT_TRUE(classes.classes[0].profile.measured);
  PerfModel p = PerfModel::build(cluster, model_preset("llama2-70b"));
  EXPECT_EQ(p.node(24).max_layers, 26);  // floor(40 GB / 1.53 GB)
  EXPECT_GT(p.throughput(24, 1), p.throughput(6, 1));  // faster than an A100
  // The H100 changes the composition, hence the A100 curve.
  EXPECT_NE(p.throughput(6, 1), single24("llama2-70b").throughput(6, 1));
}

TEST(PerfModel, UnprofiledModelUsesFirstPrinciplesEverywhere) {
  auto types = test::paper_gpus();
  types[0].mem_bandwidth_Bps = 1555e9;
  types[0].peak_flops = 312e12;
  ClusterSpec cluster = test::make_cluster(types, {"A100", "A100"});
  PerfModel p = PerfModel::build(cluster, model_preset("llama3-8b"));
  EXPECT_EQ(p.node(0).max_layers, 32);
  EXPECT_GT(p.capacity(0, 16), 0);
  // An L4 without datasheet numbers cannot be estimated: the error names node and type.
  ClusterSpec bad = test::make_cluster(types, {"A100", "L4"});
  try {
    PerfModel::build(bad, model_preset("llama3-8b"));
    FAIL() << "expected Error";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("node1"), std::string::npos) << what;
    EXPECT_NE(what.find("L4"), std::string::npos) << what;
  }
}

TEST(PerfModel, BadInputsAreErrors) {
  ClusterSpec empty;
  EXPECT_THROW(PerfModel::build(empty, model_preset("llama2-70b")), Error);
  auto types = test::paper_gpus();
  types[0].nic_in_Bps = 0;
  EXPECT_THROW(PerfModel::build(test::make_cluster(types, {"A100"}), model_preset("llama2-70b")),
               Error);
  ModelSpec wrong = model_preset("llama2-70b");
  wrong.num_layers = 40;  // disagrees with the paper's profile
  EXPECT_THROW(PerfModel::build(test::make_cluster(test::paper_gpus(), {"A100"}), wrong), Error);
  ClusterSpec dangling = test::make_cluster(test::paper_gpus(), {"A100"});
  dangling.nodes[0].gpu_type = 99;
  EXPECT_THROW(PerfModel::build(dangling, model_preset("llama2-70b")), Error);
}

TEST(PerfModel, FromTables) {
  NodePerf a;
  a.max_layers = 2;
  a.throughput_tps = {100, 40};
  a.capacity_tps = {90, 40};
  a.kv_capacity = {1000, 1000};
  NodePerf b;  // holds nothing
  PerfModel p = PerfModel::from_tables(4, {a, b});
  EXPECT_EQ(p.capacity(0, 1), 90);
  EXPECT_EQ(p.throughput(0, 1), 100);
  EXPECT_DOUBLE_EQ(p.flow_upper_bound(), 90.0 / 4);  // max(1*90, 2*40) / L
  EXPECT_THROW(p.capacity(1, 1), Error);
  EXPECT_EQ(p.capacity(1, 0), 0);
  EXPECT_TRUE(p.type_throughput().empty());

  NodePerf bad = a;
  bad.kv_capacity.pop_back();
  EXPECT_THROW(PerfModel::from_tables(4, {bad}), Error);
  bad = a;
  bad.capacity_tps[0] = -1;
  EXPECT_THROW(PerfModel::from_tables(4, {bad}), Error);
  EXPECT_THROW(PerfModel::from_tables(0, {a}), Error);
}

}  // namespace
}  // namespace helix
