// StageEngine: executes layers [a, b) of a LLaMA-family model on the CPU for a
// mixed batch of sequences, keeping their keys and values in a paged KV cache.
// The first stage (a = 0) embeds token ids; the last (b = L) applies the final
// norm and the LM head and returns logits. A single stage holding [0, L) is the
// whole model (helix generate).
//
// A step is validated completely before anything runs — unknown or duplicated
// sequences, positions that do not continue the cache, token ids outside the
// vocabulary, sequences past the context length, a KV cache that cannot hold the
// step — and then applied whole. Weights stay in their stored dtype (see kernels/).
#pragma once

#include <memory>
#include <vector>

#include "helix/engine/kv_cache.h"
#include "helix/engine/model_files.h"
#include "helix/engine/rope.h"
#include "helix/engine/stage.h"
#include "helix/engine/stage_batch.h"
#include "helix/engine/stage_weights.h"
#include "helix/engine/step_plan.h"
#include "helix/kernels/thread_pool.h"

namespace helix {

struct EngineOptions {
  int threads = 2;             // compute threads, the caller's included
  KvCacheOptions kv;           // defaults to 4096 tokens when no capacity is set
  // The largest step the caller will give, in tokens (0: not known). A GPU stage
  // sets its buffers aside before a memory share sizes its KV cache; the CPU's
  // engine does not need it.
  int largest_step_tokens = 0;
};

class StageEngine final : public Stage {
 public:
  StageEngine(ModelFiles model, LayerRange layers, const EngineOptions& options = {});

  const LlamaConfig& config() const override { return model_.config; }
  const ModelFiles& model() const { return model_; }
  LayerRange layers() const override { return weights_.layers; }
  bool is_first() const override { return weights_.first; }
  bool is_last() const override { return weights_.last; }
  const KvBlockLedger& kv_ledger() const override { return kv_.ledger(); }
  PagedKvCache& kv_cache() { return kv_; }
  const PagedKvCache& kv_cache() const { return kv_; }

  // Runs one step. Throws Error (KvCacheFull when out of KV blocks) without
  // changing any state when the input is invalid.
  StepOutput step(const StepInput& input) override;
  // Frees a finished sequence's KV blocks.
  void release(SequenceId id) override { kv_.release(id); }

 private:
  bool embeds(const StepInput& input) const { return weights_.first && input.skip_layers == 0; }
  StepOutput execute(const StepInput& input, int tokens);
  void embed(std::span<const std::int32_t> tokens);
  void run_block(int index, int tokens);
  struct QueryBlock {
    int first, count;  // tokens first .. first + count - 1 of the step
  };
  std::vector<QueryBlock> query_blocks(int tokens) const;
  // Kv: the cache's values, float or std::uint16_t (f16 bits): kv_cache.h.
  template <typename Kv>
  void attend_token(int index, int t, int h, float* scores);
  template <typename Kv>
  void attend_block(int index, QueryBlock block, int h, float* scores, float* row);
  void attention(int index, int tokens);
  void write_kv(int index, int tokens);
  void output_logits(const StepInput& input, StepOutput& out);

  ModelFiles model_;
  StageWeights weights_;
  Rope rope_;
  PagedKvCache kv_;
  ThreadPool pool_;
  // Per-step scratch, grown as needed and reused.
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_;
  std::vector<float> scores_;  // per thread: a query block's scores and one row of them
  StepPositions step_;
};

}  // namespace helix
