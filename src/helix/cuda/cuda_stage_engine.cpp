#include "helix/cuda/cuda_stage_engine.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <span>

#include "helix/cuda/attention.h"
#include "helix/cuda/cuda_status.h"
#include "helix/cuda/device.h"
#include "helix/cuda/elementwise.h"
#include "helix/cuda/embedding.h"
#include "helix/engine/stage_weights.h"

namespace helix {
namespace {

std::size_t sz(std::int64_t n) { return static_cast<std::size_t>(n); }

template <typename T>
void grow(DeviceArray<T>& a, std::int64_t n) {
  if (a.size() < sz(n)) a = DeviceArray<T>(sz(n));
}

template <typename T>
DeviceArray<T> upload(const std::vector<T>& v) {
  return DeviceArray<T>(std::span<const T>(v));
}

// The CUDA device must be current before the members that allocate are built.
int made_current(int device) {
  use_cuda_device(device);
  return device;
}

// The stage's KV blocks: the CPU engine's defaults and rules.
KvBlockLedger stage_ledger(const KvCacheOptions& requested, int layers, int kv_dim) {
  const KvCacheOptions kv = default_kv_options(requested);
  return KvBlockLedger(kv.block_tokens, kv_cache_blocks(kv, kv_bytes_per_token(layers, kv_dim)));
}

}  // namespace

struct CudaStageEngine::Block {
  DeviceArray<float> attn_norm, ffn_norm, q_bias, k_bias, v_bias;  // biases empty unless attention_bias
  DeviceMatrix q, k, v, o, gate, up, down;
};

// Per-step device buffers, grown as needed and reused.
struct CudaStageEngine::Scratch {
  DeviceArray<float> x, h, q, k, v, attn, gate, up, cos, sin, logits_in, logits;
  DeviceArray<std::uint16_t> x16;
  DeviceArray<std::int32_t> token_ids, positions, tables, table_starts, slots;
};

CudaStageEngine::CudaStageEngine(ModelFiles model, LayerRange layers, const CudaEngineOptions& options)
    : model_(std::move(model)),
      weights_(bind_stage_weights(model_, layers)),
      device_(made_current(options.device)),
      rope_(model_.config, weights_.rope_freq_factors),
      ledger_(stage_ledger(options.kv, static_cast<int>(weights_.blocks.size()), model_.config.kv_dim())),
      scratch_(std::make_unique<Scratch>()) {
  const std::size_t cache_floats =
      weights_.blocks.size() * sz(ledger_.total_blocks()) * sz(ledger_.block_tokens()) * sz(model_.config.kv_dim());
  keys_ = DeviceArray<float>(cache_floats);
  values_ = DeviceArray<float>(cache_floats);
  for (const BlockWeights& b : weights_.blocks) {
    Block d;
    d.attn_norm = upload(b.attn_norm);
    d.ffn_norm = upload(b.ffn_norm);
    d.q_bias = upload(b.q_bias);
    d.k_bias = upload(b.k_bias);
    d.v_bias = upload(b.v_bias);
    d.q = upload_matrix(b.q);
    d.k = upload_matrix(b.k);
    d.v = upload_matrix(b.v);
    d.o = upload_matrix(b.o);
    d.gate = upload_matrix(b.gate);
    d.up = upload_matrix(b.up);
    d.down = upload_matrix(b.down);
    blocks_.push_back(std::move(d));
  }
  if (weights_.first) embedding_ = upload_matrix(weights_.embedding);
  if (weights_.last) {
    final_norm_ = upload(weights_.final_norm);
    lm_head_ = upload_matrix(weights_.lm_head);
  }
}

// The device's memory and handle are freed on their own device.
CudaStageEngine::~CudaStageEngine() { cudaSetDevice(device_); }

StepOutput CudaStageEngine::step(const StepInput& in) {
  const int tokens = step_tokens(in);
  const bool embeds = weights_.first && in.skip_layers == 0;
  validate_step(in, tokens, model_.config, ledger_, static_cast<int>(blocks_.size()), embeds);
  return run_reserved(ledger_, in, [&] {
    use_cuda_device(device_);
    return execute(in, tokens);
  });
}

// Positions, RoPE angles, block tables and each token's cache slot, to the device;
// then the token ids (embedded) or the hidden states into x.
void CudaStageEngine::upload_step(const StepInput& in, int tokens) {
  Scratch& s = *scratch_;
  step_.prepare(in, tokens, rope_);
  const int bt = ledger_.block_tokens(), pairs = model_.config.head_dim / 2;
  std::vector<std::int32_t> tables, starts, slots;
  for (const SequenceChunk& ch : in.chunks) {
    const std::vector<std::int32_t>& table = ledger_.blocks(ch.sequence);
    const auto start = static_cast<std::int32_t>(tables.size());
    tables.insert(tables.end(), table.begin(), table.end());
    for (int i = 0; i < ch.length; ++i) {
      const int p = ch.position + i;
      starts.push_back(start);
      slots.push_back(table[sz(p / bt)] * bt + p % bt);
    }
  }
  std::vector<std::int32_t> positions(step_.positions.begin(), step_.positions.end());
  s.positions = upload(positions);
  s.table_starts = upload(starts);
  s.tables = upload(tables);
  s.slots = upload(slots);
  const std::size_t angle_count = sz(tokens) * sz(pairs);
  s.cos = DeviceArray<float>(std::span<const float>(step_.cos.data(), angle_count));
  s.sin = DeviceArray<float>(std::span<const float>(step_.sin.data(), angle_count));
  const std::int64_t hidden = model_.config.hidden_size;
  grow(s.x, tokens * hidden);
  if (weights_.first && in.skip_layers == 0) {
    s.token_ids = DeviceArray<std::int32_t>(in.tokens);
    cuda::embed_rows(embedding_, s.token_ids.data(), tokens, s.x.data());
  } else {
    cuda_detail::copy_to_device(s.x.data(), in.hidden.data(), in.hidden.size() * sizeof(float));
  }
}

StepOutput CudaStageEngine::execute(const StepInput& in, int tokens) {
  const LlamaConfig& c = model_.config;
  Scratch& s = *scratch_;
  const std::int64_t T = tokens;
  upload_step(in, tokens);
  grow(s.h, T * c.hidden_size);
  grow(s.q, T * c.q_dim());
  grow(s.k, T * c.kv_dim());
  grow(s.v, T * c.kv_dim());
  grow(s.attn, T * c.q_dim());
  grow(s.gate, T * c.intermediate_size);
  grow(s.up, T * c.intermediate_size);
  for (int i = in.skip_layers; i < static_cast<int>(blocks_.size()); ++i) run_block(i, tokens);
  StepOutput out;
  if (weights_.last) {
    output_logits(in, out);
  } else {
    out.hidden.resize(sz(T * c.hidden_size));
    cuda_detail::copy_to_host(out.hidden.data(), s.x.data(), out.hidden.size() * sizeof(float));
  }
  return out;
}

void CudaStageEngine::run_block(int index, int tokens) {
  const LlamaConfig& c = model_.config;
  const Block& b = blocks_[sz(index)];
  Scratch& s = *scratch_;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const std::int64_t T = tokens, H = c.hidden_size;
  const bool half_split = c.rope_pairing == RopePairing::kHalfSplit;
  const std::size_t layer_floats = sz(ledger_.total_blocks()) * sz(ledger_.block_tokens()) * sz(c.kv_dim());
  float* keys = keys_.data() + sz(index) * layer_floats;
  float* values = values_.data() + sz(index) * layer_floats;

  cuda::rms_norm_rows(s.x.data(), b.attn_norm.data(), eps, T, H, s.h.data());
  cuda::project(cublas_, b.q, s.h.data(), T, s.q.data(), s.x16);
  cuda::project(cublas_, b.k, s.h.data(), T, s.k.data(), s.x16);
  cuda::project(cublas_, b.v, s.h.data(), T, s.v.data(), s.x16);
  if (b.q_bias.size() > 0) {
    cuda::add_to_rows(b.q_bias.data(), T, c.q_dim(), s.q.data());
    cuda::add_to_rows(b.k_bias.data(), T, c.kv_dim(), s.k.data());
    cuda::add_to_rows(b.v_bias.data(), T, c.kv_dim(), s.v.data());
  }
  cuda::rope_rotate(s.q.data(), T, c.num_heads, c.head_dim, half_split, s.cos.data(), s.sin.data());
  cuda::rope_rotate(s.k.data(), T, c.num_kv_heads, c.head_dim, half_split, s.cos.data(), s.sin.data());
  cuda::write_kv(s.k.data(), s.v.data(), s.slots.data(), T, c.kv_dim(), keys, values);
  const cuda::PagedAttentionShape shape{c.num_heads, c.num_kv_heads, c.head_dim, ledger_.block_tokens(),
                                        c.sliding_window};
  cuda::paged_attention(shape, s.q.data(), keys, values, s.tables.data(), s.table_starts.data(), s.positions.data(), T,
                        s.attn.data());
  cuda::project(cublas_, b.o, s.attn.data(), T, s.h.data(), s.x16);
  cuda::add(s.h.data(), s.x.data(), T * H);
  cuda::rms_norm_rows(s.x.data(), b.ffn_norm.data(), eps, T, H, s.h.data());
  cuda::project(cublas_, b.gate, s.h.data(), T, s.gate.data(), s.x16);
  cuda::project(cublas_, b.up, s.h.data(), T, s.up.data(), s.x16);
  cuda::silu_mul(s.gate.data(), s.up.data(), T * c.intermediate_size, s.gate.data());
  cuda::project(cublas_, b.down, s.gate.data(), T, s.h.data(), s.x16);
  cuda::add(s.h.data(), s.x.data(), T * H);
}

// The last token of each chunk that wants logits: its hidden row normed, times the
// LM head, to the host.
void CudaStageEngine::output_logits(const StepInput& in, StepOutput& out) {
  const LlamaConfig& c = model_.config;
  Scratch& s = *scratch_;
  const std::int64_t H = c.hidden_size;
  std::vector<int> rows_of;
  int t = 0;
  for (const SequenceChunk& ch : in.chunks) {
    t += ch.length;
    if (ch.want_logits) rows_of.push_back(t - 1);
  }
  const auto rows = static_cast<std::int64_t>(rows_of.size());
  out.logit_rows = static_cast<int>(rows);
  if (rows == 0) return;
  grow(s.logits_in, rows * H);
  for (std::int64_t r = 0; r < rows; ++r) {
    cuda_detail::check_cuda(cudaMemcpy(s.logits_in.data() + r * H, s.x.data() + rows_of[sz(r)] * H,
                                       sz(H) * sizeof(float), cudaMemcpyDeviceToDevice),
                            "cudaMemcpy of a hidden row");
  }
  cuda::rms_norm_rows(s.logits_in.data(), final_norm_.data(), static_cast<float>(c.rms_norm_eps), rows, H,
                      s.logits_in.data());
  grow(s.logits, rows * c.vocab_size);
  cuda::project(cublas_, lm_head_, s.logits_in.data(), rows, s.logits.data(), s.x16);
  out.logits.resize(sz(rows) * sz(c.vocab_size));
  cuda_detail::copy_to_host(out.logits.data(), s.logits.data(), out.logits.size() * sizeof(float));
}

}  // namespace helix
