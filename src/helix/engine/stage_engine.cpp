#include "helix/engine/stage_engine.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "helix/kernels/matmul.h"
#include "helix/kernels/vector_ops.h"

namespace helix {
namespace {

// Multiply-adds below which attention is not worth handing to a second thread.
constexpr std::int64_t kInlineAttentionWork = 1 << 16;

std::size_t sz(std::int64_t n) { return static_cast<std::size_t>(n); }

void grow(std::vector<float>& v, std::int64_t n) {
  if (v.size() < sz(n)) v.resize(sz(n));
}

void add_bias(float* y, const std::vector<float>& bias, int rows) {
  if (bias.empty()) return;
  std::int64_t n = static_cast<std::int64_t>(bias.size());
  for (int r = 0; r < rows; ++r) add(bias.data(), y + r * n, n);
}

}  // namespace

KvCacheOptions default_kv_options(const KvCacheOptions& requested) {
  KvCacheOptions o = requested;
  if (o.capacity_tokens <= 0 && o.capacity_bytes == 0) o.capacity_tokens = 4096;
  return o;
}

StageEngine::StageEngine(ModelFiles model, LayerRange layers, const EngineOptions& options)
    : model_(std::move(model)),
      weights_(bind_stage_weights(model_, layers)),
      rope_(model_.config, weights_.rope_freq_factors),
      kv_(layers.size(), model_.config.num_kv_heads, model_.config.head_dim,
          default_kv_options(options.kv)),
      pool_(options.threads) {}

void StageEngine::validate(const StepInput& in, int tokens) const {
  const LlamaConfig& c = model_.config;
  if (in.chunks.empty()) fail("engine step: the batch has no chunks");
  std::unordered_set<SequenceId> seen;
  for (const SequenceChunk& ch : in.chunks) {
    if (!seen.insert(ch.sequence).second) {
      fail("engine step: sequence {} appears twice in one batch", ch.sequence);
    }
    if (ch.length <= 0) fail("engine step: sequence {} has a chunk of {} tokens", ch.sequence, ch.length);
    int cached = kv_.length(ch.sequence);
    if (!kv_.contains(ch.sequence) && ch.position != 0) {
      fail("engine step: sequence {} is not in this stage's KV cache, so it must start at position 0, not {}",
           ch.sequence, ch.position);
    }
    if (ch.position != cached) {
      fail("engine step: sequence {} continues at position {} but {} tokens are cached", ch.sequence,
           ch.position, cached);
    }
    if (static_cast<std::int64_t>(ch.position) + ch.length > c.max_position_embeddings) {
      fail("engine step: sequence {} would reach {} tokens, beyond the model's context of {}", ch.sequence,
           static_cast<std::int64_t>(ch.position) + ch.length, c.max_position_embeddings);
    }
  }
  if (in.skip_layers < 0 || in.skip_layers >= static_cast<int>(weights_.blocks.size())) {
    fail("engine step: cannot skip {} of the stage's {} layers", in.skip_layers, weights_.blocks.size());
  }
  if (embeds(in)) {
    if (static_cast<int>(in.tokens.size()) != tokens) {
      fail("engine step: {} token ids for chunks totalling {} tokens", in.tokens.size(), tokens);
    }
    for (std::int32_t id : in.tokens) {
      if (id < 0 || id >= c.vocab_size) fail("engine step: token id {} is outside the vocabulary of {}", id, c.vocab_size);
    }
  } else if (in.hidden.size() != sz(tokens) * sz(c.hidden_size)) {
    fail("engine step: {} hidden values for {} tokens of hidden size {}", in.hidden.size(), tokens,
         c.hidden_size);
  }
}

void StageEngine::prepare_positions(const StepInput& in, int tokens) {
  int pairs = model_.config.head_dim / 2;
  positions_.resize(sz(tokens));
  seq_of_token_.resize(sz(tokens));
  grow(rope_cos_, static_cast<std::int64_t>(tokens) * pairs);
  grow(rope_sin_, static_cast<std::int64_t>(tokens) * pairs);
  int t = 0;
  for (const SequenceChunk& ch : in.chunks) {
    for (int i = 0; i < ch.length; ++i, ++t) {
      positions_[sz(t)] = ch.position + i;
      seq_of_token_[sz(t)] = ch.sequence;
      rope_.angles(ch.position + i, rope_cos_.data() + t * pairs, rope_sin_.data() + t * pairs);
    }
  }
}

void StageEngine::embed(std::span<const std::int32_t> tokens) {
  const WeightMatrix& e = weights_.embedding;
  int hidden = model_.config.hidden_size;
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    convert_to_f32(e.dtype, e.data + sz(tokens[t]) * e.row_bytes, hidden, x_.data() + t * sz(hidden));
  }
}

