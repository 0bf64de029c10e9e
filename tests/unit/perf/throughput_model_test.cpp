#include "helix/perf/throughput_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "helix/core/error.h"
#include "unit/perf/perf_test_util.h"
#include "support/test_support.h"

namespace helix {
namespace {

void expect_rel(double actual, double expected, double rel, const std::string& what) {
  EXPECT_LE(std::abs(actual - expected), rel * std::abs(expected))
      << what << ": " << actual << " vs " << expected;
}

// T(k) tables per (model, composition label), computed once.
const ThroughputTables& tables_for(const std::string& model, const std::string& label) {
  static std::map<std::string, ThroughputTables> cache;
  auto key = model + "|" + label;
  auto it = cache.find(key);
  if (it == cache.end()) {
    PaperModelProfile paper = load_paper_profile(model);
    auto classes = test::paper_classes(paper, test::parse_composition(label));
    it = cache.emplace(key, compute_throughput(paper.num_layers, classes)).first;
  }
  return it->second;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  return out;
}

TEST(ThroughputModel, MatchesEveryRowOfDerivedInferenceSettings) {
  std::ifstream in(test::shared_data() / "profiles" / "derived_inference_settings.csv");
  ASSERT_TRUE(in) << "cannot open derived_inference_settings.csv";
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split(line);
  ASSERT_EQ(header.size(), 13u);
  ASSERT_EQ(header[12], "typical_token_throughput_per_s");
  int rows = 0;
  int bit_exact = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto f = split(line);
    ASSERT_EQ(f.size(), 13u) << line;
    const std::string where = f[0] + " " + f[1] + " " + f[2] + " k=" + f[3];
    int k = std::stoi(f[3]);
    const ClassThroughput& c = tables_for(f[0], f[1]).find(f[2]);
    const TypicalBatch& b = c.by_layers.at(static_cast<std::size_t>(k - 1));
    GpuProfile g = *load_paper_profile(f[0]).find(f[2]);
    InferenceLimits lim = g.limits(k);
    EXPECT_EQ(g.kv_cache_capacity(k), std::stoll(f[4])) << where;
    EXPECT_EQ(lim.prompt_max_requests, std::stoi(f[5])) << where;
    EXPECT_EQ(lim.prompt_max_tokens, std::stoll(f[6])) << where;
    expect_rel(b.prompt_typical_requests, std::stod(f[7]), 1e-12, where + " ptr");
    EXPECT_EQ(b.prompt_typical_tokens, std::stoi(f[8])) << where;
    EXPECT_EQ(lim.decode_max_context, std::stoll(f[9])) << where;
    EXPECT_EQ(lim.decode_max_tokens, std::stoi(f[10])) << where;
    EXPECT_EQ(b.decode_typical_tokens, std::stoi(f[11])) << where;
    expect_rel(b.throughput_tps, std::stod(f[12]), 1e-9, where + " T(k)");
    bit_exact += b.throughput_tps == std::stod(f[12]) ? 1 : 0;
    ++rows;
  }
  EXPECT_EQ(rows, 186);
  // Same operation order as upstream: every value is reproduced to the last bit.
  EXPECT_EQ(bit_exact, rows);
}

TEST(ThroughputModel, NormalizedPerfMatchesDerivedNormalization) {
  std::ifstream in(test::shared_data() / "profiles" / "derived_normalization.json");
  ASSERT_TRUE(in);
  auto doc = nlohmann::json::parse(in);
  ASSERT_EQ(doc.size(), 9u);
  for (const auto& entry : doc) {
    const auto& t = tables_for(entry["model"], entry["machine_num_dict_label"]);
    for (const auto& [gpu, typ] : entry["typical_layers"].items()) {
      EXPECT_EQ(t.find(gpu).typical_layers, typ.get<int>()) << gpu;
    }
    for (const auto& [gpu, perf] : entry["normalized_perf_after_10_iterations"].items()) {
      expect_rel(t.find(gpu).normalized_perf, perf.get<double>(), 1e-9,
                 entry["machine_num_dict_label"].get<std::string>() + " " + gpu);
    }
  }
}

TEST(ThroughputModel, WorkedExampleOfSpec) {
  // §1.5: 70B, {A100:4, L4:8, T4:12}, A100 holding 12 layers.
  const TypicalBatch& b = tables_for("llama2_70b", "A100:4+L4:8+T4:12").find("A100").by_layers[11];
  EXPECT_NEAR(b.workload_ratio, 0.050577, 5e-7);
  EXPECT_EQ(b.available_entries, 84436);
  EXPECT_NEAR(b.prompt_typical_requests, 0.017974, 5e-7);
  EXPECT_EQ(b.prompt_typical_tokens, 13);
  EXPECT_EQ(b.decode_typical_tokens, 4);
  EXPECT_NEAR(b.throughput_tps, 952.1074, 5e-5);
  EXPECT_FALSE(tables_for("llama2_70b", "A100:4+L4:8+T4:12").small_cluster);
}

TEST(ThroughputModel, Cluster10From30bAppendixA) {
  // Not in the derived CSV: the quality-ablation cluster, Appendix A (2 decimals).
  const auto& t = tables_for("llama1_30b", "L4:4+T4:6");
  EXPECT_EQ(t.find("L4").typical_layers, 11);  // 4*8 + 6*4 = 56 < 72: the larger dict
  EXPECT_TRUE(t.small_cluster);
  EXPECT_NEAR(t.find("T4").normalized_perf, 1617.433, 5e-4);
  EXPECT_NEAR(t.find("L4").normalized_perf, 2128.460, 5e-4);
  EXPECT_NEAR(t.find("T4").throughput(5), 285.34, 5e-3);
  EXPECT_NEAR(t.find("T4").throughput(6), 331.34, 5e-3);  // non-monotone in k
  EXPECT_NEAR(t.find("L4").throughput(9), 168.17, 5e-3);
  EXPECT_NEAR(t.find("L4").throughput(10), 212.64, 5e-3);
}

TEST(ThroughputModel, SameGpuGetsDifferentCurvesInDifferentClusters) {
  // Appendix A: A100 + 70B, T(1) in three compositions.
  EXPECT_NEAR(tables_for("llama2_70b", "A100:4+L4:8+T4:12").find("A100").throughput(1), 23833.87,
              5e-3);
  EXPECT_NEAR(tables_for("llama2_70b", "A100:4").find("A100").throughput(1), 55675.64, 5e-3);
  EXPECT_NEAR(tables_for("llama2_70b", "A100:4+V100:6+L4:8+L4x2:4+T4:10+T4x2:6+T4x4:4")
                  .find("A100")
                  .throughput(1),
              31327.49, 5e-3);
  EXPECT_EQ(tables_for("llama2_70b", "A100:4").find("A100").typical_layers, 12);
  EXPECT_TRUE(tables_for("llama2_70b", "A100:4").small_cluster);
}

TEST(ThroughputModel, ClassOrderOfTheCallerDoesNotMatter) {
  PaperModelProfile paper = load_paper_profile("llama2_70b");
  auto classes = test::paper_classes(
      paper, test::parse_composition("A100:4+V100:6+L4:8+L4x2:4+T4:10+T4x2:6+T4x4:4"));
  ThroughputTables a = compute_throughput(80, classes);
  std::reverse(classes.begin(), classes.end());
  ThroughputTables b = compute_throughput(80, classes);
  ASSERT_EQ(a.classes.size(), b.classes.size());
  for (std::size_t i = 0; i < a.classes.size(); ++i) {
    EXPECT_EQ(a.classes[i].name, b.classes[i].name);
    for (std::size_t k = 0; k < a.classes[i].by_layers.size(); ++k) {
      EXPECT_EQ(a.classes[i].by_layers[k].throughput_tps, b.classes[i].by_layers[k].throughput_tps);
    }
  }
  EXPECT_TRUE(class_order_less("A100", "V100"));
  EXPECT_TRUE(class_order_less("L4x2", "T4"));
  EXPECT_TRUE(class_order_less("T4x4", "A10G"));  // unknown names come last, by name
  EXPECT_TRUE(class_order_less("A10G", "H100"));
  EXPECT_THROW(a.find("H100"), Error);
}

TEST(ThroughputModel, InvalidClassesAreErrors) {
  PaperModelProfile paper = load_paper_profile("llama2_70b");
  auto base = test::paper_classes(paper, test::parse_composition("A100:4+T4:2"));
  EXPECT_THROW(compute_throughput(80, {}), Error);
  EXPECT_THROW(compute_throughput(0, base), Error);
  auto c = base;
  c[0].count = 0;
  EXPECT_THROW(compute_throughput(80, c), Error);
  c = base;
  c[1].typical_layers_small = 5;  // T4 holds at most 4
  EXPECT_THROW(compute_throughput(80, c), Error);
  c = base;
  c[0].initial_perf = 0;
  EXPECT_THROW(compute_throughput(80, c), Error);
  c = base;
  c.push_back(c[0]);
  EXPECT_THROW(compute_throughput(80, c), Error);  // duplicate type
}

TEST(ThroughputModel, TinyKvCacheGivesZeroThroughputOffTypicalAndAnErrorAtTypical) {
  PaperModelProfile paper = load_paper_profile("llama2_70b");
  auto c = test::paper_classes(paper, test::parse_composition("A100:4+T4:12"));
  c[1].profile.vllm_blocks = {1, 1, 1, 1};  // T4: 16 tokens of KV per layer
  try {
    compute_throughput(80, c);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("T4"), std::string::npos) << e.what();
  }
  // Off the typical layer count an empty typical batch is just 0 tokens/s.
  std::vector<int> typ = {8, 3};
  std::vector<double> perf = {80, 12.5};
  EXPECT_EQ(typical_batch(80, c, typ, perf, 1, 1).throughput_tps, 0.0);
}

}  // namespace
}  // namespace helix
