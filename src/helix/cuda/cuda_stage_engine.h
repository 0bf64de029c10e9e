// CudaStageEngine: layers [a, b) of a LLaMA-family model on one CUDA device, under
// the CPU StageEngine's contract (engine/stage_engine.h): the same steps, validated
// by the same code (engine/step_plan.h) before anything runs, the same KV ledger
// rules (engine/kv_ledger.h) with the keys and values in device memory, hidden
// states in and out through the host. Weights are uploaded once (device_matrix.h:
// BF16 and F32 as stored, F16 widened); the arithmetic per operation is in
// elementwise.h, projection.h, attention.h.
//
// Not yet: batch-invariant projections (projection.h), the block types' weights,
// CUDA graphs, overlap of copies with compute.
#pragma once

#include <memory>
#include <vector>

#include "helix/cuda/device_array.h"
#include "helix/cuda/device_matrix.h"
#include "helix/cuda/projection.h"
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
  int device = 0;     // cuda:N
  KvCacheOptions kv;  // defaults to 4096 tokens when neither capacity is set
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

 private:
  struct Block;
  struct Scratch;
  StepOutput execute(const StepInput& input, int tokens);
  void upload_step(const StepInput& input, int tokens);
  void run_block(int index, int tokens);
  void output_logits(const StepInput& input, StepOutput& out);

  ModelFiles model_;
  StageWeights weights_;  // the host's views, uploaded below; its norms and biases are small copies
  int device_ = 0;
  Rope rope_;
  KvBlockLedger ledger_;
  std::vector<Block> blocks_;
  DeviceMatrix embedding_, lm_head_;
  DeviceArray<float> final_norm_;
  DeviceArray<float> keys_, values_;  // [layer][block][offset][kv_dim]
  std::unique_ptr<Scratch> scratch_;
  cuda::Cublas cublas_;
  StepPositions step_;
};

}  // namespace helix
