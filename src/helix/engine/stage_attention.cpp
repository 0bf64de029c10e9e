// The stage's attention (StageEngine's attention members): causal, optionally
// windowed, over each sequence's cached positions, one task per (head, query block).
#include <algorithm>
#include <cmath>

#include "helix/engine/stage_engine.h"
#include "helix/kernels/vector_ops.h"

namespace helix {
namespace {

// Multiply-adds below which attention is not worth handing to a second thread.
constexpr std::int64_t kInlineAttentionWork = 1 << 16;

std::size_t sz(std::int64_t n) { return static_cast<std::size_t>(n); }

void grow(std::vector<float>& v, std::int64_t n) {
  if (v.size() < sz(n)) v.resize(sz(n));
}

// Calls f(j, run, block, offset) for positions [lo, last] of a sequence (its block
// table `table`) in runs that stay within one cache block: position j is at
// `offset` of `block`.
template <typename F>
void for_cached_runs(const PagedKvCache& kv, const std::vector<std::int32_t>& table, int lo, int last, F f) {
  const int bt = kv.block_tokens();
  for (int j = lo; j <= last;) {
    const int run = std::min(last + 1, (j / bt + 1) * bt) - j;
    f(j, run, table[sz(j / bt)], j % bt);
    j += run;
  }
}

}  // namespace

// Consecutive tokens of one sequence at consecutive positions (a prefill chunk's),
// up to kQueryBlock of them: with a head, attention's unit of work, so that each
// cached row is read once per block rather than once per token.
std::vector<StageEngine::QueryBlock> StageEngine::query_blocks(int tokens) const {
  std::vector<QueryBlock> blocks;
  for (int t = 0; t < tokens;) {
    int n = 1;
    while (n < kQueryBlock && t + n < tokens && step_.sequences[sz(t + n)] == step_.sequences[sz(t)] &&
           step_.positions[sz(t + n)] == step_.positions[sz(t)] + n) {
      ++n;
    }
    blocks.push_back({t, n});
    t += n;
  }
  return blocks;
}

// One token's attention over its sequence's cached positions for head h, walking
// the block table: a decode step's unit of work. Kv: the cache's values (float, or
// the f16 bits), which the row kernels widen as they load them.
template <typename Kv>
void StageEngine::attend_token(int index, int t, int h, float* scores) {
  const LlamaConfig& c = model_.config;
  const int hd = c.head_dim, q_dim = c.q_dim(), kv_dim = c.kv_dim();
  const int g = h / (c.num_heads / c.num_kv_heads), p = step_.positions[sz(t)];
  const int lo = c.sliding_window > 0 ? std::max(0, p - c.sliding_window + 1) : 0;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float* q = q_.data() + sz(t) * sz(q_dim) + sz(h) * sz(hd);
  const auto& table = kv_.blocks(step_.sequences[sz(t)]);
  for_cached_runs(kv_, table, lo, p, [&](int j, int run, std::int32_t block, int offset) {
    dot_rows(q, kv_.key_rows<Kv>(index, block, offset, g, hd), kv_dim, run, hd, scale, scores + (j - lo));
  });
  softmax(scores, p - lo + 1);
  float* out = attn_.data() + sz(t) * sz(q_dim) + sz(h) * sz(hd);
  std::fill_n(out, hd, 0.0f);
  for_cached_runs(kv_, table, lo, p, [&](int j, int run, std::int32_t block, int offset) {
    axpy_rows(scores + (j - lo), kv_.value_rows<Kv>(index, block, offset, g, hd), kv_dim, run, hd, out);
  });
}

// A block's attention for head h: the scores of all its queries over the union of
// their positions ([row][query], dot_rows_block), each query's softmax over its own
// positions with zero weight elsewhere, then the values (axpy_rows_block). Every
// query gets attend_token's bits: the block kernels give each query dot_rows' and
// axpy_rows' bits, and a zero weight adds +0 (a sum that is exactly -0 alone could
// come out +0 here; it feeds the same values downstream).
template <typename Kv>
void StageEngine::attend_block(int index, QueryBlock block, int h, float* scores, float* row) {
  const LlamaConfig& c = model_.config;
  const int hd = c.head_dim, q_dim = c.q_dim(), kv_dim = c.kv_dim();
  const int g = h / (c.num_heads / c.num_kv_heads);
  const int first = step_.positions[sz(block.first)], last = first + block.count - 1;
  auto low = [&](int p) { return c.sliding_window > 0 ? std::max(0, p - c.sliding_window + 1) : 0; };
  const int lo = low(first), span = last - lo + 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float* q = q_.data() + sz(block.first) * sz(q_dim) + sz(h) * sz(hd);
  const auto& table = kv_.blocks(step_.sequences[sz(block.first)]);
  for_cached_runs(kv_, table, lo, last, [&](int j, int run, std::int32_t cache_block, int offset) {
    dot_rows_block(q, q_dim, block.count, kv_.key_rows<Kv>(index, cache_block, offset, g, hd), kv_dim, run, hd, scale,
                   scores + sz(j - lo) * kQueryBlock);
  });
  for (int i = 0; i < kQueryBlock; ++i) {
    const int p = first + i, from = i < block.count ? low(p) - lo : span, to = i < block.count ? p - lo + 1 : span;
    for (int j = from; j < to; ++j) row[j - from] = scores[sz(j) * kQueryBlock + sz(i)];
    if (to > from) softmax(row, to - from);
    for (int j = 0; j < span; ++j)
      scores[sz(j) * kQueryBlock + sz(i)] = j >= from && j < to ? row[j - from] : 0.0f;
  }
  float* out = attn_.data() + sz(block.first) * sz(q_dim) + sz(h) * sz(hd);
  for (int i = 0; i < block.count; ++i) std::fill_n(out + sz(i) * sz(q_dim), hd, 0.0f);
  for_cached_runs(kv_, table, lo, last, [&](int j, int run, std::int32_t cache_block, int offset) {
    axpy_rows_block(scores + sz(j - lo) * kQueryBlock, block.count, kv_.value_rows<Kv>(index, cache_block, offset, g, hd),
                    kv_dim, run, hd, out, q_dim);
  });
}

// Causal (optionally windowed) attention of every token of the step over its
// sequence's cached positions, one task per (head, query block).
//
// Why per-token bits whatever the batching: a token's result must not depend on how
// it was batched. A preempted request is recomputed as one prefill chunk where it
// was first decoded token by token; an sgemm over a chunk sums in another order
// than these dot products, and the kernels that round activations (bf16, int8) turn
// such 1e-7 differences into different tokens (the KV-preemption test caught it).
// Blocks of queries keep each token's arithmetic (attend_block) and read each
// cached row once per block.
void StageEngine::attention(int index, int tokens) {
  const LlamaConfig& c = model_.config;
  if (tokens == 0) return;
  int longest = 0;
  for (int t = 0; t < tokens; ++t) longest = std::max(longest, step_.positions[sz(t)] + 1);
  const std::vector<QueryBlock> blocks = query_blocks(tokens);
  const std::int64_t per_thread = static_cast<std::int64_t>(kQueryBlock + 1) * longest;
  grow(scores_, static_cast<std::int64_t>(pool_.size()) * per_thread);
  const bool f16 = kv_.dtype() == KvDtype::F16;
  const auto block_count = static_cast<std::int64_t>(blocks.size());
  auto run_tasks = [&](int thread, std::int64_t begin, std::int64_t end) {
    float* scores = scores_.data() + static_cast<std::ptrdiff_t>(thread) * per_thread;
    for (std::int64_t task = begin; task < end; ++task) {
      // Head-major: a thread's consecutive tasks share a head, whose keys and values
      // (positions x head_dim, strided by kv_dim in the cache) then stay in its L2;
      // token-major order re-read every head's keys per token from L3 (4x slower
      // prefill at 512 tokens).
      const QueryBlock block = blocks[sz(task % block_count)];
      const int h = static_cast<int>(task / block_count);
      float* row = scores + sz(kQueryBlock) * sz(longest);
      if (block.count == 1 && f16) {
        attend_token<std::uint16_t>(index, block.first, h, scores);
      } else if (block.count == 1) {
        attend_token<float>(index, block.first, h, scores);
      } else if (f16) {
        attend_block<std::uint16_t>(index, block, h, scores, row);
      } else {
        attend_block<float>(index, block, h, scores, row);
      }
    }
  };
  // Waking the other thread costs tens of microseconds: small steps run inline.
  std::int64_t work = 0;
  for (int t = 0; t < tokens; ++t) work += step_.positions[sz(t)] + 1;
  work *= static_cast<std::int64_t>(c.num_heads) * c.head_dim;
  const std::int64_t tasks = block_count * c.num_heads;
  if (work < kInlineAttentionWork) {
    run_tasks(0, 0, tasks);
  } else {
    pool_.parallel_for_indexed(tasks, run_tasks);
  }
}

}  // namespace helix
