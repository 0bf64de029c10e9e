#include "helix/cuda/cuda_stage_engine.h"

#include <cuda_runtime_api.h>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <span>

#include "helix/core/error.h"
#include "helix/core/units.h"
#include "helix/cuda/device.h"
#include "helix/cuda/elementwise.h"
#include "helix/cuda/embedding.h"
#include "helix/cuda/matvec_kernels.h"

namespace helix {
namespace {

std::size_t sz(std::int64_t n) { return static_cast<std::size_t>(n); }

template <typename T>
DeviceArray<T> upload(const std::vector<T>& v) {
  return DeviceArray<T>(std::span<const T>(v));
}

// The CUDA device must be current before the members that allocate are built.
int made_current(int device) {
  use_cuda_device(device);
  return device;
}

// Before any weight is uploaded, a bad capacity is refused at once (not after the
// uploads): one in tokens or bytes as the ledger will check it; a memory share if
// the stage's weights as stored already fill it or its cache could not fit in what
// is free. Returns device_bytes_allocated() now.
std::size_t check_kv_before_uploads(const KvCacheOptions& requested, const StageWeights& weights, int kv_dim,
                                    std::size_t step_bytes, int device) {
  const KvCacheOptions kv = default_kv_options(requested);
  const int layers = static_cast<int>(weights.blocks.size());
  if (kv.memory_share > 0) {
    resolve_memory_share(kv, cuda_device_memory(), 0, stage_weight_bytes(weights) + step_bytes,
                         fmt::format("cuda:{}", device));
  } else {
    kv_cache_blocks(kv, kv_bytes_per_token(layers, kv_dim, kv.dtype));
  }
  return cuda_detail::device_bytes_allocated();
}

// The stage's KV blocks: the CPU engine's defaults and rules. A share of memory is
// what it leaves beside what the stage holds now (its weights and workspace: what
// this process allocated since `allocated_at_start`) and its largest step's buffers.
KvBlockLedger stage_ledger(const KvCacheOptions& requested, int layers, int kv_dim, int device,
                           std::size_t allocated_at_start, std::size_t step_bytes) {
  KvCacheOptions kv = default_kv_options(requested);
  if (kv.memory_share > 0) {
    const std::size_t held = cuda_detail::device_bytes_allocated() - allocated_at_start;
    kv = resolve_memory_share(kv, cuda_device_memory(), held, step_bytes, fmt::format("cuda:{}", device));
  }
  return KvBlockLedger(kv.block_tokens, kv_cache_blocks(kv, kv_bytes_per_token(layers, kv_dim, kv.dtype)));
}

cuda::StepSizes step_sizes(const LlamaConfig& c, std::int64_t table_entries, bool last) {
  return {c.hidden_size, c.q_dim(), c.kv_dim(), c.intermediate_size, last ? c.vocab_size : 0, c.head_dim / 2,
          table_entries};
}

std::int64_t widest_input(const LlamaConfig& c) { return std::max({c.hidden_size, c.q_dim(), c.intermediate_size}); }

// The buffers a step of `tokens` tokens (a logits row each on the last stage) takes
// beyond what the stage holds from the start: the step buffers (without the block
// tables, which the KV cache's size sets: 4 bytes a block) and the projections'
// rounded input, grown to the step buffers' capacity (reserve_buffers).
std::size_t largest_step_bytes(const LlamaConfig& c, bool last, int tokens) {
  if (tokens <= 0) return 0;
  const std::size_t x16 =
      std::bit_ceil(static_cast<std::size_t>(tokens)) * static_cast<std::size_t>(widest_input(c)) * 2;
  return cuda::StepBuffers::device_bytes(step_sizes(c, 0, last), tokens, last ? tokens : 0) + x16;
}

// Values of a matrix the cuBLAS path widens to bf16 (a block type), else 0.
std::int64_t widened_values(const WeightMatrix& w) {
  return is_block_quantized(w.dtype) ? w.rows * w.cols : 0;
}

// The largest block-type matrix of the stage, in values (cuBLAS widens one at a time).
std::int64_t widest_widened(const StageWeights& w) {
  std::int64_t widest = w.last ? widened_values(w.lm_head) : 0;
  for (const BlockWeights& b : w.blocks) {
    for (const WeightMatrix* m : block_matrices(b)) widest = std::max(widest, widened_values(*m));
  }
  return widest;
}

DeviceMatrix upload_if(bool wanted, const WeightMatrix& w) { return wanted ? upload_matrix(w) : DeviceMatrix{}; }

// The projections' scratch, grown once for the stage's matrices: no step frees it
// under queued work.
cuda::ProjectionScratch reserved_scratch(std::int64_t widened, std::int64_t partials) {
  cuda::ProjectionScratch scratch;
  scratch.reserve(0, widened, partials);
  return scratch;
}

}  // namespace

struct CudaStageEngine::Block {
  DeviceArray<float> attn_norm, ffn_norm, q_bias, k_bias, v_bias;  // biases empty unless attention_bias
  DeviceMatrix q, k, v, o, gate, up, down;
};

std::vector<CudaStageEngine::Block> CudaStageEngine::upload_blocks(const StageWeights& weights) {
  std::vector<Block> blocks;
  for (const BlockWeights& b : weights.blocks) {
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
    blocks.push_back(std::move(d));
  }
  return blocks;
}

std::int64_t CudaStageEngine::widest_partials(const std::vector<Block>& blocks, const DeviceMatrix& lm_head) {
  std::int64_t widest = cuda::dequant_gemm_partials(lm_head);
  for (const Block& d : blocks) {
    for (const DeviceMatrix* m : {&d.q, &d.k, &d.v, &d.o, &d.gate, &d.up, &d.down}) {
      widest = std::max(widest, cuda::dequant_gemm_partials(*m));
    }
  }
  return widest;
}

CudaStageEngine::CudaStageEngine(ModelFiles model, LayerRange layers, const CudaEngineOptions& options)
    : model_(std::move(model)),
      weights_(bind_stage_weights(model_, layers)),
      device_(made_current(options.device)),
      allocated_at_start_(check_kv_before_uploads(
          options.kv, weights_, model_.config.kv_dim(),
          largest_step_bytes(model_.config, weights_.last, options.largest_step_tokens), options.device)),
      rope_(model_.config, weights_.rope_freq_factors),
      blocks_(upload_blocks(weights_)),
      embedding_(upload_if(weights_.first, weights_.embedding)),
      lm_head_(upload_if(weights_.last, weights_.lm_head)),
      final_norm_(upload(weights_.final_norm)),
      widest_widened_(widest_widened(weights_)),
      widest_partials_(widest_partials(blocks_, lm_head_)),
      projection_(reserved_scratch(widest_widened_, widest_partials_)),
      ledger_(stage_ledger(options.kv, static_cast<int>(weights_.blocks.size()), model_.config.kv_dim(),
                           options.device, allocated_at_start_,
                           largest_step_bytes(model_.config, weights_.last, options.largest_step_tokens))),
      buffers_(step_sizes(model_.config, ledger_.total_blocks(), weights_.last)),
      graphs_(options.graphs),
      widest_input_(widest_input(model_.config)),
      largest_step_tokens_(options.largest_step_tokens) {
  kv_dtype_ = options.kv.dtype;
  const std::size_t cache_bytes = weights_.blocks.size() * sz(ledger_.total_blocks()) * sz(ledger_.block_tokens()) *
                                  sz(model_.config.kv_dim()) * kv_value_bytes(kv_dtype_);
  try {
    keys_ = DeviceArray<std::byte>(cache_bytes);
    values_ = DeviceArray<std::byte>(cache_bytes);
  } catch (const Error& e) {
    // A memory share was checked against what was free a moment ago: a process that
    // started beside this one may have taken it since.
    if (options.kv.memory_share == 0) throw;
    fail("KV cache on cuda:{}: 2 x {} for {:g}% of the device's memory did not fit ({}): another process took the memory "
         "meanwhile (give each process that shares a device its part, e.g. 45% each for two)",
         options.device, format_size(static_cast<double>(cache_bytes)), options.kv.memory_share * 100, e.what());
  }
  const LlamaConfig& c = model_.config;
  attention_context_ = static_cast<int>(
      std::min<std::int64_t>(c.max_position_embeddings, ledger_.total_blocks() * ledger_.block_tokens()));
  const cuda::PagedAttentionShape shape{c.num_heads, c.num_kv_heads, c.head_dim, ledger_.block_tokens(),
                                        c.sliding_window, kv_dtype_ == KvDtype::F16};
  prefill_kernel_ = cuda::prefill_kernel_for(shape, cublas_.compute_major());
  const int most_splits = cuda::plan_split(1, attention_context_, attention_context_).splits;
  if (most_splits > 1) {
    split_workspace_ = DeviceArray<float>(sz(cuda::split_workspace_floats(shape, cuda::kSplitMostTokens, most_splits)));
  }
  if (largest_step_tokens_ > 0) reserve_buffers(largest_step_tokens_, weights_.last ? largest_step_tokens_ : 0);
  // The uploads went through the default stream, which the stage's own stream does
  // not wait for: they must have landed before a step reads them.
  synchronize_cuda_device();
}

// The device's memory and handles are freed on their own device.
CudaStageEngine::~CudaStageEngine() { cudaSetDevice(device_); }

StepOutput CudaStageEngine::step(const StepInput& in) {
  const int tokens = step_tokens(in);
  Work work;
  work.tokens = tokens;
  work.skip_layers = in.skip_layers;
  work.embeds = weights_.first && in.skip_layers == 0;
  validate_step(in, tokens, model_.config, ledger_, static_cast<int>(blocks_.size()), work.embeds);
  work.decode = true;
  for (const SequenceChunk& ch : in.chunks) {
    if (weights_.last && ch.want_logits) ++work.logit_rows;
    work.decode = work.decode && ch.length == 1;
    if (ch.length == 1) work.longest = std::max(work.longest, ch.position + 1);
  }
  return run_reserved(ledger_, in, [&] {
    use_cuda_device(device_);
    const cuda::StreamScope scope(stream_);
    try {
      reserve_buffers(work.tokens, work.logit_rows);
      fill_inputs(in, work);
      run(work);
      return take_output(work);
    } catch (...) {
      // Nothing of a failed step may still be running when the next one refills
      // the inputs or replaces buffers. A device that broke fails the step as
      // DeviceFailed, whatever call noticed first (a cuBLAS call says only that
      // it failed).
      stream_.synchronize_after_failure();
      throw;
    }
  });
}

// Room for the step. Graphs captured on buffers about to be replaced go first (so
// none survives a failed allocation either). The projections' rounded input grows
// first, to the step buffers' next capacity, so that no later step (nor a capture)
// has to grow it.
void CudaStageEngine::reserve_buffers(int tokens, int logit_rows) {
  if (tokens <= buffers_.capacity() && logit_rows <= buffers_.logit_capacity()) return;
  graphs_.clear();
  const auto capacity = std::bit_ceil(static_cast<unsigned>(std::max(tokens, buffers_.capacity())));
  try {
    projection_.reserve(std::int64_t{capacity} * widest_input_, widest_widened_, widest_partials_);
    buffers_.reserve(tokens, logit_rows);
  } catch (const Error& e) {
    fail("cuda:{}: no device memory for the buffers of a step of {} tokens ({}){}", device_, tokens, e.what(),
         tokens > largest_step_tokens_
             ? fmt::format(", past the {} tokens set aside before the KV cache took its share", largest_step_tokens_)
             : std::string());
  }
}

// The step's inputs into pinned memory, then queued to the device: per token its
// position, block-table start, cache slot and id (or its hidden row); the rows whose
// logits are wanted; the prefill tiles; the chunks' block tables; the RoPE angles.
void CudaStageEngine::fill_inputs(const StepInput& in, Work& work) {
  cuda::StepBuffers& b = buffers_;
  step_.prepare(in, work.tokens, rope_);
  const int bt = ledger_.block_tokens(), pairs = model_.config.head_dim / 2;
  int t = 0, entries = 0, rows = 0;
  for (const SequenceChunk& ch : in.chunks) {
    const std::vector<std::int32_t>& table = ledger_.blocks(ch.sequence);
    std::copy(table.begin(), table.end(), b.host_tables() + entries);
    for (int i = 0; i < ch.length; ++i, ++t) {
      const int p = ch.position + i;
      b.host_positions()[t] = p;
      b.host_table_starts()[t] = entries;
      b.host_slots()[t] = table[sz(p / bt)] * bt + p % bt;
    }
    entries += static_cast<int>(table.size());
    if (weights_.last && ch.want_logits) b.host_logit_rows()[rows++] = t - 1;
  }
  const std::size_t angles = sz(std::int64_t{work.tokens} * pairs);
  std::memcpy(b.host_cos(), step_.cos.data(), angles * sizeof(float));
  std::memcpy(b.host_sin(), step_.sin.data(), angles * sizeof(float));
  if (!work.decode && model_.config.head_dim <= cuda::kPrefillMostHeadDim) {
    std::vector<int> lengths;
    for (const SequenceChunk& ch : in.chunks) lengths.push_back(ch.length);
    const cuda::StepAttention plan = cuda::plan_step_attention(lengths, prefill_kernel_);
    std::copy(plan.tiles.begin(), plan.tiles.end(), b.host_tiles());
    std::copy(plan.single_tokens.begin(), plan.single_tokens.end(), b.host_single_tokens());
    work.prefill_tiles = static_cast<std::int64_t>(plan.tiles.size() / 2);
    work.single_tokens = static_cast<std::int64_t>(plan.single_tokens.size());
  }
  if (work.embeds) {
    std::copy(in.tokens.begin(), in.tokens.end(), b.host_token_ids());
  } else {
    std::memcpy(b.host_hidden(), in.hidden.data(), in.hidden.size() * sizeof(float));
  }
  b.upload(work.tokens, entries, !work.embeds);
}

// Decode steps through their shape's graph (decode_graphs.h); others queue their
// kernels one by one.
void CudaStageEngine::run(const Work& work) {
  if (!work.decode) return queue_step(work);
  if (graphs_generation_ != projection_.generation) {  // the projections' scratch was replaced
    graphs_.clear();
    graphs_generation_ = projection_.generation;
  }
  const cuda::DecodeGraphs::Shape shape{work.tokens, work.logit_rows, work.skip_layers, work.embeds,
                                        split_for(work).splits};
  graphs_.run(shape, stream_, cublas_, [&] { queue_step(work); });
}

// The attention split of a step (attention.h): the same for every step that splits,
// so a captured step's launches fit later ones of its key.
cuda::AttentionSplit CudaStageEngine::split_for(const Work& work) {
  const std::int64_t tokens = work.prefill_tiles > 0 ? work.single_tokens : work.tokens;
  cuda::AttentionSplit split = cuda::plan_split(tokens, work.longest, attention_context_);
  split.workspace = split_workspace_.data();
  return split;
}

// Each layer leaves its last projection's output in h; the next layer adds it to
// the residual stream x as it norms (add_rms_norm_rows), and the step's end adds
// the last one.
void CudaStageEngine::queue_step(const Work& work) {
  cuda::StepBuffers& s = buffers_;
  if (work.embeds) cuda::embed_rows(embedding_, s.token_ids(), work.tokens, s.x.data());
  const cuda::AttentionSplit split = split_for(work);
  const int first = work.skip_layers, end = static_cast<int>(blocks_.size());
  for (int i = first; i < end; ++i) queue_block(i, work, split, i > first);
  if (end > first) cuda::add(s.h.data(), s.x.data(), std::int64_t{work.tokens} * model_.config.hidden_size);
  if (weights_.last) queue_logits(work.logit_rows);
}

// One layer, the CPU engine's order: norm, q/k/v (+ bias), RoPE and the KV write,
// attention, o, residual add and norm, gate/up, SiLU · up, down.
void CudaStageEngine::queue_block(int index, const Work& work, const cuda::AttentionSplit& split,
                                  bool residual_in_h) {
  const LlamaConfig& c = model_.config;
  const Block& b = blocks_[sz(index)];
  cuda::StepBuffers& s = buffers_;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const std::int64_t T = work.tokens, H = c.hidden_size;
  const bool half_split = c.rope_pairing == RopePairing::kHalfSplit;
  const std::size_t layer_bytes =
      sz(ledger_.total_blocks()) * sz(ledger_.block_tokens()) * sz(c.kv_dim()) * kv_value_bytes(kv_dtype_);
  std::byte* keys = keys_.data() + sz(index) * layer_bytes;
  std::byte* values = values_.data() + sz(index) * layer_bytes;

  if (residual_in_h) {
    cuda::add_rms_norm_rows(s.h.data(), s.x.data(), b.attn_norm.data(), eps, T, H, s.h.data());
  } else {
    cuda::rms_norm_rows(s.x.data(), b.attn_norm.data(), eps, T, H, s.h.data());
  }
  cuda::project(cublas_, {{&b.q, s.q.data()}, {&b.k, s.k.data()}, {&b.v, s.v.data()}}, s.h.data(), T, projection_);
  if (b.q_bias.size() > 0) {
    cuda::add_to_rows(b.q_bias.data(), T, c.q_dim(), s.q.data());
    cuda::add_to_rows(b.k_bias.data(), T, c.kv_dim(), s.k.data());
    cuda::add_to_rows(b.v_bias.data(), T, c.kv_dim(), s.v.data());
  }
  cuda::rotate_and_cache(s.q.data(), s.k.data(), s.v.data(), T, c.num_heads, c.num_kv_heads, c.head_dim, half_split,
                         s.cos(), s.sin(), s.slots(), keys, values, kv_dtype_ == KvDtype::F16);
  queue_attention(work, split, keys, values);
  cuda::project(cublas_, b.o, s.attn.data(), T, s.h.data(), projection_);
  cuda::add_rms_norm_rows(s.h.data(), s.x.data(), b.ffn_norm.data(), eps, T, H, s.h.data());
  cuda::project(cublas_, {{&b.gate, s.gate.data()}, {&b.up, s.up.data()}}, s.h.data(), T, projection_);
  cuda::silu_mul(s.gate.data(), s.up.data(), T * c.intermediate_size, s.gate.data());
  cuda::project(cublas_, b.down, s.gate.data(), T, s.h.data(), projection_);
}

// Decode steps by token (split over long contexts); others by prefill tiles, their
// one-token chunks by token.
void CudaStageEngine::queue_attention(const Work& work, const cuda::AttentionSplit& split, const void* keys,
                                      const void* values) {
  const LlamaConfig& c = model_.config;
  cuda::StepBuffers& s = buffers_;
  const cuda::PagedAttentionShape shape{c.num_heads, c.num_kv_heads, c.head_dim, ledger_.block_tokens(),
                                        c.sliding_window, kv_dtype_ == KvDtype::F16};
  if (work.prefill_tiles == 0) {
    cuda::paged_attention(shape, s.q.data(), keys, values, s.tables(), s.table_starts(), s.positions(), work.tokens,
                          s.attn.data(), split);
    return;
  }
  cuda::prefill_attention(shape, prefill_kernel_, s.q.data(), keys, values, s.tables(), s.table_starts(),
                          s.positions(), s.tiles(), work.prefill_tiles, s.attn.data());
  if (work.single_tokens > 0) {
    cuda::paged_attention(shape, s.q.data(), keys, values, s.tables(), s.table_starts(), s.positions(),
                          work.single_tokens, s.attn.data(), split, s.single_tokens());
  }
}

// The rows whose logits are wanted, picked out, normed, times the LM head.
void CudaStageEngine::queue_logits(int rows) {
  if (rows == 0) return;
  const LlamaConfig& c = model_.config;
  cuda::StepBuffers& s = buffers_;
  cuda::gather_rows(s.x.data(), s.logit_rows(), rows, c.hidden_size, s.picked.data());
  cuda::rms_norm_rows(s.picked.data(), final_norm_.data(), static_cast<float>(c.rms_norm_eps), rows, c.hidden_size,
                      s.picked.data());
  cuda::project(cublas_, lm_head_, s.picked.data(), rows, s.logits.data(), projection_);
}

// The step's result to the host: its logits rows (last stage) or hidden states;
// the one wait of the step.
StepOutput CudaStageEngine::take_output(const Work& work) {
  const LlamaConfig& c = model_.config;
  StepOutput out;
  std::int64_t floats = 0;
  if (weights_.last) {
    out.logit_rows = work.logit_rows;
    floats = std::int64_t{work.logit_rows} * c.vocab_size;
    if (floats > 0) buffers_.download(buffers_.logits.data(), floats);
  } else {
    floats = std::int64_t{work.tokens} * c.hidden_size;
    buffers_.download(buffers_.x.data(), floats);
  }
  stream_.synchronize();
  std::vector<float>& to = weights_.last ? out.logits : out.hidden;
  to.assign(buffers_.host_output(), buffers_.host_output() + floats);
  return out;
}

}  // namespace helix
