// Stage: a pipeline stage as its users see it (the generator, a worker's executor,
// the profiler), whatever device runs it: the CPU's StageEngine or cuda/'s
// CudaStageEngine. Steps (stage_batch.h) go in, hidden states or logits come out;
// the KV ledger says what the stage holds.
#pragma once

#include "helix/engine/kv_ledger.h"
#include "helix/engine/llama_config.h"
#include "helix/engine/stage_batch.h"
#include "helix/model/layer_range.h"

namespace helix {

// A step failed because the stage's device did, in a way that leaves it unusable to
// this process: on a GPU, an error CUDA makes sticky (an illegal address, a failed
// launch, an uncorrectable ECC error), after which every call fails until the
// process restarts. Its owner stops using the stage: a worker leaves its cluster.
class DeviceFailed : public Error {
 public:
  using Error::Error;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual const LlamaConfig& config() const = 0;
  virtual LayerRange layers() const = 0;
  virtual bool is_first() const = 0;  // holds layer 0: embeds tokens
  virtual bool is_last() const = 0;   // holds the last layer: gives logits
  virtual const KvBlockLedger& kv_ledger() const = 0;
  // Runs one step; throws Error (KvCacheFull when out of KV blocks) without changing
  // any state when the input is invalid, DeviceFailed when the device broke.
  virtual StepOutput step(const StepInput& input) = 0;
  // Frees a finished sequence's KV blocks.
  virtual void release(SequenceId id) = 0;
};

}  // namespace helix
