// Machine types described by measured per-layer times (`helix profile` output).
#include <gtest/gtest.h>

#include "helix/cluster/cluster_yaml.h"
#include "helix/core/error.h"
#include "helix/model/model_spec.h"
#include "helix/perf/measured_layer_times.h"
#include "helix/perf/perf_model.h"
#include "support/error_expectations.h"
#include "support/test_support.h"

namespace helix {
namespace {

const std::string kCluster = test::profiled_pair_cluster_yaml("CPU", "prof");

void write_tables(const test::TempDir& dir, double prompt_scale) {
  std::filesystem::create_directories(dir.path() / "prof");
  dir.write("prof/prompt_bs2time.csv",
            "batch_tokens,time_ms_per_layer\n0,0.0\n16,1.0\n512," + std::to_string(20 * prompt_scale) + "\n");
  dir.write("prof/decode_bs2time.csv", "batch_tokens,time_ms_per_layer\n0,0.0\n1,0.5\n64,4.5\n");
}

// A 16 GB machine type whose layer times are write_tables' (at scale 1).
GpuType profiled_cpu(const test::TempDir& dir) {
  write_tables(dir, 1.0);
  GpuType cpu;
  cpu.name = "CPU";
  cpu.vram_bytes = 16e9;
  cpu.layer_times_dir = (dir.path() / "prof").string();
  return cpu;
}

TEST(MeasuredLayerTimes, TablesReplaceTheRooflineAndExtendLinearly) {
  test::TempDir dir;
  const GpuType cpu = profiled_cpu(dir);
  ModelSpec model = model_preset("llama3-8b");
  GpuProfile p = measured_layer_profile(model, cpu);
  EXPECT_TRUE(p.measured);
  EXPECT_DOUBLE_EQ(p.prompt.at(16), 1e-3);
  EXPECT_DOUBLE_EQ(p.decode.at(64), 4.5e-3);
  // Beyond 512 tokens: the line through (16, 1 ms) and (512, 20 ms).
  EXPECT_NEAR(p.prompt.at(2048), 20e-3 + (2048 - 512) * (19e-3 / 496), 1e-12);
  EXPECT_NEAR(p.decode.at(800), 4.5e-3 + (800 - 64) * (4e-3 / 63), 1e-12);
  EXPECT_GT(p.max_layers, 0);
}

TEST(MeasuredLayerTimes, TimesOfAnotherModelsLayersAreRefused) {
  test::TempDir dir;
  const GpuType cpu = profiled_cpu(dir);
  const ModelSpec model = model_preset("llama3-8b");  // hidden 4096, 14336, 32 heads (8 KV) of 128
  const auto meta = [&](const std::string& layer) {
    dir.write("prof/profile.json", R"({"format": "helix-layer-profile", "version": 2, "layer": )" + layer + "}");
  };
  meta(R"({"hidden_size": 4096, "intermediate_size": 14336, "num_heads": 32, "num_kv_heads": 8, "head_dim": 128})");
  EXPECT_TRUE(measured_layer_profile(model, cpu).measured);
  meta(R"({"hidden_size": 64, "intermediate_size": 192, "num_heads": 4, "num_kv_heads": 2, "head_dim": 16})");
  const std::string error = test::error_message([&] { measured_layer_profile(model, cpu); });
  EXPECT_NE(error.find("profile.json: timed on layers with hidden_size 64, but model"), std::string::npos) << error;
  meta(R"({"hidden_size": 4096})");
  EXPECT_NE(test::error_message([&] { measured_layer_profile(model, cpu); }).find("layer.intermediate_size is missing"),
            std::string::npos);
  dir.write("prof/profile.json", "{not json");
  EXPECT_NE(test::error_message([&] { measured_layer_profile(model, cpu); }).find("profile.json: invalid JSON"),
            std::string::npos);
  // Version 1 recorded no shape: it plans as before.
  dir.write("prof/profile.json", R"({"format": "helix-layer-profile", "version": 1})");
  EXPECT_TRUE(measured_layer_profile(model, cpu).measured);
}

TEST(MeasuredLayerTimes, AClusterOfProfiledMachinesIsPlannedFromTheirTimes) {
  test::TempDir dir;
  write_tables(dir, 1.0);
  auto file = dir.write("cluster.yaml", kCluster);
  ClusterSpec fast = load_cluster_yaml(file);
  ASSERT_FALSE(fast.gpu_types[0].layer_times_dir.empty());
  ModelSpec model = model_preset("llama3-8b");
  double t_fast = PerfModel::build(fast, model).throughput(0, 4);
  write_tables(dir, 2.0);  // prompts twice as slow
  double t_slow = PerfModel::build(load_cluster_yaml(file), model).throughput(0, 4);
  EXPECT_GT(t_fast, t_slow * 1.2);
}

TEST(MeasuredLayerTimes, MissingTablesAreNamed) {
  test::TempDir dir;
  auto file = dir.write("cluster.yaml", kCluster);
  try {
    load_cluster_yaml(file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer_times"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("prompt_bs2time.csv"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace helix