void StageEngine::write_kv(int index, int tokens) {
  int kv_dim = model_.config.kv_dim();
  for (int t = 0; t < tokens; ++t) {
    SequenceId s = seq_of_token_[sz(t)];
    int p = positions_[sz(t)];
    std::copy_n(k_.data() + sz(t) * sz(kv_dim), kv_dim, kv_.key(index, s, p));
    std::copy_n(v_.data() + sz(t) * sz(kv_dim), kv_dim, kv_.value(index, s, p));
  }
}

// Consecutive tokens of one sequence at consecutive positions (a prefill chunk's),
// up to kQueryBlock of them: with a head, attention's unit of work, so that each
// cached row is read once per block rather than once per token.
std::vector<StageEngine::QueryBlock> StageEngine::query_blocks(int tokens) const {
  std::vector<QueryBlock> blocks;
  for (int t = 0; t < tokens;) {
    int n = 1;
    while (n < kQueryBlock && t + n < tokens && seq_of_token_[sz(t + n)] == seq_of_token_[sz(t)] &&
           positions_[sz(t + n)] == positions_[sz(t)] + n) {
      ++n;
    }
    blocks.push_back({t, n});
    t += n;
  }
  return blocks;
}

// One token's attention over its sequence's cached positions for head h, walking
// the block table: a decode step's unit of work.
void StageEngine::attend_token(int index, int t, int h, float* scores) {
  const LlamaConfig& c = model_.config;
  const int hd = c.head_dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), bt = kv_.block_tokens();
  const int g = h / (c.num_heads / c.num_kv_heads), p = positions_[sz(t)];
  const int lo = c.sliding_window > 0 ? std::max(0, p - c.sliding_window + 1) : 0;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float* q = q_.data() + sz(t) * sz(q_dim) + sz(h) * sz(hd);
  const auto& table = kv_.blocks(seq_of_token_[sz(t)]);
  // Positions in runs that stay within one cache block (rows kv_dim apart).
  for (int j = lo; j <= p;) {
    const int run = std::min(p + 1, (j / bt + 1) * bt) - j;
    const float* kp = kv_.key_block(index, table[sz(j / bt)]) + sz(j % bt) * sz(kv_dim) + sz(g) * sz(hd);
    dot_rows(q, kp, kv_dim, run, hd, scale, scores + (j - lo));
    j += run;
  }
  softmax(scores, p - lo + 1);
  float* out = attn_.data() + sz(t) * sz(q_dim) + sz(h) * sz(hd);
  std::fill_n(out, hd, 0.0f);
  for (int j = lo; j <= p;) {
    const int run = std::min(p + 1, (j / bt + 1) * bt) - j;
    const float* vp = kv_.value_block(index, table[sz(j / bt)]) + sz(j % bt) * sz(kv_dim) + sz(g) * sz(hd);
    axpy_rows(scores + (j - lo), vp, kv_dim, run, hd, out);
    j += run;
  }
}

