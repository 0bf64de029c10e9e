// The GPU stage engine against the float64 reference model and against the CPU
// engine: logits at every position of a 40-token prefill + decode for every dtype
// the GPU reads, a split [0, a) + [a, L) equal to the whole, the trained stories260K
// model's greedy text equal to the CPU's, and invalid steps refused without a
// change. They need a GPU: without one each test skips and prints why.
#include "helix/cuda/cuda_stage_engine.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "helix/cuda/device.h"
#include "helix/cuda/device_array.h"
#include "helix/engine/random_model.h"
#include "helix/engine/stage_engine.h"
#include "helix/engine/stage_weights.h"
#include "unit/cuda/gpu_test.h"
#include "support/test_support.h"
#include "unit/engine/reference_model.h"

namespace helix {
namespace {

using test::ReferenceModel;
using test::relative_error;
using test::TempDir;

class CudaEngine : public test::GpuTest {};

std::vector<int> prompt_tokens(int n, int vocab) {
  std::vector<int> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 37 + 5) % vocab);
  return t;
}

// Hidden states of `tokens` rows, O(1) as a layer's input is.
std::vector<float> prompt_hidden(int tokens, int hidden_size) {
  std::vector<float> h(static_cast<std::size_t>(tokens * hidden_size));
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<float>((static_cast<int>(i * 7919 % 2003) - 1001)) / 1001.0f;
  return h;
}

// A random model of `config` (seed 7) in `dir`, named after `name` and the dtype.
std::filesystem::path make_model(const TempDir& dir, const LlamaConfig& config, const std::string& name, DType dtype,
                                 WeightFormat format) {
  RandomModelOptions o;
  o.config = config;
  o.seed = 7;
  o.dtype = dtype;
  o.format = format;
  auto out = dir.path() / (name + "-" + std::string(dtype_name(dtype)));
  write_random_model(o, out);
  return out;
}

std::filesystem::path make_model(const TempDir& dir, const std::string& preset, DType dtype, WeightFormat format) {
  return make_model(dir, random_model_preset(preset), preset, dtype, format);
}

CudaStageEngine gpu_engine(const std::filesystem::path& path, LayerRange layers = {0, 0}, bool graphs = true,
                           KvDtype kv = KvDtype::F32) {
  ModelFiles m = open_model(path);
  if (layers.size() == 0) layers = {0, m.config.num_layers};
  CudaEngineOptions o;
  o.kv.capacity_tokens = 1024;
  o.kv.dtype = kv;
  o.graphs = graphs;
  return CudaStageEngine(std::move(m), layers, o);
}

StepInput chunk(SequenceId id, int position, const std::vector<int>& tokens, int from, int count) {
  StepInput in;
  in.chunks = {{id, position, count, true}};
  in.tokens = std::span<const int>(tokens.data() + from, static_cast<std::size_t>(count));
  return in;
}

// Prefill 30 tokens, decode 10 (the paged cache read back at every step), each
// logits vector within `tolerance` (max |error| / max |logit|) of float64's.
TEST_F(CudaEngine, LogitsAtEveryPositionNearFloat64ForEveryDtype) {
  struct Case {
    const char* preset;
    DType dtype;
    WeightFormat format;
    double tolerance;  // F32, F16 (widened): f32 arithmetic; BF16: x rounded to bf16, as the CPU's amx level
  };
  for (const Case& c : {Case{"tiny", DType::F32, WeightFormat::kSafetensors, 1e-4},
                        Case{"tiny", DType::F16, WeightFormat::kSafetensors, 1e-4},
                        Case{"tiny", DType::BF16, WeightFormat::kGguf, 3e-2},
                        // Q8_0: the prefill's 30 tokens go through cuBLAS, q * d rounded to bf16 as x is
                        Case{"tiny", DType::Q8_0, WeightFormat::kGguf, 3e-2},
                        Case{"tiny-llama3", DType::F32, WeightFormat::kSafetensors, 1e-4},
                        Case{"tiny-qwen2", DType::F32, WeightFormat::kSafetensors, 1e-4},
                        Case{"tiny-mistral", DType::F32, WeightFormat::kSafetensors, 1e-4}}) {
    SCOPED_TRACE(std::string(c.preset) + " " + std::string(dtype_name(c.dtype)));
    TempDir dir;
    const auto path = make_model(dir, c.preset, c.dtype, c.format);
    const ModelFiles files = open_model(path);
    const std::vector<int> tokens = prompt_tokens(40, files.config.vocab_size);
    const auto expected = ReferenceModel(files).logits(tokens);
    CudaStageEngine e = gpu_engine(path);
    EXPECT_LT(relative_error(e.step(chunk(1, 0, tokens, 0, 30)).logits, expected[29]), c.tolerance) << "prefill";
    for (int p = 30; p < 40; ++p)
      EXPECT_LT(relative_error(e.step(chunk(1, p, tokens, p, 1)).logits, expected[static_cast<std::size_t>(p)]),
                c.tolerance)
          << "decode at " << p;
  }
}

