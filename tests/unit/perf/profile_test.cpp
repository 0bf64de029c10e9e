#include "helix/perf/profile.h"

#include <gtest/gtest.h>

#include "helix/core/error.h"

namespace helix {
namespace {

TEST(PaperProfile, EmbeddedModelsAreListed) {
  EXPECT_EQ(paper_model_keys(), (std::vector<std::string>{"llama1_30b", "llama2_70b"}));
  EXPECT_TRUE(has_paper_model("llama2_70b"));
  EXPECT_FALSE(has_paper_model("llama3_8b"));
  EXPECT_FALSE(has_paper_model(""));
  EXPECT_THROW(load_paper_profile("llama3_8b"), Error);
}

TEST(PaperProfile, Llama70bConstantsMatchSpec) {
  PaperModelProfile p = load_paper_profile("llama2_70b");
  EXPECT_EQ(p.num_layers, 80);
  EXPECT_EQ(p.layer_param_bytes, 1.53e9);
  EXPECT_EQ(p.activation_bytes_per_token, 16384);
  EXPECT_EQ(p.gpus.size(), 7u);
  EXPECT_EQ(p.typical_layers.at("A100"), 8);
  EXPECT_EQ(p.typical_layers_small.at("L4x2"), 14);
  EXPECT_EQ(p.initial_perf.at("T4"), 12.5);
  EXPECT_EQ(p.find("H100"), nullptr);

  const GpuProfile& a100 = *p.find("A100");
  EXPECT_TRUE(a100.measured);
  EXPECT_EQ(a100.max_layers, 12);
  EXPECT_EQ(a100.vllm_blocks.front(), 498326);
  EXPECT_EQ(a100.kv_cache_capacity(12), 3377472);  // §1.5 worked example
  InferenceLimits l = a100.limits(12);
  EXPECT_EQ(l.prompt_max_requests, 3);
  EXPECT_EQ(l.prompt_max_tokens, 3 * 2048);
  EXPECT_EQ(l.decode_max_tokens, 300);
  EXPECT_EQ(l.decode_max_context, 300000);
  EXPECT_EQ(a100.limits(9).decode_max_tokens, 480);
  EXPECT_THROW(a100.limits(13), Error);
  EXPECT_THROW(a100.kv_cache_capacity(0), Error);

  // Tables in seconds; the worked example's t_d(4) = 1.4 ms and t_p(723) = 4.892 ms.
  EXPECT_DOUBLE_EQ(a100.decode.at(4), 1.4e-3);
  EXPECT_NEAR(a100.prompt.at(723), 4.892e-3, 1e-12);
  EXPECT_EQ(a100.prompt.max_tokens(), 11250);
  EXPECT_EQ(a100.decode.max_tokens(), 800);
}

TEST(PaperProfile, Llama30bPerLayerDictsAreLoaded) {
  PaperModelProfile p = load_paper_profile("llama1_30b");
  EXPECT_EQ(p.num_layers, 60);
  const GpuProfile& t4x4 = *p.find("T4x4");
  EXPECT_EQ(t4x4.max_layers, 30);
  EXPECT_EQ(t4x4.decode_max_tokens.back(), 25);
  EXPECT_EQ(t4x4.vllm_blocks.back(), 1641);
  EXPECT_EQ(p.find("L4x2")->prompt_max_requests.front(), 2);
}

TEST(PaperProfile, ValidateRejectsInconsistentTables) {
  GpuProfile g = *load_paper_profile("llama2_70b").find("T4");
  g.vllm_blocks.pop_back();
  EXPECT_THROW(g.validate(), Error);
  g = *load_paper_profile("llama2_70b").find("T4");
  g.decode_max_tokens[0] = 0;
  EXPECT_THROW(g.validate(), Error);
}

}  // namespace
}  // namespace helix
