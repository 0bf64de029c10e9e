#include "helix/model/model_spec.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helix/core/error.h"
#include "support/test_support.h"

namespace helix {
namespace {

TEST(ModelSpec, PaperPresetsCarryThePapersConstants) {
  ModelSpec m70 = model_preset("llama2-70b");
  EXPECT_EQ(m70.num_layers, 80);
  EXPECT_DOUBLE_EQ(m70.layer_param_bytes, 1.53e9);
  EXPECT_DOUBLE_EQ(m70.activation_bytes_per_token, 16384);
  EXPECT_DOUBLE_EQ(m70.token_size_bytes, 2);
  EXPECT_EQ(m70.profile_key, "llama2_70b");
  ModelSpec m30 = model_preset("llama1-30b");
  EXPECT_EQ(m30.num_layers, 60);
  EXPECT_DOUBLE_EQ(m30.layer_param_bytes, 1.0e9);
  EXPECT_DOUBLE_EQ(m30.activation_bytes_per_token, 13312);
}

TEST(ModelSpec, Llama3_8bFromConfigHasGqaKvSize) {
  ModelSpec m = model_preset("llama3-8b");
  EXPECT_EQ(m.num_layers, 32);
  EXPECT_EQ(m.head_dim, 128);
  // 8 KV heads x 128 dims x (K and V) x 2 bytes.
  EXPECT_DOUBLE_EQ(m.kv_bytes_per_token_per_layer, 8 * 128 * 2 * 2);
  EXPECT_DOUBLE_EQ(m.activation_bytes_per_token, 4096 * 2);
  // 4096*(4096*2 + 1024*2) + 3*4096*14336 + 2*4096 = 218,112,000 params per block.
  EXPECT_DOUBLE_EQ(m.layer_param_bytes, 218112000.0 * 2);
  EXPECT_TRUE(m.profile_key.empty());
}

TEST(ModelSpec, Qwen2ConfigAddsAttentionBias) {
  nlohmann::json config = {{"model_type", "qwen2"},      {"num_hidden_layers", 2},
                           {"hidden_size", 64},          {"num_attention_heads", 4},
                           {"num_key_value_heads", 2},   {"intermediate_size", 128},
                           {"vocab_size", 151936},       {"torch_dtype", "float32"}};
  ModelSpec m = model_from_hf_config(config, "test");
  double params = 2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64 + (64 + 2 * 32);
  EXPECT_DOUBLE_EQ(m.layer_param_bytes, params * 4);
  EXPECT_DOUBLE_EQ(m.token_size_bytes, 4);  // vocab beyond 16 bits
}

TEST(ModelSpec, BadConfigsNameTheField) {
  nlohmann::json config = {{"hidden_size", 64}};
  try {
    model_from_hf_config(config, "cfg.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cfg.json: missing field 'num_hidden_layers'");
  }
  config = {{"num_hidden_layers", 2}, {"hidden_size", 64}, {"num_attention_heads", 4},
            {"intermediate_size", 1}, {"vocab_size", 10}, {"torch_dtype", "float8"}};
  EXPECT_THROW(model_from_hf_config(config, "cfg.json"), Error);
  EXPECT_THROW(model_preset("gpt-5"), Error);
}

TEST(ModelSpec, ResolvesAConfigFileOrDirectory) {
  test::TempDir dir;
  dir.write("m/config.json", R"({"num_hidden_layers": 4, "hidden_size": 256,
      "num_attention_heads": 8, "intermediate_size": 512, "vocab_size": 1000})");
  ModelSpec from_dir = resolve_model((dir.path() / "m").string());
  ModelSpec from_file = resolve_model((dir.path() / "m/config.json").string());
  EXPECT_EQ(from_dir.num_layers, 4);
  EXPECT_EQ(from_file.layer_param_bytes, from_dir.layer_param_bytes);
  dir.write("bad.json", "{not json");
  EXPECT_THROW(resolve_model((dir.path() / "bad.json").string()), Error);
  EXPECT_THROW(resolve_model((dir.path() / "missing.json").string()), Error);
}

}  // namespace
}  // namespace helix