// An f16 KV cache: each key and value rounded to f16 as rotate_and_cache writes it
// (__float2half_rn), read back exactly by the decode and prefill kernels. Against a
// reference that rounds them the same way the bound is f32 arithmetic's (1e-4), for
// bias, grouped-query and windowed attention; decode steps replayed from graphs.
TEST_F(CudaEngine, F16KvCacheGivesTheReferencesLogitsWithF16KeysAndValues) {
  for (const char* preset : {"tiny", "tiny-llama3", "tiny-qwen2", "tiny-mistral"}) {
    SCOPED_TRACE(preset);
    TempDir dir;
    const auto path = make_model(dir, preset, DType::F32, WeightFormat::kSafetensors);
    const ModelFiles files = open_model(path);
    const std::vector<int> tokens = prompt_tokens(40, files.config.vocab_size);
    const auto expected = ReferenceModel(files).logits(tokens, true);
    CudaStageEngine e = gpu_engine(path, {0, 0}, true, KvDtype::F16);
    EXPECT_EQ(e.kv_ledger().capacity_tokens(), 1024);
    EXPECT_LT(relative_error(e.step(chunk(1, 0, tokens, 0, 30)).logits, expected[29]), 1e-4) << "prefill";
    for (int p = 30; p < 40; ++p)
      EXPECT_LT(relative_error(e.step(chunk(1, p, tokens, p, 1)).logits, expected[static_cast<std::size_t>(p)]), 1e-4)
          << "decode at " << p;
    EXPECT_GT(e.graph_replays(), 0);
  }
}

// Every other block type (Q4_0, Q5_0 and the _1 types' offsets; the K-quants of the
// Q4_K_M and Q5_K_M downloads) on a model wide enough for the super-blocks of 256
// (hidden 512, MLP 1536): the same 40-token check against float64 of the
// dequantized weights. The prefill's 30 tokens go through cuBLAS, the values
// rounded to bf16 as x is; the decode steps through the matvec kernels (exact
// values, over keys and values the prefill computed).
TEST_F(CudaEngine, BlockTypeModelsGiveLogitsNearFloat64) {
  for (DType dtype : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    TempDir dir;
    LlamaConfig config = random_model_preset("small");
    config.intermediate_size = 1536;
    config.num_layers = 2;
    const auto path = make_model(dir, config, "small", dtype, WeightFormat::kGguf);
    const ModelFiles files = open_model(path);
    const std::vector<int> tokens = prompt_tokens(40, files.config.vocab_size);
    const auto expected = ReferenceModel(files).logits(tokens);
    CudaStageEngine e = gpu_engine(path);
    EXPECT_LT(relative_error(e.step(chunk(1, 0, tokens, 0, 30)).logits, expected[29]), 3e-2) << "prefill";
    for (int p = 30; p < 40; ++p)
      EXPECT_LT(relative_error(e.step(chunk(1, p, tokens, p, 1)).logits, expected[static_cast<std::size_t>(p)]), 3e-2)
          << "decode at " << p;  // over the prefill's keys and values, computed with the rounded values
  }
}

