// CudaStageEngine: layers [a, b) of a LLaMA-family model on one CUDA device, under
// the CPU StageEngine's contract (engine/stage_engine.h): the same steps, validated
// by the same code (engine/step_plan.h) before anything runs, the same KV ledger
// rules (engine/kv_ledger.h) with the keys and values in device memory, hidden
// states in and out through pinned host memory. Weights are uploaded once
// (device_matrix.h: every dtype of a weight file, F16 widened); the arithmetic per
// operation is in elementwise.h, projection.h, attention.h.
//
// A step is queued on the stage's own stream (stream.h) and waited for once, at its
// end. Decode steps (every chunk one token) go through decode_graphs.h: captured
// into a CUDA graph per shape (tokens, logits rows, skipped layers, embedding,
// attention split) the second time the shape comes, then replayed, the inputs
// refilled in place (step_buffers.h). Prefill attention goes by tiles of tokens
// (flash-attention style), decode attention by token, split over the context when
// it is long (attention.h).
//
// Not yet: overlap of a step's copies with the previous step's compute.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "helix/cuda/attention.h"
#include "helix/cuda/device_array.h"
#include "helix/cuda/device_matrix.h"
#include "helix/cuda/decode_graphs.h"
#include "helix/cuda/projection.h"
#include "helix/cuda/step_buffers.h"
#include "helix/cuda/stream.h"
#include "helix/engine/kv_ledger.h"
#include "helix/engine/model_files.h"
#include "helix/engine/rope.h"
#include "helix/engine/stage.h"
#include "helix/engine/stage_batch.h"
#include "helix/engine/stage_weights.h"
#include "helix/engine/step_plan.h"
#include "helix/model/layer_range.h"

namespace helix {

struct CudaEngineOptions {
  int device = 0;      // cuda:N
  KvCacheOptions kv;   // defaults to 4096 tokens when no capacity is set; a memory share
                       // leaves beside the stage's weights and workspace
  bool graphs = true;  // capture decode steps into CUDA graphs and replay them
  // The largest step the caller will give, in tokens: its buffers (with a logits
  // row per token on the last stage) are taken before a memory share sizes the KV
  // cache, so that the share holds them. 0: buffers grow at the steps that need
  // them, from what the cache left.
  int largest_step_tokens = 0;
};

class CudaStageEngine final : public Stage {
 public:
  CudaStageEngine(ModelFiles model, LayerRange layers, const CudaEngineOptions& options = {});
  ~CudaStageEngine() override;
  CudaStageEngine(const CudaStageEngine&) = delete;
  CudaStageEngine& operator=(const CudaStageEngine&) = delete;

  const LlamaConfig& config() const override { return model_.config; }
  LayerRange layers() const override { return weights_.layers; }
  bool is_first() const override { return weights_.first; }
  bool is_last() const override { return weights_.last; }
  const KvBlockLedger& kv_ledger() const override { return ledger_; }

  // Runs one step. Throws Error (KvCacheFull when out of KV blocks) without changing
  // any state when the input is invalid.
  StepOutput step(const StepInput& input) override;
  // Frees a finished sequence's KV blocks.
  void release(SequenceId id) override { ledger_.release(id); }

  // Decode steps replayed from a captured graph so far, and why capturing stopped
  // (empty while it works): a failed capture falls back to queuing each kernel.
  long graph_replays() const { return graphs_.replays(); }
  const std::string& graph_failure() const { return graphs_.failure(); }

 private:
  struct Block;
  struct Work {
    int tokens = 0, logit_rows = 0, skip_layers = 0;
    bool embeds = false;
    int longest = 0;  // positions the longest one-token chunk attends to (without a window)
    bool decode = false;  // every chunk one token
    // Otherwise attention by prefill tiles and, for the one-token chunks, by token
    // (attention.h's plan_step_attention).
    std::int64_t prefill_tiles = 0, single_tokens = 0;
  };

  void fill_inputs(const StepInput& input, Work& work);
  void queue_step(const Work& work);
  void queue_block(int index, const Work& work, const cuda::AttentionSplit& split, bool residual_in_h);
  void queue_attention(const Work& work, const cuda::AttentionSplit& split, const void* keys, const void* values);
  cuda::AttentionSplit split_for(const Work& work);
  void queue_logits(int rows);
  void run(const Work& work);
  void reserve_buffers(int tokens, int logit_rows);
  StepOutput take_output(const Work& work);

  static std::vector<Block> upload_blocks(const StageWeights& weights);
  static std::int64_t widest_partials(const std::vector<Block>& blocks, const DeviceMatrix& lm_head);

  // Members are built in this order. The weights, the handles and the projections'
  // scratch come before the KV cache is sized: a share of the device's memory is
  // what they leave of it (what the process allocated since allocated_at_start_).
  ModelFiles model_;
  StageWeights weights_;  // the host's views, uploaded below; its norms and biases are small copies
  int device_ = 0;
  std::size_t allocated_at_start_ = 0;  // device_bytes_allocated() before the stage allocated any
  Rope rope_;
  std::vector<Block> blocks_;
  DeviceMatrix embedding_, lm_head_;  // embedding_ on the first stage, lm_head_ on the last
  DeviceArray<float> final_norm_;
  std::int64_t widest_widened_ = 0;   // values of the largest block-type matrix (cuBLAS widens it)
  std::int64_t widest_partials_ = 0;  // the most partial sums a dequantizing GEMM of this stage needs
  cuda::Stream stream_;
  cuda::Cublas cublas_;
  cuda::ProjectionScratch projection_;
  KvBlockLedger ledger_;
  KvDtype kv_dtype_ = KvDtype::F32;
  DeviceArray<std::byte> keys_, values_;  // [layer][block][offset][kv_dim] values of kv_dtype_
  DeviceArray<float> split_workspace_;  // attention split over the context (attention.h), when the model is long
  cuda::StepBuffers buffers_;
  cuda::DecodeGraphs graphs_;
  int graphs_generation_ = 0;  // projection_'s generation when graphs_ were captured
  std::int64_t widest_input_ = 0;  // the widest projection input: hidden, q_dim or intermediate
  int largest_step_tokens_ = 0;    // CudaEngineOptions's
  int attention_context_ = 0;      // the longest a sequence can be here: the context, or the cache if smaller
  cuda::PrefillKernel prefill_kernel_ = cuda::PrefillKernel::kCudaCores;  // attention.h: by cache and device
  StepPositions step_;
};

}  // namespace helix
