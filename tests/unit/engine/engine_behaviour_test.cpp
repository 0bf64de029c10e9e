// What the engine refuses, what it frees, what it loads, and how much it touches.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "helix/engine/generator.h"
#include "helix/engine/llama_config.h"
#include "helix/engine/random_model.h"
#include "helix/engine/stage_engine.h"
#include "helix/engine/stage_weights.h"
#include "support/error_expectations.h"
#include "support/test_support.h"

namespace helix {
namespace {

using test::TempDir;

std::filesystem::path tiny_model(const TempDir& dir, DType dtype = DType::F32) {
  RandomModelOptions o;
  o.config = random_model_preset("tiny");
  o.dtype = dtype;
  auto out = dir.path() / "tiny";
  write_random_model(o, out);
  return out;
}

StageEngine engine(const std::filesystem::path& p, std::int64_t kv_tokens = 256, LayerRange r = {0, 4}) {
  EngineOptions o;
  o.kv.capacity_tokens = kv_tokens;
  return StageEngine(open_model(p), r, o);
}

using test::error_message;

StepInput prefill(SequenceId id, const std::vector<int>& tokens, int position = 0) {
  StepInput in;
  in.chunks = {{id, position, static_cast<int>(tokens.size()), true}};
  in.tokens = tokens;
  return in;
}

// A CPU stage given a share of the host's memory sizes its cache from what the share
// leaves beside the stage's weights: here 1 GiB and a half token's bytes (off a
// block boundary), whole blocks of it. A share that the weights fill is refused,
// naming the figures.
TEST(EngineKvCapacity, AShareOfTheHostsMemoryIsWhatItLeavesBesideTheWeights) {
  TempDir dir;
  const std::filesystem::path model = tiny_model(dir);
  const std::size_t weights = stage_weight_bytes(bind_stage_weights(open_model(model), {0, 4}));
  const std::size_t per_token = kv_bytes_per_token(4, random_model_preset("tiny").kv_dim(), KvDtype::F32);
  const std::size_t cache = (std::size_t{1} << 30) + per_token / 2;
  const DeviceMemory host = host_memory();
  if (host.free_bytes < weights + 2 * cache) GTEST_SKIP() << "the host has under 2 GiB available";
  EngineOptions o;
  o.kv.memory_share = static_cast<double>(weights + cache) / static_cast<double>(host.total_bytes);
  const StageEngine e(open_model(model), {0, 4}, o);
  EXPECT_EQ(e.kv_ledger().capacity_tokens(), static_cast<std::int64_t>(cache / per_token / 16 * 16));

  o.kv.memory_share = static_cast<double>(weights / 2) / static_cast<double>(host.total_bytes);
  test::expect_contains(error_message([&] { StageEngine(open_model(model), {0, 4}, o); }),
                        {"KV cache on the cpu: ", "nothing is left for a KV cache"});
}

TEST(EngineStep, RefusesInvalidBatchesWithoutChangingState) {
  TempDir dir;
  StageEngine e = engine(tiny_model(dir));
  std::vector<int> t = {1, 2, 3};
  e.step(prefill(1, t));
  EXPECT_NE(error_message([&] { e.step(prefill(1, t, 5)); }).find("continues at position 5 but 3 tokens are cached"),
            std::string::npos);
  EXPECT_NE(error_message([&] { e.step(prefill(2, t, 4)); }).find("must start at position 0"), std::string::npos);
  std::vector<int> bad = {1, 999};
  EXPECT_NE(error_message([&] { e.step(prefill(3, bad)); }).find("token id 999 is outside the vocabulary of 384"),
            std::string::npos);
  StepInput dup;
  std::vector<int> two = {1, 2};
  dup.chunks = {{4, 0, 1, true}, {4, 1, 1, true}};
  dup.tokens = two;
  EXPECT_NE(error_message([&] { e.step(dup); }).find("appears twice"), std::string::npos);
  StepInput wrong_count = prefill(5, t);
  wrong_count.chunks[0].length = 2;
  EXPECT_NE(error_message([&] { e.step(wrong_count); }).find("3 token ids for chunks totalling 2"), std::string::npos);
  std::vector<int> long_prompt(600, 1);  // context is 512
  EXPECT_NE(error_message([&] { e.step(prefill(6, long_prompt)); }).find("beyond the model's context of 512"),
            std::string::npos);
  EXPECT_EQ(e.kv_cache().num_sequences(), 1u);
  EXPECT_EQ(e.kv_cache().length(1), 3);
}

TEST(EngineStep, FullKvCacheRefusesTheStepAndReleaseMakesRoom) {
  TempDir dir;
  StageEngine e = engine(tiny_model(dir), 64);  // 4 blocks of 16
  std::vector<int> a(40, 3), b(30, 4);
  e.step(prefill(1, a));  // 3 blocks
  std::int64_t free_before = e.kv_cache().free_blocks();
  EXPECT_THROW(e.step(prefill(2, b)), KvCacheFull);
  EXPECT_EQ(e.kv_cache().free_blocks(), free_before);
  EXPECT_FALSE(e.kv_cache().contains(2));
  e.release(1);
  EXPECT_NO_THROW(e.step(prefill(2, b)));
}

TEST(EngineStep, MiddleStageChecksTheHiddenStateSize) {
  TempDir dir;
  StageEngine mid = engine(tiny_model(dir), 64, {1, 3});
  StepInput in;
  std::vector<float> hidden(2 * 64 + 1, 0.5f);
  in.chunks = {{1, 0, 2, false}};
  in.hidden = hidden;
  EXPECT_NE(error_message([&] { mid.step(in); }).find("129 hidden values for 2 tokens of hidden size 64"),
            std::string::npos);
}

// Partial inference: a request that ran layers 0-1 on [0,2) runs only layers 2-3
// on an overlapping stage [1,4). The result must equal the whole model exactly,
// for the prompt and for a decode step after it.
TEST(EngineStep, SkippedLayersOfAnOverlappingStageGiveTheWholeModelsLogits) {
  TempDir dir;
  auto path = tiny_model(dir);
  StageEngine whole = engine(path, 64, {0, 4});
  StageEngine front = engine(path, 64, {0, 2});
  StageEngine back = engine(path, 64, {1, 4});
  const std::vector<int> prompt = {3, 14, 15, 92, 65};
  auto run_split = [&](const StepInput& first) {
    StepOutput h = front.step(first);
    StepInput rest;
    rest.chunks = first.chunks;
    rest.hidden = h.hidden;
    rest.skip_layers = 1;
    return back.step(rest).logits;
  };
  EXPECT_EQ(run_split(prefill(1, prompt)), whole.step(prefill(1, prompt)).logits);
  const std::vector<int> next = {7};
  EXPECT_EQ(run_split(prefill(1, next, 5)), whole.step(prefill(1, next, 5)).logits);
  const std::vector<float> zeros(64, 0.f);
  StepInput all;
  all.chunks = {{2, 0, 1, true}};
  all.hidden = zeros;
  all.skip_layers = 3;
  EXPECT_NE(error_message([&] { back.step(all); }).find("cannot skip 3 of the stage's 3 layers"), std::string::npos);
}

TEST(Generator, StopsAtMaxTokensOrAStopTokenAndFreesItsBlocks) {
  TempDir dir;
  StageEngine e = engine(tiny_model(dir, DType::BF16));
  Generator g(e);
  SamplingParams p;
  p.max_tokens = 12;
  std::vector<int> prompt = {382, 10, 20, 30};
  GenerationResult r = g.generate(prompt, p);
  EXPECT_EQ(r.tokens.size(), 12u);
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(e.kv_cache().num_sequences(), 0u);
  GenerationResult again = g.generate(prompt, p);
  EXPECT_EQ(again.tokens, r.tokens);  // greedy is deterministic
  // Make the 5th generated token a stop token: generation ends before it.
  p.stop_tokens = {r.tokens[4]};
  std::size_t first = static_cast<std::size_t>(std::find(r.tokens.begin(), r.tokens.end(), r.tokens[4]) - r.tokens.begin());
  GenerationResult stopped = g.generate(prompt, p);
  EXPECT_EQ(stopped.finish_reason, "stop");
  EXPECT_EQ(stopped.tokens, std::vector<int>(r.tokens.begin(), r.tokens.begin() + static_cast<std::ptrdiff_t>(first)));
  int seen = 0;
  GenerationResult cancelled = g.generate(prompt, SamplingParams{}, [&](int) { return ++seen < 3; });
  EXPECT_EQ(cancelled.finish_reason, "cancelled");
  EXPECT_EQ(cancelled.tokens.size(), 3u);
}

TEST(EngineLoading, AStageTouchesOnlyItsOwnLayers) {
  TempDir dir;
  RandomModelOptions o;
  o.config = random_model_preset("small");  // 8 layers of ~3.4 MB (F32) each
  o.dtype = DType::F32;
  write_random_model(o, dir.path() / "small");
  ModelFiles files = open_model(dir.path() / "small");
  std::size_t file_bytes = files.store->file_bytes();
  auto store = files.store;
  {
    EngineOptions eo;
    eo.kv.capacity_tokens = 64;
    StageEngine mid(std::move(files), {2, 4}, eo);
    StepInput in;
    std::vector<float> hidden(8 * 512, 0.1f);
    in.chunks = {{1, 0, 8, false}};
    in.hidden = hidden;
    mid.step(in);
    std::size_t resident = resident_bytes(*store);
    if (resident == 0) GTEST_SKIP() << "/proc/self/smaps not readable";
    std::size_t layer_bytes = 0;
    for (int l = 2; l < 4; ++l) {
      for (const auto& name : store->names()) {
        if (name.starts_with("model.layers." + std::to_string(l) + ".")) layer_bytes += store->at(name).nbytes;
      }
    }
    std::printf("stage [2,4): %zu bytes of the mapping resident; its layers hold %zu; file %zu\n", resident,
                layer_bytes, file_bytes);
    // Its two layers (plus page rounding and the header), far below the file.
    EXPECT_GE(resident, layer_bytes);
    EXPECT_LT(resident, layer_bytes + 256 * 1024) << "file " << file_bytes;
    EXPECT_LT(resident * 3, file_bytes);
  }
}

TEST(EngineLoading, WeightsAreFoundInGgufFilesAndDirectoriesWithWeightFiles) {
  TempDir dir;
  const auto safetensors = tiny_model(dir);
  EXPECT_TRUE(holds_model_weights(safetensors));
  EXPECT_TRUE(holds_model_weights(test::source_dir() / "data/models/stories260K/model.gguf"));
  EXPECT_TRUE(holds_model_weights(test::source_dir() / "data/models/stories260K"));
  // A config.json alone describes a model but holds none of it (the planner's presets' case).
  std::filesystem::create_directories(dir.path() / "config-only");
  std::filesystem::copy(safetensors / "config.json", dir.path() / "config-only" / "config.json");
  EXPECT_FALSE(holds_model_weights(dir.path() / "config-only"));
  EXPECT_FALSE(holds_model_weights(dir.path() / "config-only" / "config.json"));
  EXPECT_FALSE(holds_model_weights(dir.path() / "nothing"));
}

TEST(EngineLoading, BrokenFilesGiveErrorsNamingTheProblem) {
  TempDir dir;
  auto good = tiny_model(dir);
  // Truncated weights.
  auto cut = dir.path() / "cut";
  std::filesystem::copy(good, cut);
  std::filesystem::resize_file(cut / "model.safetensors", 1000);
  EXPECT_NE(error_message([&] { open_model(cut); }).find("model.safetensors"), std::string::npos);
  // A config that disagrees with the tensors.
  auto wrong = dir.path() / "wrong";
  std::filesystem::copy(good, wrong);
  nlohmann::json c = nlohmann::json::parse(test::read_file(wrong / "config.json"));
  c["intermediate_size"] = 200;
  std::ofstream(wrong / "config.json") << c.dump();
  std::string msg = error_message([&] { engine(wrong); });
  EXPECT_NE(msg.find("model.layers.0.mlp.gate_proj.weight' has shape [192, 64], expected [200, 64]"), std::string::npos)
      << msg;
  // Unsupported architecture options are refused, not ignored.
  c["intermediate_size"] = 192;
  c["hidden_act"] = "gelu";
  std::ofstream(wrong / "config.json") << c.dump();
  EXPECT_NE(error_message([&] { open_model(wrong); }).find("hidden_act 'gelu'"), std::string::npos);
  c["hidden_act"] = "silu";
  c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4}};
  std::ofstream(wrong / "config.json") << c.dump();
  EXPECT_NE(error_message([&] { open_model(wrong); }).find("rope type 'yarn' is not supported"), std::string::npos);
  EXPECT_NE(error_message([&] { open_model(dir.path() / "nothing"); }).find("no such model"), std::string::npos);
  // Options whose semantics the engine does not implement are refused, not dropped.
  nlohmann::json cfg = to_hf_json(random_model_preset("tiny"));
  cfg["attention_bias"] = true;
  EXPECT_NE(error_message([&] { llama_config_from_hf(cfg, "cfg"); }).find("attention_bias true"), std::string::npos);
  nlohmann::json qwen = to_hf_json(random_model_preset("tiny-qwen2"));
  qwen["use_sliding_window"] = true;
  qwen["sliding_window"] = 8;
  EXPECT_NE(error_message([&] { llama_config_from_hf(qwen, "cfg"); }).find("use_sliding_window"), std::string::npos);
  // HF semantics of the window: Mistral defaults to 4096, null means none, LLaMA never has one.
  nlohmann::json mistral = to_hf_json(random_model_preset("tiny-mistral"));
  EXPECT_EQ(llama_config_from_hf(mistral, "cfg").sliding_window, 16);
  mistral.erase("sliding_window");
  EXPECT_EQ(llama_config_from_hf(mistral, "cfg").sliding_window, 4096);
  mistral["sliding_window"] = nullptr;
  EXPECT_EQ(llama_config_from_hf(mistral, "cfg").sliding_window, 0);
  cfg["attention_bias"] = false;
  cfg["sliding_window"] = 8;
  EXPECT_EQ(llama_config_from_hf(cfg, "cfg").sliding_window, 0);
  EXPECT_NE(error_message([&] { engine(good, 256, {2, 7}); }).find("layer range [2, 7)"), std::string::npos);
}

}  // namespace
}  // namespace helix