// A share of the GPU's memory (a worker's default): the cache is what the share
// leaves beside what the stage allocated for its weights and the projections'
// scratch (here the weights and 1 GiB: the cache is 1 GiB less the scratch); its
// logits are those of a 1024-token cache. The share is the stage's own, so a second
// stage of the same share fits beside it; one whose share is more than what is
// free is refused before its uploads, naming the device.
TEST_F(CudaEngine, AShareOfTheGpusMemoryIsWhatItLeavesBesideTheWeights) {
  TempDir dir;
  const auto path = make_model(dir, "small", DType::F32, WeightFormat::kSafetensors);
  const ModelFiles files = open_model(path);
  const int layers = files.config.num_layers;
  const double weights = static_cast<double>(stage_weight_bytes(bind_stage_weights(files, {0, layers})));
  const double per_token = static_cast<double>(kv_bytes_per_token(layers, files.config.kv_dim(), KvDtype::F32));
  const std::vector<int> tokens = prompt_tokens(12, files.config.vocab_size);
  const std::vector<float> expected = gpu_engine(path).step(chunk(1, 0, tokens, 0, 12)).logits;
  const double total = static_cast<double>(cuda_device_memory().total_bytes), gib = 1 << 30;
  CudaEngineOptions o;
  o.kv.memory_share = (weights + gib) / total;
  CudaStageEngine first(open_model(path), {0, layers}, o), second(open_model(path), {0, layers}, o);
  for (const CudaStageEngine* e : {&first, &second}) {
    const double cache = static_cast<double>(e->kv_ledger().capacity_tokens()) * per_token;
    EXPECT_LE(cache, gib) << "the weights were not counted";
    EXPECT_GT(cache, gib - 256e6) << "more than 256 MB of scratch";
  }
  const std::vector<float> logits = first.step(chunk(1, 0, tokens, 0, 12)).logits;
  ASSERT_EQ(logits.size(), expected.size());
  for (std::size_t i = 0; i < logits.size(); ++i) ASSERT_NEAR(logits[i], expected[i], 1e-5f * (1.0f + std::abs(expected[i]))) << i;
  o.kv.memory_share = 1.0;
  std::string refused = "<no error>";
  try {
    CudaStageEngine all(open_model(path), {0, layers}, o);
  } catch (const Error& error) {
    refused = error.what();
  }
  EXPECT_NE(refused.find("KV cache on cuda:0: "), std::string::npos) << refused;
  EXPECT_NE(refused.find("of the device is free"), std::string::npos) << refused;
}

// Given its largest step, a stage sets that step's buffers aside before a memory
// share sizes its KV cache: the cache is smaller by what the same step makes an
// engine without it allocate (within a block and the block tables), and the step
// allocates nothing more. The step is the worst case: as many sequences as tokens,
// each wanting its logits.
TEST_F(CudaEngine, AMemoryShareSetsTheLargestStepsBuffersAside) {
  TempDir dir;
  const auto path = make_model(dir, "tiny", DType::F32, WeightFormat::kSafetensors);
  const ModelFiles files = open_model(path);
  const int layers = files.config.num_layers, step = 500;
  const std::vector<int> tokens = prompt_tokens(step, files.config.vocab_size);
  const double block = static_cast<double>(kv_bytes_per_token(layers, files.config.kv_dim(), KvDtype::F32)) * 16;
  CudaEngineOptions o;
  o.kv.memory_share = (static_cast<double>(stage_weight_bytes(bind_stage_weights(files, {0, layers}))) + (1 << 30)) /
                      static_cast<double>(cuda_device_memory().total_bytes);
  StepInput widest;
  for (int i = 0; i < step; ++i) widest.chunks.push_back({static_cast<SequenceId>(i + 1), 0, 1, true});
  widest.tokens = tokens;
  const auto growth_of_step = [&](CudaStageEngine& e) {
    const std::size_t before = cuda_detail::device_bytes_allocated();
    EXPECT_EQ(e.step(widest).logits.size(), static_cast<std::size_t>(step) * files.config.vocab_size);
    return static_cast<double>(cuda_detail::device_bytes_allocated() - before);
  };
  CudaStageEngine plain(open_model(path), {0, layers}, o);
  const double grown = growth_of_step(plain);
  EXPECT_GT(grown, 0.0);
  o.largest_step_tokens = step;
  CudaStageEngine aside(open_model(path), {0, layers}, o);
  EXPECT_EQ(growth_of_step(aside), 0.0);
  const double smaller = static_cast<double>(plain.kv_ledger().total_blocks() - aside.kv_ledger().total_blocks()) * block;
  EXPECT_NEAR(smaller, grown, block + 4.0 * static_cast<double>(plain.kv_ledger().total_blocks()));
}

