#include "helix/runtime/stage_executor.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_set>

namespace helix::runtime {
namespace {

SamplingParams sampling_params(const Sampling& s) {
  SamplingParams p;
  p.temperature = s.temperature;
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.seed = s.seed;
  return p;
}

class EngineExecutor final : public StageExecutor {
 public:
  explicit EngineExecutor(std::unique_ptr<Stage> stage) : stage_(std::move(stage)) {}

  BatchResult run(std::span<const BatchChunk> chunks, int skip_layers, bool) override {
    StepInput in;
    in.skip_layers = skip_layers;
    const bool embeds = stage_->is_first() && skip_layers == 0;
    for (const BatchChunk& c : chunks) {
      in.chunks.push_back({c.request, c.position, c.length, c.want_token && stage_->is_last()});
    }
    gather(chunks, embeds, in);
    StepOutput out = stage_->step(in);
    BatchResult r;
    r.tokens.assign(chunks.size(), -1);
    r.sampler_states.assign(chunks.size(), 0);
    for (const BatchChunk& c : chunks) requests_.insert(c.request);
    if (!stage_->is_last()) {
      r.hidden = std::make_shared<const std::vector<float>>(std::move(out.hidden));
      r.hidden_size = stage_->config().hidden_size;
      return r;
    }
    const auto vocab = static_cast<std::size_t>(stage_->config().vocab_size);
    std::size_t row = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      if (!in.chunks[i].want_logits) continue;
      std::span<const float> logits(out.logits.data() + row * vocab, vocab);
      ++row;
      Sampler& s = sampler(chunks[i]);
      r.tokens[i] = s.sample(logits, chunks[i].sampling->allowed_vocab);
      r.sampler_states[i] = s.state();
    }
    return r;
  }

  std::int64_t blocks_needed(std::uint64_t request, int new_length) const override {
    return stage_->kv_ledger().blocks_needed(request, new_length);
  }
  std::int64_t free_blocks() const override { return stage_->kv_ledger().free_blocks(); }
  std::int64_t total_blocks() const override { return stage_->kv_ledger().total_blocks(); }
  int cached_length(std::uint64_t request) const override { return stage_->kv_ledger().length(request); }
  std::size_t active_sequences() const override { return stage_->kv_ledger().num_sequences(); }
  std::int64_t kv_capacity_tokens() const override { return stage_->kv_ledger().capacity_tokens(); }
  std::int64_t kv_used_tokens() const override {
    const auto& kv = stage_->kv_ledger();
    return (kv.total_blocks() - kv.free_blocks()) * kv.block_tokens();
  }
  void release(std::uint64_t request) override {
    stage_->release(request);
    samplers_.erase(request);
    requests_.erase(request);
  }
  void release_all() override {
    for (std::uint64_t request : requests_) stage_->release(request);
    samplers_.clear();
    requests_.clear();
  }
  int hidden_size() const override { return stage_->config().hidden_size; }
  int vocab_size() const override { return stage_->config().vocab_size; }

 private:
  // One contiguous input for the step. A batch of one chunk reads the received
  // frame in place; several are copied side by side (the engine copies its input
  // into its own activations anyway).
  void gather(std::span<const BatchChunk> chunks, bool embeds, StepInput& in) {
    if (chunks.size() == 1) {
      if (embeds) in.tokens = chunks[0].tokens;
      else in.hidden = chunks[0].hidden;
      return;
    }
    tokens_.clear();
    hidden_.clear();
    for (const BatchChunk& c : chunks) {
      if (embeds) tokens_.insert(tokens_.end(), c.tokens.begin(), c.tokens.end());
      else hidden_.insert(hidden_.end(), c.hidden.begin(), c.hidden.end());
    }
    in.tokens = tokens_;
    in.hidden = hidden_;
  }

  // A request's sampler is made at its first sampled token and lives until release,
  // so its seeded stream continues across decode steps.
  Sampler& sampler(const BatchChunk& c) {
    auto it = samplers_.find(c.request);
    if (it == samplers_.end()) it = samplers_.emplace(c.request, Sampler(sampling_params(*c.sampling))).first;
    return it->second;
  }