// A block's attention for head h: the scores of all its queries over the union of
// their positions ([row][query], dot_rows_block), each query's softmax over its own
// positions with zero weight elsewhere, then the values (axpy_rows_block). Every
// query gets attend_token's bits: the block kernels give each query dot_rows' and
// axpy_rows' bits, and a zero weight adds +0 (a sum that is exactly -0 alone could
// come out +0 here; it feeds the same values downstream).
void StageEngine::attend_block(int index, QueryBlock block, int h, float* scores, float* row) {
  const LlamaConfig& c = model_.config;
  const int hd = c.head_dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), bt = kv_.block_tokens();
  const int g = h / (c.num_heads / c.num_kv_heads);
  const int first = positions_[sz(block.first)], last = first + block.count - 1;
  auto low = [&](int p) { return c.sliding_window > 0 ? std::max(0, p - c.sliding_window + 1) : 0; };
  const int lo = low(first), span = last - lo + 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float* q = q_.data() + sz(block.first) * sz(q_dim) + sz(h) * sz(hd);
  const auto& table = kv_.blocks(seq_of_token_[sz(block.first)]);
  for (int j = lo; j <= last;) {
    const int run = std::min(last + 1, (j / bt + 1) * bt) - j;
    const float* kp = kv_.key_block(index, table[sz(j / bt)]) + sz(j % bt) * sz(kv_dim) + sz(g) * sz(hd);
    dot_rows_block(q, q_dim, block.count, kp, kv_dim, run, hd, scale, scores + sz(j - lo) * kQueryBlock);
    j += run;
  }
  for (int i = 0; i < kQueryBlock; ++i) {
    const int p = first + i, from = i < block.count ? low(p) - lo : span, to = i < block.count ? p - lo + 1 : span;
    for (int j = from; j < to; ++j) row[j - from] = scores[sz(j) * kQueryBlock + sz(i)];
    if (to > from) softmax(row, to - from);
    for (int j = 0; j < span; ++j)
      scores[sz(j) * kQueryBlock + sz(i)] = j >= from && j < to ? row[j - from] : 0.0f;
  }
  float* out = attn_.data() + sz(block.first) * sz(q_dim) + sz(h) * sz(hd);
  for (int i = 0; i < block.count; ++i) std::fill_n(out + sz(i) * sz(q_dim), hd, 0.0f);
  for (int j = lo; j <= last;) {
    const int run = std::min(last + 1, (j / bt + 1) * bt) - j;
    const float* vp = kv_.value_block(index, table[sz(j / bt)]) + sz(j % bt) * sz(kv_dim) + sz(g) * sz(hd);
    axpy_rows_block(scores + sz(j - lo) * kQueryBlock, block.count, vp, kv_dim, run, hd, out, q_dim);
    j += run;
  }
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
  for (int t = 0; t < tokens; ++t) longest = std::max(longest, positions_[sz(t)] + 1);
  const std::vector<QueryBlock> blocks = query_blocks(tokens);
  const std::int64_t per_thread = static_cast<std::int64_t>(kQueryBlock + 1) * longest;
  grow(scores_, static_cast<std::int64_t>(pool_.size()) * per_thread);
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
      if (block.count == 1) {
        attend_token(index, block.first, h, scores);
      } else {
        attend_block(index, block, h, scores, scores + sz(kQueryBlock) * sz(longest));
      }
    }
  };
  // Waking the other thread costs tens of microseconds: small steps run inline.
  std::int64_t work = 0;
  for (int t = 0; t < tokens; ++t) work += positions_[sz(t)] + 1;
  work *= static_cast<std::int64_t>(c.num_heads) * c.head_dim;
  const std::int64_t tasks = block_count * c.num_heads;
  if (work < kInlineAttentionWork) {
    run_tasks(0, 0, tasks);
  } else {
    pool_.parallel_for_indexed(tasks, run_tasks);
  }
}