// Stages [0, 2) and [2, 4) chained through the host give the whole model's logits.
TEST_F(CudaEngine, ASplitStageGivesTheWholeModelsLogits) {
  TempDir dir;
  const auto path = make_model(dir, "tiny", DType::F32, WeightFormat::kSafetensors);
  const std::vector<int> tokens = prompt_tokens(12, 384);
  CudaStageEngine whole = gpu_engine(path), front = gpu_engine(path, {0, 2}), back = gpu_engine(path, {2, 4});
  const std::vector<float> expected = whole.step(chunk(1, 0, tokens, 0, 12)).logits;
  const StepOutput mid = front.step(chunk(1, 0, tokens, 0, 12));
  StepInput in = chunk(1, 0, tokens, 0, 12);
  in.tokens = {};
  in.hidden = mid.hidden;
  const std::vector<float> split = back.step(in).logits;
  ASSERT_EQ(split.size(), expected.size());
  for (std::size_t i = 0; i < split.size(); ++i) ASSERT_NEAR(split[i], expected[i], 1e-5f * (1.0f + std::abs(expected[i]))) << i;
}

// Mixed batches against the CPU engine on the same steps: two prefills in one step,
// then a chunked prefill continuing at position 5 beside a decode and a new
// sequence, one chunk without logits, a released sequence whose blocks are handed
// out again, and a step that skips the first layer (hidden states in). Each step's
// logits (or hidden states) within f32 arithmetic of the CPU's.
// With f16 caches on both, each rounds the same keys and values the same way
// (IEEE's nearest, ties to even).
void expect_mixed_batches_match_the_cpu_engine(KvDtype kv) {
  SCOPED_TRACE(kv_dtype_name(kv));
  TempDir dir;
  const auto path = make_model(dir, "tiny-qwen2", DType::F32, WeightFormat::kSafetensors);
  const std::vector<int> t = prompt_tokens(24, 384);
  ModelFiles files = open_model(path);
  const int layers = files.config.num_layers;
  EngineOptions cpu_options;
  cpu_options.kv.capacity_tokens = 1024;
  cpu_options.kv.dtype = kv;
  StageEngine cpu(std::move(files), {0, layers}, cpu_options);
  CudaStageEngine gpu = gpu_engine(path, {0, 0}, true, kv);
  auto both = [&](const StepInput& in, const char* what) {
    const StepOutput a = cpu.step(in), b = gpu.step(in);
    ASSERT_EQ(a.logit_rows, b.logit_rows) << what;
    ASSERT_EQ(a.logits.size(), b.logits.size()) << what;
    ASSERT_EQ(a.hidden.size(), b.hidden.size()) << what;
    std::vector<double> reference(a.logits.begin(), a.logits.end());
    if (!a.logits.empty()) {
      EXPECT_LT(relative_error(b.logits, reference), 1e-4) << what;
    }
    std::vector<double> hidden(a.hidden.begin(), a.hidden.end());
    if (!a.hidden.empty()) {
      EXPECT_LT(relative_error(b.hidden, hidden), 1e-4) << what;
    }
  };
  StepInput first;
  first.chunks = {{1, 0, 5, true}, {2, 0, 7, true}};
  first.tokens = std::span<const int>(t.data(), 12);
  both(first, "two prefills");
  StepInput mixed;
  mixed.chunks = {{1, 5, 6, false}, {2, 7, 1, true}, {3, 0, 4, true}};
  mixed.tokens = std::span<const int>(t.data() + 12, 11);
  both(mixed, "chunked prefill without logits, a decode, a new sequence");
  cpu.release(2);
  gpu.release(2);
  StepInput reuse;
  reuse.chunks = {{4, 0, 9, true}, {1, 11, 1, true}};
  reuse.tokens = std::span<const int>(t.data() + 2, 10);
  both(reuse, "blocks of a released sequence handed out again");
  EXPECT_EQ(gpu.kv_ledger().blocks(4), cpu.kv_ledger().blocks(4));
  StepInput skip;
  skip.skip_layers = 1;
  skip.chunks = {{5, 0, 3, true}};
  const std::vector<float> hidden = prompt_hidden(3, cpu.config().hidden_size);
  skip.hidden = hidden;
  both(skip, "the first layer skipped");
}

