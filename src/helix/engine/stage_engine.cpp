#include "helix/engine/stage_engine.h"

#include <algorithm>
#include <cmath>

#include "helix/core/device_memory.h"
#include "helix/engine/step_plan.h"
#include "helix/kernels/matmul.h"
#include "helix/kernels/vector_ops.h"

namespace helix {
namespace {

std::size_t sz(std::int64_t n) { return static_cast<std::size_t>(n); }

void grow(std::vector<float>& v, std::int64_t n) {
  if (v.size() < sz(n)) v.resize(sz(n));
}

// The cache's options: a share of memory is what the share leaves beside the
// stage's weights (mapped, resident once the first step has read them).
KvCacheOptions host_kv_options(const KvCacheOptions& requested, const StageWeights& weights) {
  const KvCacheOptions o = default_kv_options(requested);
  if (o.memory_share == 0) return o;
  return resolve_memory_share(o, host_memory(), 0, stage_weight_bytes(weights), "the cpu");
}

void add_bias(float* y, const std::vector<float>& bias, int rows) {
  if (bias.empty()) return;
  std::int64_t n = static_cast<std::int64_t>(bias.size());
  for (int r = 0; r < rows; ++r) add(bias.data(), y + r * n, n);
}

}  // namespace

StageEngine::StageEngine(ModelFiles model, LayerRange layers, const EngineOptions& options)
    : model_(std::move(model)),
      weights_(bind_stage_weights(model_, layers)),
      rope_(model_.config, weights_.rope_freq_factors),
      kv_(layers.size(), model_.config.num_kv_heads, model_.config.head_dim,
          host_kv_options(options.kv, weights_)),
      pool_(options.threads) {}

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
    SequenceId s = step_.sequences[sz(t)];
    int p = step_.positions[sz(t)];
    kv_.write(index, s, p, k_.data() + sz(t) * sz(kv_dim), v_.data() + sz(t) * sz(kv_dim));
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
    const float* cs = step_.cos.data() + sz(t) * sz(pairs);
    const float* sn = step_.sin.data() + sz(t) * sz(pairs);
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
  const int tokens = step_tokens(in);
  validate_step(in, tokens, model_.config, kv_.ledger(), static_cast<int>(weights_.blocks.size()), embeds(in));
  return run_reserved(kv_.ledger(), in, [&] { return execute(in, tokens); });
}

StepOutput StageEngine::execute(const StepInput& in, int tokens) {
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
  step_.prepare(in, tokens, rope_);
  if (embeds(in)) {
    embed(in.tokens);
  } else {
    std::copy(in.hidden.begin(), in.hidden.end(), x_.begin());
  }
  for (int i = in.skip_layers; i < static_cast<int>(weights_.blocks.size()); ++i) run_block(i, tokens);

  StepOutput out;
  if (weights_.last) {
    output_logits(in, out);
  } else {
    out.hidden.assign(x_.begin(), x_.begin() + T * c.hidden_size);
  }
  return out;
}

}  // namespace helix
