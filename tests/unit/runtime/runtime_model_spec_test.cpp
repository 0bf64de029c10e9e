#include "helix/runtime/runtime_model_spec.h"

#include <gtest/gtest.h>

#include "helix/engine/random_model.h"
#include "helix/perf/first_principles.h"
#include "support/test_support.h"

namespace helix::runtime {
namespace {

ModelFiles write_model(const test::TempDir& dir, const std::string& preset, DType dtype, WeightFormat format) {
  RandomModelOptions o;
  o.config = random_model_preset(preset);
  o.dtype = dtype;
  o.format = format;
  write_random_model(o, dir.path() / "m");
  return open_model(dir.path() / "m");
}

// Per block of a LLaMA layer: the seven projections' values, and the two norms'.
double matrix_values(const LlamaConfig& c) {
  const double h = c.hidden_size, q = double(c.num_heads) * c.head_dim, kv = c.kv_dim();
  return 2 * h * q + 2 * h * kv + 3 * h * c.intermediate_size;
}

TEST(RuntimeModelSpec, Bf16WeightsTakeTheBytesTheConfigFormulaCounts) {
  test::TempDir dir;
  const ModelFiles files = write_model(dir, "tiny", DType::BF16, WeightFormat::kSafetensors);
  const ModelSpec served = runtime_model_spec(files, KvDtype::F32, ActivationDtype::F32);
  const ModelSpec config = model_from_hf_config(to_hf_json(files.config), "config");
  // Two independent counts: the files' tensor sizes, and the config's parameter formula at 2 bytes.
  EXPECT_DOUBLE_EQ(served.layer_param_bytes, config.layer_param_bytes);
  EXPECT_DOUBLE_EQ(served.layer_params, config.layer_params);
  EXPECT_EQ(served.num_layers, files.config.num_layers);
}

TEST(RuntimeModelSpec, Q8WeightsTakeTheirBlocksBytesNotTwoPerValue) {
  test::TempDir dir;
  const ModelFiles files = write_model(dir, "tiny", DType::Q8_0, WeightFormat::kGguf);
  const ModelSpec served = runtime_model_spec(files, KvDtype::F32, ActivationDtype::F32);
  const LlamaConfig& c = files.config;
  // Q8_0: 32 values in 34 bytes (an f16 scale and 32 int8); the norms stay f32.
  const double expected = matrix_values(c) * 34.0 / 32.0 + 2.0 * c.hidden_size * 4;
  EXPECT_DOUBLE_EQ(served.layer_param_bytes, expected);
  EXPECT_DOUBLE_EQ(served.layer_params, matrix_values(c) + 2.0 * c.hidden_size);
  EXPECT_LT(served.layer_param_bytes, 0.6 * model_from_hf_config(to_hf_json(c), "config").layer_param_bytes);
}

TEST(RuntimeModelSpec, KvAndActivationsCountWhatTheCacheStoresAndTheWireCarries) {
  test::TempDir dir;
  const ModelFiles files = write_model(dir, "tiny-llama3", DType::BF16, WeightFormat::kSafetensors);
  const ModelSpec f32 = runtime_model_spec(files, KvDtype::F32, ActivationDtype::F32);
  const ModelSpec f16 = runtime_model_spec(files, KvDtype::F16, ActivationDtype::F32);
  const LlamaConfig& c = files.config;
  EXPECT_DOUBLE_EQ(f32.kv_bytes_per_token_per_layer, 2.0 * c.kv_dim() * 4);  // K and V, f32 each
  EXPECT_DOUBLE_EQ(f16.kv_bytes_per_token_per_layer, 2.0 * c.kv_dim() * 2);
  EXPECT_DOUBLE_EQ(f32.activation_bytes_per_token, 4.0 * c.hidden_size);  // float32 hidden states on the wire
  EXPECT_DOUBLE_EQ(f32.token_size_bytes, 4);                              // int32 token ids
  EXPECT_DOUBLE_EQ(f16.layer_param_bytes, f32.layer_param_bytes);
  const ModelSpec half_wire = runtime_model_spec(files, KvDtype::F32, ActivationDtype::F16);
  EXPECT_DOUBLE_EQ(half_wire.activation_bytes_per_token, 2.0 * c.hidden_size);  // --activations f16
  EXPECT_DOUBLE_EQ(half_wire.token_size_bytes, 4);
}

TEST(RuntimeModelSpec, AnF16CacheDoublesTheKvTokensAFirstPrinciplesProfilePlans) {
  test::TempDir dir;
  const ModelFiles files = write_model(dir, "tiny", DType::BF16, WeightFormat::kSafetensors);
  GpuType gpu;
  gpu.name = "small";
  gpu.vram_bytes = 4e9;
  gpu.mem_bandwidth_Bps = 1e11;
  gpu.peak_flops = 1e13;
  const GpuProfile f32 = first_principles_profile(runtime_model_spec(files, KvDtype::F32, ActivationDtype::F32), gpu);
  const GpuProfile f16 = first_principles_profile(runtime_model_spec(files, KvDtype::F16, ActivationDtype::F32), gpu);
  ASSERT_EQ(f32.max_layers, f16.max_layers);
  for (int k = 1; k <= f32.max_layers; ++k) {
    EXPECT_NEAR(double(f16.kv_cache_capacity(k)) / double(f32.kv_cache_capacity(k)), 2.0, 1e-3) << k << " layers";
  }
}

}  // namespace
}  // namespace helix::runtime
