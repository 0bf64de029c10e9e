#include "helix/perf/first_principles.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "helix/cluster/gpu_catalog.h"
#include "helix/core/error.h"
#include "helix/perf/throughput_model.h"
#include "unit/perf/perf_test_util.h"

namespace helix {
namespace {

// Datasheet numbers: VRAM, memory bandwidth, dense fp16 tensor FLOP/s.
GpuType datasheet(const std::string& name, double vram_gb, double bw_gbps, double tflops) {
  GpuType g = test::paper_gpu(name, vram_gb);
  g.profile_name.clear();
  g.mem_bandwidth_Bps = bw_gbps * 1e9;
  g.peak_flops = tflops * 1e12;
  return g;
}

GpuType a100() { return datasheet("A100", 40, 1555, 312); }
GpuType l4() { return datasheet("L4", 24, 300, 121); }
GpuType t4() { return datasheet("T4", 16, 320, 65); }
GpuType h100() { return datasheet("H100", 80, 3350, 989); }

double ratio(double estimate, double measured) { return estimate / measured; }

// Calibration against the paper's measured LLaMA-2-70B tables. The factors below
// are what the constants achieve (printed by the test); the bounds leave a little
// slack. This is an estimate, not a measurement.
void compare_with_paper(const std::string& preset, const std::string& key, double decode_tol,
                        double decode100_tol, double blocks_tol, double prompt_factor,
                        int layers_tol) {
  ModelSpec model = model_preset(preset);
  PaperModelProfile paper = load_paper_profile(key);
  for (const GpuType& gpu : {a100(), l4(), t4()}) {
    GpuProfile est = first_principles_profile(model, gpu);
    const GpuProfile& real = *paper.find(gpu.name);
    double decode8 = ratio(est.decode.at(8), real.decode.at(8));
    double decode100 = ratio(est.decode.at(100), real.decode.at(100));
    double prompt2000 = ratio(est.prompt.at(2000), real.prompt.at(2000));
    double blocks1 = ratio(double(est.vllm_blocks.front()), double(real.vllm_blocks.front()));
    int k = std::min(est.max_layers, real.max_layers);
    double blocks_k = ratio(double(est.vllm_blocks[k - 1]), double(real.vllm_blocks[k - 1]));
    std::cout << key << " " << gpu.name << ": decode(8) x" << decode8 << ", decode(100) x" << decode100
              << ", prompt(2000) x" << prompt2000 << ", blocks(1) x" << blocks1 << ", blocks("
              << k << ") x" << blocks_k << ", max layers " << est.max_layers << " vs "
              << real.max_layers << "\n";
    EXPECT_NEAR(decode8, 1.0, decode_tol) << key << " " << gpu.name;
    EXPECT_NEAR(decode100, 1.0, decode100_tol) << key << " " << gpu.name;
    EXPECT_NEAR(blocks1, 1.0, blocks_tol) << key << " " << gpu.name;
    EXPECT_NEAR(blocks_k, 1.0, blocks_tol) << key << " " << gpu.name;
    EXPECT_LT(prompt2000, prompt_factor) << key << " " << gpu.name;
    EXPECT_GT(prompt2000, 1 / prompt_factor) << key << " " << gpu.name;
    EXPECT_LE(std::abs(est.max_layers - real.max_layers), layers_tol) << key << " " << gpu.name;
  }
}

// The calibration target. Achieved (see the printout): decode(8) within -8%..+3%,
// decode(100) within +5%..+17%, vLLM blocks within -4%..+15%, prompt(2000) within a
// factor 1.43 (one compute efficiency for GPUs that reach 0.37-0.73 of peak), max
// layers off by at most one.
TEST(FirstPrinciples, CalibratedAgainstPaperTablesFor70b) {
  compare_with_paper("llama2-70b", "llama2_70b", 0.10, 0.20, 0.20, 1.5, 1);
}

// Not calibrated against, a check on the same constants. Achieved: decode(8) within
// -2%..+9%, decode(100) +16%..+25%, blocks -12%..+12%, prompt(2000) factor 1.43,
// max layers 1-2 above the paper's hand-set values.
TEST(FirstPrinciples, ComparedWithPaperTablesFor30b) {
  compare_with_paper("llama1-30b", "llama1_30b", 0.10, 0.30, 0.15, 1.5, 2);
}

// End to end: T(k) of an all-estimated single-24 cluster vs the paper's.
// Achieved: worst factor 1.32 (A100), 1.14 (L4), 1.22 (T4) over all k.
TEST(FirstPrinciples, ThroughputOfEstimatedSingle24WithinFactor1_4) {
  ModelSpec model = model_preset("llama2-70b");
  PaperModelProfile paper = load_paper_profile("llama2_70b");
  std::vector<MachineClass> estimated;
  for (const auto& [gpu, count] : std::vector<std::pair<GpuType, int>>{{a100(), 4}, {l4(), 8}, {t4(), 12}}) {
    MachineClass c;
    c.name = gpu.name;
    c.count = count;
    c.profile = first_principles_profile(model, gpu);
    c.typical_layers = first_principles_typical_layers(c.profile.max_layers);
    c.typical_layers_small = c.profile.max_layers;
    c.initial_perf = first_principles_initial_perf(gpu);
    estimated.push_back(c);
  }
  ThroughputTables est = compute_throughput(80, estimated);
  ThroughputTables real =
      compute_throughput(80, test::paper_classes(paper, test::parse_composition("A100:4+L4:8+T4:12")));
  for (const char* name : {"A100", "L4", "T4"}) {
    const auto& e = est.find(name);
    const auto& r = real.find(name);
    int k_max = std::min<int>(int(e.by_layers.size()), int(r.by_layers.size()));
    double worst = 1;
    for (int k = 1; k <= k_max; ++k) {
      double q = e.throughput(k) / r.throughput(k);
      worst = std::max(worst, std::max(q, 1 / q));
      EXPECT_LT(q, 1.4) << name << " k=" << k;
      EXPECT_GT(q, 1 / 1.4) << name << " k=" << k;
    }
    std::cout << name << ": T(k) worst factor " << worst << " over k=1.." << k_max << "\n";
  }
}

TEST(FirstPrinciples, H100WithLlama3_8bHoldsTheWholeModel) {
  ModelSpec model = model_preset("llama3-8b");
  GpuProfile p = first_principles_profile(model, h100());
  EXPECT_FALSE(p.measured);
  EXPECT_EQ(p.max_layers, 32);
  EXPECT_EQ(first_principles_typical_layers(32), 21);
  for (int k = 1; k < 32; ++k) {
    EXPECT_GT(p.vllm_blocks[k - 1], p.vllm_blocks[k]);
    EXPECT_GE(p.kv_cache_capacity(k), p.kv_cache_capacity(k + 1));
  }
  // A single H100 serving the model: T(k) > 0 and decreasing in k.
  MachineClass c;
  c.name = "H100";
  c.count = 2;
  c.profile = p;
  c.typical_layers = first_principles_typical_layers(p.max_layers);
  c.typical_layers_small = p.max_layers;
  c.initial_perf = first_principles_initial_perf(h100());
  ThroughputTables t = compute_throughput(32, {c});
  const auto& h = t.find("H100");
  for (int k = 1; k <= 32; ++k) {
    EXPECT_GT(h.throughput(k), 0) << k;
    if (k > 1) {
      EXPECT_LT(h.throughput(k), h.throughput(k - 1)) << k;
    }
  }
  // A node with all 32 layers has the whole round trip (ratio 1).
  EXPECT_DOUBLE_EQ(h.by_layers[31].workload_ratio, 1.0);
  InferenceLimits lim = p.limits(32);
  EXPECT_EQ(lim.prompt_max_requests, 7);
  EXPECT_LE(lim.prompt_max_tokens, p.prompt.max_tokens());
  EXPECT_LE(lim.decode_max_tokens, p.decode.max_tokens());
}

TEST(FirstPrinciples, MoreVramGivesMoreKvAndMoreLayers) {
  ModelSpec model = model_preset("llama3-8b");
  GpuType small = h100();
  small.vram_bytes = 24e9;
  GpuProfile a = first_principles_profile(model, small);
  GpuProfile b = first_principles_profile(model, h100());
  EXPECT_LT(a.max_layers, b.max_layers);
  for (int k = 1; k <= a.max_layers; ++k) EXPECT_GT(b.kv_cache_capacity(k), a.kv_cache_capacity(k));
}

// The catalog's larger-memory versions hold more KV at every layer count, and the
// H200 (H100's compute, 4.8 TB/s) decodes faster than the H100.
TEST(FirstPrinciples, TheCatalogsLargerMemoryGpusHoldMoreKv) {
  const ModelSpec model = model_preset("llama2-70b");
  for (const auto& [big, small] : {std::pair{"H200", "H100"}, std::pair{"A100-80G", "A100"}}) {
    const GpuProfile a = first_principles_profile(model, *find_catalog_gpu(small));
    const GpuProfile b = first_principles_profile(model, *find_catalog_gpu(big));
    EXPECT_GT(b.max_layers, a.max_layers) << big;
    for (int k = 1; k <= a.max_layers; ++k) EXPECT_GT(b.kv_cache_capacity(k), a.kv_cache_capacity(k)) << big << " k=" << k;
  }
  const GpuProfile h100 = first_principles_profile(model, *find_catalog_gpu("H100"));
  const GpuProfile h200 = first_principles_profile(model, *find_catalog_gpu("H200"));
  EXPECT_LT(h200.decode.at(8), h100.decode.at(8));
  EXPECT_GT(first_principles_profile(model, *find_catalog_gpu("L40S")).max_layers, 0);
}

TEST(FirstPrinciples, TablesStartAtZeroAndGrow) {
  GpuProfile p = first_principles_profile(model_preset("llama2-70b"), datasheet("A10G", 24, 600, 70));
  EXPECT_EQ(p.prompt.at(0), 0.0);
  EXPECT_EQ(p.decode.at(0), 0.0);
  EXPECT_EQ(p.prompt.max_tokens(), 15000);
  EXPECT_EQ(p.decode.max_tokens(), 800);
  for (std::size_t i = 1; i < p.decode.points().size(); ++i) {
    EXPECT_GT(p.decode.points()[i].seconds, p.decode.points()[i - 1].seconds);
  }
  EXPECT_EQ(p.max_layers, 7);  // floor(12 GB / 1.53 GB)
}

TEST(FirstPrinciples, KvSizeFallbacks) {
  EXPECT_EQ(estimate_kv_bytes_per_token_per_layer(model_preset("llama3-8b")), 4096);
  EXPECT_EQ(estimate_kv_bytes_per_token_per_layer(model_preset("llama2-70b")), 4096);
  EXPECT_EQ(estimate_kv_bytes_per_token_per_layer(model_preset("llama1-30b")), 26624);
  ModelSpec m;
  m.name = "bare";
  m.hidden_size = 1024;
  EXPECT_EQ(estimate_kv_bytes_per_token_per_layer(m), 4096);  // no GQA assumed
  m.hidden_size = 0;
  EXPECT_THROW(estimate_kv_bytes_per_token_per_layer(m), Error);
}

TEST(FirstPrinciples, MissingDatasheetOrTooSmallGpuIsAnErrorNamingTheType) {
  ModelSpec model = model_preset("llama2-70b");
  GpuType g = a100();
  g.name = "Mystery";
  g.peak_flops = 0;
  try {
    first_principles_profile(model, g);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Mystery"), std::string::npos) << e.what();
  }
  GpuType tiny = datasheet("Tiny", 2, 100, 10);
  EXPECT_THROW(first_principles_profile(model, tiny), Error);
}

}  // namespace
}  // namespace helix