  std::unique_ptr<Stage> stage_;
  std::unordered_map<std::uint64_t, Sampler> samplers_;
  std::unordered_set<std::uint64_t> requests_;  // with KV here (release_all)
  std::vector<std::int32_t> tokens_;
  std::vector<float> hidden_;
};

std::vector<LayerTimeTable::Point> points(const std::vector<TimePoint>& in) {
  std::vector<LayerTimeTable::Point> out;
  for (const TimePoint& p : in) out.push_back({p.tokens, p.seconds});
  return out;
}

class EmulatedExecutor final : public StageExecutor {
 public:
  EmulatedExecutor(const Emulation& e, LayerRange layers, double slowdown, std::int64_t kv_tokens)
      : blocks_total_(kv_tokens > 0 ? kv_tokens / kBlockTokens : 0),
        prompt_(points(e.prompt), "emulated prompt table"),
        decode_(points(e.decode), "emulated decode table"),
        layers_(layers),
        slowdown_(slowdown),
        hidden_size_(std::max(1, e.activation_bytes_per_token / static_cast<int>(sizeof(float)))),
        vocab_(e.vocab_size) {}

  BatchResult run(std::span<const BatchChunk> chunks, int skip_layers, bool last_stage) override {
    long long prompt_tokens = 0;
    int decodes = 0;
    int tokens = 0;
    for (const BatchChunk& c : chunks) {
      if (c.decode) ++decodes;
      else prompt_tokens += c.length;
      tokens += c.length;
      lengths_[c.request] = c.position + c.length;
    }
    const double seconds =
        slowdown_ * stage_batch_seconds(prompt_, decode_, prompt_tokens, decodes, layers_.size() - skip_layers);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    BatchResult r;
    r.tokens.assign(chunks.size(), -1);
    r.sampler_states.assign(chunks.size(), 0);
    if (!last_stage) {
      r.hidden = std::make_shared<const std::vector<float>>(static_cast<std::size_t>(tokens) * hidden_size_, 0.f);
      r.hidden_size = hidden_size_;
      return r;
    }
    // Text the byte tokenizer prints: letters, never a stop token.
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      if (!chunks[i].want_token) continue;
      r.tokens[i] = 'a' + (chunks[i].position + chunks[i].length) % 26;
      r.sampler_states[i] = chunks[i].sampling->seed;  // draws nothing
    }
    return r;
  }

  // Without a capacity, emulated KV is unlimited (the coordinator's ledger bounds it).
  std::int64_t blocks_needed(std::uint64_t request, int new_length) const override {
    if (blocks_total_ == 0) return 0;
    return blocks_for(new_length) - blocks_for(cached_length(request));
  }
  std::int64_t free_blocks() const override {
    if (blocks_total_ == 0) return 1;
    std::int64_t used = 0;
    for (const auto& [request, length] : lengths_) used += blocks_for(length);
    return blocks_total_ - used;
  }
  std::int64_t total_blocks() const override { return blocks_total_ == 0 ? 1 : blocks_total_; }
  std::size_t active_sequences() const override { return lengths_.size(); }
  int cached_length(std::uint64_t request) const override {
    auto it = lengths_.find(request);
    return it == lengths_.end() ? 0 : it->second;
  }
  std::int64_t kv_capacity_tokens() const override { return blocks_total_ * kBlockTokens; }
  std::int64_t kv_used_tokens() const override {
    std::int64_t used = 0;
    for (const auto& [request, length] : lengths_) used += length;
    return used;
  }
  void release(std::uint64_t request) override { lengths_.erase(request); }
  void release_all() override { lengths_.clear(); }
  int hidden_size() const override { return hidden_size_; }
  int vocab_size() const override { return vocab_; }

 private:
  static constexpr int kBlockTokens = 16;  // the engine's block size
  static std::int64_t blocks_for(std::int64_t tokens) { return (tokens + kBlockTokens - 1) / kBlockTokens; }

  std::int64_t blocks_total_;
  LayerTimeTable prompt_, decode_;
  LayerRange layers_;
  double slowdown_;
  int hidden_size_, vocab_;
  std::unordered_map<std::uint64_t, int> lengths_;
};

}  // namespace

std::unique_ptr<StageExecutor> make_engine_executor(std::unique_ptr<Stage> stage) {
  if (stage == nullptr) fail("engine executor: no stage");
  return std::make_unique<EngineExecutor>(std::move(stage));
}

std::unique_ptr<StageExecutor> make_emulated_executor(const Emulation& emulation, LayerRange layers, double slowdown,
                                                      std::int64_t kv_tokens) {
  return std::make_unique<EmulatedExecutor>(emulation, layers, slowdown, kv_tokens);
}

}  // namespace helix::runtime
