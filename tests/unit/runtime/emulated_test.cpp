// The emulated stage executor: its batch time from the per-layer tables, the
// activations and tokens it produces, and its KV bookkeeping.
#include "helix/runtime/stage_executor.h"

#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <vector>

namespace helix::runtime {
namespace {

// Per-layer seconds. Prompt: P(16)=10ms, P(64)=20ms, P(256)=50ms.
LayerTimeTable prompt_table() { return LayerTimeTable({{16, 0.010}, {64, 0.020}, {256, 0.050}}, "prompt"); }
// Decode: D(1)=2ms, D(5)=4ms, D(9)=6ms.
LayerTimeTable decode_table() { return LayerTimeTable({{1, 0.002}, {5, 0.004}, {9, 0.006}}, "decode"); }

constexpr double kTol = 1e-12;

TEST(EmulatedBatchSeconds, PromptOnly) {
  const auto p = prompt_table(), d = decode_table();
  // P(40) = 10ms + 10ms * 24/48 = 15ms; two layers.
  EXPECT_NEAR(stage_batch_seconds(p, d, 40, 0, 2), 0.030, kTol);
  EXPECT_NEAR(stage_batch_seconds(p, d, 64, 0, 3), 0.060, kTol);
  EXPECT_NEAR(stage_batch_seconds(p, d, 160, 0, 1), 0.035, kTol);  // 20 + 30 * 96/192
}

TEST(EmulatedBatchSeconds, DecodeOnlyWithDoubledSingleDecode) {
  const auto p = prompt_table(), d = decode_table();
  EXPECT_NEAR(stage_batch_seconds(p, d, 0, 1, 5), 5 * 2 * 0.002, kTol) << "one decode costs twice D(1)";
  EXPECT_NEAR(stage_batch_seconds(p, d, 0, 2, 1), 0.0025, kTol) << "D(2) = 2 + 2 * 1/4 ms, not doubled";
  EXPECT_NEAR(stage_batch_seconds(p, d, 0, 3, 4), 4 * 0.003, kTol);
  EXPECT_NEAR(stage_batch_seconds(p, d, 0, 5, 1), 0.004, kTol);
}

TEST(EmulatedBatchSeconds, PromptAndDecodeAdd) {
  const auto p = prompt_table(), d = decode_table();
  EXPECT_NEAR(stage_batch_seconds(p, d, 40, 3, 4), 4 * (0.015 + 0.003), kTol);
  EXPECT_NEAR(stage_batch_seconds(p, d, 40, 1, 1), 0.015 + 2 * 0.002, kTol) << "the x2 rule holds in a mixed batch";
  EXPECT_NEAR(stage_batch_seconds(p, d, 256, 9, 2), 2 * (0.050 + 0.006), kTol);
}

TEST(EmulatedBatchSeconds, ClampsIntoTheTables) {
  const auto p = prompt_table(), d = decode_table();
  EXPECT_NEAR(stage_batch_seconds(p, d, 4, 0, 1), 0.010, kTol) << "below the first key";
  EXPECT_NEAR(stage_batch_seconds(p, d, 1000, 0, 1), 0.050, kTol) << "above the last key";
  EXPECT_NEAR(stage_batch_seconds(p, d, 1LL << 40, 0, 1), 0.050, kTol) << "beyond int range";
  EXPECT_NEAR(stage_batch_seconds(p, d, 0, 50, 1), 0.006, kTol);
  const LayerTimeTable d2({{2, 0.003}, {4, 0.005}}, "decode from 2");
  EXPECT_NEAR(stage_batch_seconds(p, d2, 0, 1, 1), 2 * 0.003, kTol) << "clamped to D(2), then doubled";
}

TEST(EmulatedBatchSeconds, NothingCostsNothingAndLayersMultiply) {
  const auto p = prompt_table(), d = decode_table();
  EXPECT_EQ(stage_batch_seconds(p, d, 0, 0, 10), 0.0);
  EXPECT_EQ(stage_batch_seconds(p, d, 40, 3, 0), 0.0);
  const double one = stage_batch_seconds(p, d, 100, 4, 1);
  EXPECT_GT(one, 0.0);
  EXPECT_NEAR(stage_batch_seconds(p, d, 100, 4, 7), 7 * one, kTol);
  EXPECT_NEAR(stage_batch_seconds(p, d, 100, 4, 80), 80 * one, kTol);
}

// ---- the executor ----

// 4 layers of: prompt P(1)=0.25ms .. P(64)=0.5ms, decode D(1)=0.125ms .. D(8)=0.25ms.
Emulation small_emulation() {
  Emulation e;
  e.prompt = {{1, 0.00025}, {64, 0.0005}};
  e.decode = {{1, 0.000125}, {8, 0.00025}};
  e.prompt_max_tokens = 64;
  e.prompt_max_requests = 4;
  e.decode_max_tokens = 8;
  e.activation_bytes_per_token = 64;  // 16 floats
  e.vocab_size = 256;
  return e;
}

const Sampling kSampling{};

BatchChunk chunk(std::uint64_t request, int position, int length, bool want_token) {
  BatchChunk c;
  c.request = request;
  c.position = position;
  c.length = length;
  c.want_token = want_token;
  c.decode = length == 1 && position > 0;  // as the worker marks decode steps
  c.sampling = &kSampling;
  return c;
}

double timed_run(StageExecutor& x, const std::vector<BatchChunk>& chunks, int skip, bool last, BatchResult* out) {
  const auto start = std::chrono::steady_clock::now();
  *out = x.run(chunks, skip, last);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

constexpr double kSlack = 0.5;  // generous: the machine is shared

TEST(EmulatedExecutor, MiddleStageProducesHiddenRowsOfTheModelsSize) {
  auto x = make_emulated_executor(small_emulation(), {8, 12}, 1.0);
  EXPECT_EQ(x->hidden_size(), 16);
  EXPECT_EQ(x->vocab_size(), 256);
  const std::vector<BatchChunk> chunks = {chunk(1, 0, 10, false), chunk(2, 20, 1, true), chunk(3, 5, 3, false)};
  BatchResult r;
  timed_run(*x, chunks, 0, false, &r);
  ASSERT_NE(r.hidden, nullptr);
  EXPECT_EQ(r.hidden->size(), (10u + 1u + 3u) * 16u);
  EXPECT_EQ(r.hidden_size, 16);
  EXPECT_EQ(r.tokens, (std::vector<int>{-1, -1, -1})) << "no tokens before the last stage, even if wanted";
}

TEST(EmulatedExecutor, HiddenSizeIsAtLeastOne) {
  Emulation e = small_emulation();
  e.activation_bytes_per_token = 2;
  auto x = make_emulated_executor(e, {0, 1}, 1.0);
  EXPECT_EQ(x->hidden_size(), 1);
  BatchResult r;
  timed_run(*x, {chunk(1, 0, 5, false)}, 0, false, &r);
  ASSERT_NE(r.hidden, nullptr);
  EXPECT_EQ(r.hidden->size(), 5u);
}

TEST(EmulatedExecutor, LastStageSamplesLettersForWantedChunks) {
  auto x = make_emulated_executor(small_emulation(), {12, 16}, 1.0);
  const std::vector<BatchChunk> chunks = {chunk(1, 0, 5, true),   // (0+5) % 26 = 5 -> 'f'
                                          chunk(2, 24, 1, true),  // 25 -> 'z'
                                          chunk(3, 3, 4, false),  // not wanted
                                          chunk(4, 25, 1, true),  // 26 % 26 = 0 -> 'a'
                                          chunk(5, 100, 1, true)};  // 101 % 26 = 23 -> 'x'
  BatchResult r;
  timed_run(*x, chunks, 0, true, &r);
  EXPECT_EQ(r.tokens, (std::vector<int>{'f', 'z', -1, 'a', 'x'}));
  for (int t : r.tokens) {
    if (t != -1) {
      EXPECT_TRUE(t >= 'a' && t <= 'z') << t;
    }
  }
}

TEST(EmulatedExecutor, TakesAtLeastTheEmulatedTime) {
  auto x = make_emulated_executor(small_emulation(), {0, 4}, 1.0);
  const auto p = LayerTimeTable({{1, 0.00025}, {64, 0.0005}}, "p");
  const auto d = LayerTimeTable({{1, 0.000125}, {8, 0.00025}}, "d");
  // A 10-token prompt chunk and one decode (position > 0, length 1) over 4 layers.
  const double want = stage_batch_seconds(p, d, 10, 1, 4);
  EXPECT_NEAR(want, 4 * (0.00025 + 0.00025 * 9 / 63 + 2 * 0.000125), kTol);
  BatchResult r;
  double took = timed_run(*x, {chunk(1, 0, 10, false), chunk(2, 20, 1, false)}, 0, false, &r);
  EXPECT_GE(took, want);
  EXPECT_LT(took, want + kSlack);

  // Two prompt chunks sum their tokens: P(30).
  took = timed_run(*x, {chunk(3, 0, 20, false), chunk(4, 0, 10, false)}, 0, false, &r);
  EXPECT_GE(took, stage_batch_seconds(p, d, 30, 0, 4));

  // Skipping layers runs fewer of them.
  const double skipped = stage_batch_seconds(p, d, 64, 0, 1);
  took = timed_run(*x, {chunk(5, 0, 64, false)}, 3, false, &r);
  EXPECT_GE(took, skipped);
  EXPECT_LT(took, skipped + kSlack);
}

TEST(EmulatedExecutor, SlowdownMultipliesTheTime) {
  auto x = make_emulated_executor(small_emulation(), {0, 4}, 3.0);
  const auto p = LayerTimeTable({{1, 0.00025}, {64, 0.0005}}, "p");
  const auto d = LayerTimeTable({{1, 0.000125}, {8, 0.00025}}, "d");
  const double want = 3.0 * stage_batch_seconds(p, d, 64, 8, 4);  // 3 x 4 x 0.75ms = 9ms
  std::vector<BatchChunk> chunks = {chunk(100, 0, 64, false)};
  for (std::uint64_t i = 0; i < 8; ++i) chunks.push_back(chunk(i, 7, 1, false));
  BatchResult r;
  const double took = timed_run(*x, chunks, 0, false, &r);
  EXPECT_GE(took, want);
  EXPECT_LT(took, want + kSlack);
}

TEST(EmulatedExecutor, KvBookkeeping) {
  auto x = make_emulated_executor(small_emulation(), {0, 2}, 1.0);
  EXPECT_EQ(x->kv_used_tokens(), 0);
  BatchResult r;
  timed_run(*x, {chunk(1, 0, 10, false), chunk(2, 20, 1, false)}, 0, false, &r);
  EXPECT_EQ(x->kv_used_tokens(), 10 + 21) << "each request holds position + length tokens";
  timed_run(*x, {chunk(1, 10, 1, false)}, 0, false, &r);
  EXPECT_EQ(x->kv_used_tokens(), 11 + 21) << "a request's length grows, not adds";
  EXPECT_EQ(x->cached_length(1), 11);
  EXPECT_EQ(x->cached_length(2), 21);
  EXPECT_EQ(x->cached_length(3), 0) << "never seen";
  EXPECT_EQ(x->active_sequences(), 2u);
  x->release(2);
  EXPECT_EQ(x->kv_used_tokens(), 11);
  EXPECT_EQ(x->cached_length(2), 0);
  EXPECT_EQ(x->active_sequences(), 1u);
  x->release(99);  // unknown: nothing happens
  EXPECT_EQ(x->kv_used_tokens(), 11);
  x->release(1);
  EXPECT_EQ(x->kv_used_tokens(), 0);
  EXPECT_EQ(x->active_sequences(), 0u);
  timed_run(*x, {chunk(1, 0, 4, true)}, 0, true, &r);
  EXPECT_EQ(x->kv_used_tokens(), 4) << "a released request id can come back";
  EXPECT_EQ(x->blocks_needed(1, 1000000), 0) << "emulated KV never refuses: the coordinator's ledger bounds it";
  EXPECT_GE(x->free_blocks(), x->blocks_needed(7, 5));
}

TEST(EmulatedExecutor, AKvCapacityMakesItAPagedCacheOf16TokenBlocks) {
  auto x = make_emulated_executor(small_emulation(), {0, 2}, 1.0, 100);  // 6 blocks of 16 (96 tokens)
  EXPECT_EQ(x->total_blocks(), 6);
  EXPECT_EQ(x->kv_capacity_tokens(), 96);
  EXPECT_EQ(x->free_blocks(), 6);
  EXPECT_EQ(x->blocks_needed(1, 17), 2) << "17 tokens take two blocks";
  BatchResult r;
  timed_run(*x, {chunk(1, 0, 17, false)}, 0, false, &r);
  EXPECT_EQ(x->free_blocks(), 4);
  EXPECT_EQ(x->blocks_needed(1, 32), 0) << "growing to 32 tokens fits the two blocks it has";
  EXPECT_EQ(x->blocks_needed(1, 33), 1);
  EXPECT_EQ(x->blocks_needed(2, 64), 4);
  EXPECT_GT(x->blocks_needed(2, 80), x->free_blocks()) << "a worker would have to wait for this one";
  x->release(1);
  EXPECT_EQ(x->free_blocks(), 6);
}

TEST(EmulatedExecutor, EmptyProfileIsRefused) {
  Emulation e = small_emulation();
  e.decode.clear();
  EXPECT_THROW(make_emulated_executor(e, {0, 1}, 1.0), Error);
  e = small_emulation();
  e.prompt = {{8, 0.001}, {4, 0.002}};  // keys must increase
  EXPECT_THROW(make_emulated_executor(e, {0, 1}, 1.0), Error);
}

}  // namespace
}  // namespace helix::runtime