TEST_F(CudaEngine, MixedBatchesMatchTheCpuEngine) {
  expect_mixed_batches_match_the_cpu_engine(KvDtype::F32);
  expect_mixed_batches_match_the_cpu_engine(KvDtype::F16);
}

void expect_replays_give_queued_bits(const std::string& preset, DType dtype) {
  TempDir dir;
  const auto path = make_model(dir, preset, dtype, WeightFormat::kGguf);
  CudaStageEngine replayed = gpu_engine(path, {0, 0}, true), queued = gpu_engine(path, {0, 0}, false);
  const std::vector<int> t = prompt_tokens(64, 384);
  auto both = [&](const StepInput& in, const std::string& what) {
    const StepOutput a = replayed.step(in), b = queued.step(in);
    ASSERT_EQ(a.logits, b.logits) << what;
  };
  SequenceId next = 1;
  int prefill = 6;
  for (int batch : {1, 3, 9, 1}) {
    std::vector<SequenceId> ids;
    for (int i = 0; i < batch; ++i) {
      ids.push_back(next);
      both(chunk(next++, 0, t, i, prefill), "prefill");
    }
    for (int step = 0; step < 4; ++step) {
      StepInput in;
      for (SequenceId id : ids) in.chunks.push_back({id, prefill + step, 1, true});
      in.tokens = std::span<const int>(t.data() + step, static_cast<std::size_t>(batch));
      both(in, "batch " + std::to_string(batch) + " step " + std::to_string(step));
    }
    for (SequenceId id : ids) {
      replayed.release(id);
      queued.release(id);
    }
    prefill = batch == 9 ? 40 : prefill + 1;  // the last round after a prefill that grows the buffers
  }
  EXPECT_EQ(replayed.graph_failure(), "");
  EXPECT_GT(replayed.graph_replays(), 0);
  EXPECT_EQ(queued.graph_replays(), 0);
}

// Decode steps replayed from captured graphs give the bits of the same steps queued
// kernel by kernel: batches of 1 and 3 (the matvec kernels) and 9 (cuBLAS for BF16;
// for Q8_0 the dequantizing GEMM and its sum of the k splits), each shape replayed
// several times with new positions, tokens and block tables; then a longer prefill
// grows the step buffers (the graphs captured on the old ones must go) and decoding
// goes on.
TEST_F(CudaEngine, ReplayedDecodeStepsGiveTheBitsOfQueuedOnes) {
  for (const auto& [preset, dtype] : {std::pair{"tiny-llama3", DType::BF16}, std::pair{"tiny", DType::Q8_0}}) {
    SCOPED_TRACE(std::string(preset) + " " + std::string(dtype_name(dtype)));
    expect_replays_give_queued_bits(preset, dtype);
  }
}

// Decoding past 1024 positions splits attention over the context (attention.h);
// the logits stay within f32 arithmetic of float64's, replayed from graphs as
// queued.
TEST_F(CudaEngine, LongContextDecodeIsSplitAndNearFloat64) {
  TempDir dir;
  LlamaConfig config = random_model_preset("tiny");
  config.max_position_embeddings = 2048;
  const auto path = make_model(dir, config, "tiny-2048", DType::F32, WeightFormat::kSafetensors);
  const ModelFiles files = open_model(path);
  const std::vector<int> tokens = prompt_tokens(1100, files.config.vocab_size);
  const auto expected = ReferenceModel(files).logits(tokens);
  const auto expected_f16 = ReferenceModel(files).logits(tokens, true);  // an f16 cache's
  auto check = [&](bool graphs, KvDtype kv) {
    SCOPED_TRACE(std::string(graphs ? "replayed, " : "queued, ") + kv_dtype_name(kv));
    const auto& want = kv == KvDtype::F16 ? expected_f16 : expected;
    CudaEngineOptions o;
    o.kv.capacity_tokens = 2048;
    o.kv.dtype = kv;
    o.graphs = graphs;
    CudaStageEngine e(open_model(path), {0, files.config.num_layers}, o);
    EXPECT_LT(relative_error(e.step(chunk(1, 0, tokens, 0, 1090)).logits, want[1089]), 1e-4) << "prefill";
    for (int p = 1090; p < 1100; ++p)
      EXPECT_LT(relative_error(e.step(chunk(1, p, tokens, p, 1)).logits, want[static_cast<std::size_t>(p)]), 1e-4)
          << "decode at " << p;
    EXPECT_EQ(e.graph_failure(), "");
    if (graphs) {
      EXPECT_GT(e.graph_replays(), 0);
    }
  };
  for (bool graphs : {false, true}) {
    for (KvDtype kv : {KvDtype::F32, KvDtype::F16}) check(graphs, kv);
  }
  EXPECT_GT(cuda::plan_split(1, 1091, 2048).splits, 1);  // the decode steps above were split
}

