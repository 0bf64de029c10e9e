// The ModelSpec of a model as helix's own runtime serves it. A spec built from a
// config.json counts every weight, KV value and activation at the checkpoint's
// nominal dtype; the runtime holds the weights as the file stores them (Q8_0 is
// 34 bytes per 32 values), keeps KV in the cache's dtype (f32 unless --kv-dtype
// f16) and sends hidden states as float32, or f16 with --activations f16 (wire.h). Planning with this spec makes
// the plan's memory limits (layers that fit, KV tokens) and network capacities
// (tokens/s a link carries) the ones the workers meet.
#pragma once

#include "helix/engine/kv_ledger.h"
#include "helix/engine/model_files.h"
#include "helix/model/model_spec.h"
#include "helix/runtime/wire.h"

namespace helix::runtime {

// Architecture from the model's config; per block, the largest stored size of any
// layer's tensors (a file may keep some layers at a wider type); the cache dtype's
// KV bytes; the wire's bytes per token id and per hidden state in `activations`.
// Like the paper's count it leaves out what only the first and last stages hold
// (embedding, final norm, LM head).
ModelSpec runtime_model_spec(const ModelFiles& files, KvDtype kv_dtype, ActivationDtype activations);

}  // namespace helix::runtime