void StageEngine::run_block(int index, int tokens) {
  const LlamaConfig& c = model_.config;
  const BlockWeights& b = weights_.blocks[sz(index)];
  const int H = c.hidden_size, pairs = c.head_dim / 2;
  const float eps = static_cast<float>(c.rms_norm_eps);
  for (int t = 0; t < tokens; ++t) rms_norm(x_.data() + sz(t) * sz(H), b.attn_norm.data(), eps, H, h_.data() + sz(t) * sz(H));
  matmul(b.q, h_.data(), tokens, q_.data(), pool_);
  matmul(b.k, h_.data(), tokens, k_.data(), pool_);
  matmul(b.v, h_.data(), tokens, v_.data(), pool_);
  add_bias(q_.data(), b.q_bias, tokens);
  add_bias(k_.data(), b.k_bias, tokens);
  add_bias(v_.data(), b.v_bias, tokens);
  for (int t = 0; t < tokens; ++t) {
    const float* cs = rope_cos_.data() + sz(t) * sz(pairs);
    const float* sn = rope_sin_.data() + sz(t) * sz(pairs);
    rope_.rotate(q_.data() + sz(t) * sz(c.q_dim()), c.num_heads, cs, sn);
    rope_.rotate(k_.data() + sz(t) * sz(c.kv_dim()), c.num_kv_heads, cs, sn);
  }
  write_kv(index, tokens);
  attention(index, tokens);
  matmul(b.o, attn_.data(), tokens, h_.data(), pool_);
  add(h_.data(), x_.data(), static_cast<std::int64_t>(tokens) * H);
  for (int t = 0; t < tokens; ++t) rms_norm(x_.data() + sz(t) * sz(H), b.ffn_norm.data(), eps, H, h_.data() + sz(t) * sz(H));
  matmul(b.gate, h_.data(), tokens, gate_.data(), pool_);
  matmul(b.up, h_.data(), tokens, up_.data(), pool_);
  silu_mul(gate_.data(), up_.data(), static_cast<std::int64_t>(tokens) * c.intermediate_size, gate_.data());
  matmul(b.down, gate_.data(), tokens, h_.data(), pool_);
  add(h_.data(), x_.data(), static_cast<std::int64_t>(tokens) * H);
}

void StageEngine::output_logits(const StepInput& in, StepOutput& out) {
  const LlamaConfig& c = model_.config;
  const int H = c.hidden_size;
  int rows = 0, t = 0;
  for (const SequenceChunk& ch : in.chunks) {
    t += ch.length;
    if (!ch.want_logits) continue;
    rms_norm(x_.data() + sz(t - 1) * sz(H), weights_.final_norm.data(), static_cast<float>(c.rms_norm_eps), H,
             h_.data() + sz(rows) * sz(H));
    ++rows;
  }
  out.logit_rows = rows;
  if (rows == 0) return;
  out.logits.resize(sz(rows) * sz(c.vocab_size));
  matmul(weights_.lm_head, h_.data(), rows, out.logits.data(), pool_);
}

StepOutput StageEngine::step(const StepInput& in) {
  std::int64_t total = 0;
  for (const SequenceChunk& ch : in.chunks) total += std::max(0, ch.length);
  if (total > (std::int64_t{1} << 30)) fail("engine step: {} tokens in one batch is beyond any context", total);
  int tokens = static_cast<int>(total);
  validate(in, tokens);
  std::vector<std::pair<SequenceId, int>> growth;
  growth.reserve(in.chunks.size());
  for (const SequenceChunk& ch : in.chunks) growth.emplace_back(ch.sequence, ch.position + ch.length);
  kv_.reserve(growth);
  try {
    return execute(in, tokens, growth);
  } catch (...) {
    // Nothing is half-applied: sequences this step created give their blocks back.
    for (const SequenceChunk& ch : in.chunks) {
      if (ch.position == 0) kv_.release(ch.sequence);
    }
    throw;
  }
}

StepOutput StageEngine::execute(const StepInput& in, int tokens,
                                const std::vector<std::pair<SequenceId, int>>& growth) {
  const LlamaConfig& c = model_.config;

  const std::int64_t T = tokens;
  grow(x_, T * c.hidden_size);
  grow(h_, T * c.hidden_size);
  grow(q_, T * c.q_dim());
  grow(k_, T * c.kv_dim());
  grow(v_, T * c.kv_dim());
  grow(attn_, T * c.q_dim());
  grow(gate_, T * c.intermediate_size);
  grow(up_, T * c.intermediate_size);
  prepare_positions(in, tokens);
  if (embeds(in)) {
    embed(in.tokens);
  } else {
    std::copy(in.hidden.begin(), in.hidden.end(), x_.begin());
  }
  for (int i = in.skip_layers; i < static_cast<int>(weights_.blocks.size()); ++i) run_block(i, tokens);
  for (const auto& [id, len] : growth) kv_.set_length(id, len);

  StepOutput out;
  if (weights_.last) {
    output_logits(in, out);
  } else {
    out.hidden.assign(x_.begin(), x_.begin() + T * c.hidden_size);
  }
  return out;
}

}  // namespace helix