// A step larger than the cache is refused with KvCacheFull, and nothing changes.
TEST_F(CudaEngine, AStepBeyondTheCacheIsRefusedWithoutAChange) {
  TempDir dir;
  const auto path = make_model(dir, "tiny", DType::F32, WeightFormat::kSafetensors);
  ModelFiles m = open_model(path);
  CudaEngineOptions o;
  o.kv.capacity_tokens = 32;
  CudaStageEngine e(std::move(m), {0, 4}, o);
  const std::vector<int> tokens = prompt_tokens(48, 384);
  e.step(chunk(1, 0, tokens, 0, 16));
  EXPECT_THROW(e.step(chunk(2, 0, tokens, 0, 48)), KvCacheFull);
  EXPECT_EQ(e.kv_ledger().num_sequences(), 1u);
  EXPECT_EQ(e.kv_ledger().free_blocks(), 1);
  EXPECT_EQ(e.kv_ledger().length(1), 16);
}

// The trained model, greedy, 30 tokens after its BOS: the same text on the GPU as
// on the CPU (F32 weights; the CPU engine at its default level), and at every step
// the GPU's logits within f32 arithmetic of the CPU's on the same tokens.
TEST_F(CudaEngine, StoriesGreedyTextEqualsTheCpus) {
  const std::filesystem::path model = std::filesystem::path(HELIX_SOURCE_DIR) / "data/models/stories260K/model.gguf";
  std::vector<std::vector<float>> cpu_logits;
  auto greedy = [&](Stage& engine, int bos, bool keep) {
    std::vector<int> out = {bos};
    for (int p = 0; p < 30; ++p) {
      StepInput in;
      in.chunks = {{1, p, 1, true}};
      in.tokens = std::span<const int>(&out.back(), 1);
      const std::vector<float> logits = engine.step(in).logits;
      if (keep) {
        cpu_logits.push_back(logits);
      } else {
        const std::vector<double> want(cpu_logits[static_cast<std::size_t>(p)].begin(), cpu_logits[static_cast<std::size_t>(p)].end());
        EXPECT_LT(relative_error(logits, want), 1e-4) << "step " << p;
      }
      out.push_back(static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    }
    return out;
  };
  ModelFiles cpu_files = open_model(model);
  const int bos = cpu_files.config.bos_token_id;
  const int layers = cpu_files.config.num_layers;
  EngineOptions cpu_options;
  cpu_options.kv.capacity_tokens = 256;
  StageEngine cpu(std::move(cpu_files), {0, layers}, cpu_options);
  CudaStageEngine gpu = gpu_engine(model);
  const std::vector<int> on_cpu = greedy(cpu, bos, true);
  EXPECT_EQ(greedy(gpu, bos, false), on_cpu);
}

TEST_F(CudaEngine, InvalidStepsAreRefusedWithoutAChange) {
  TempDir dir;
  const auto path = make_model(dir, "tiny", DType::F32, WeightFormat::kSafetensors);
  CudaStageEngine e = gpu_engine(path);
  const std::vector<int> tokens = prompt_tokens(4, 384);
  EXPECT_THROW(e.step(chunk(1, 3, tokens, 0, 4)), Error);  // position 3 of an unknown sequence
  std::vector<int> bad = {1, 2, 999};
  EXPECT_THROW(e.step(chunk(1, 0, bad, 0, 3)), Error);      // outside the vocabulary
  EXPECT_EQ(e.kv_ledger().num_sequences(), 0u);
  EXPECT_EQ(e.kv_ledger().free_blocks(), e.kv_ledger().total_blocks());
  e.step(chunk(1, 0, tokens, 0, 4));
  EXPECT_EQ(e.kv_ledger().length(1), 4);
}

}  // namespace
}  // namespace helix
