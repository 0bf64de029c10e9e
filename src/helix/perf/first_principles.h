// First-principles profiles: an ESTIMATE of a (model, GPU) profile the paper never
// measured (an H100, an A10G, a LLaMA-3-8B), built from datasheet numbers — VRAM,
// memory bandwidth, peak dense fp16 FLOP/s — and the model's sizes, so that such
// machines go through the same T(k) model (throughput_model.h) as measured ones.
//
// Per layer, with P = layer parameters (bytes / dtype bytes), W = layer bytes:
//   prompt  t_p(x) = max(2·P·x / (e_c·peak), W / (e_m·BW)) + overhead
//   decode  t_d(b) = (W + b·ctx·kv) / (e_m·BW) + 2·P·b / (e_c·peak) + overhead
// (a roofline: prompts are compute bound, decode steps stream the weights and the
// KV cache of b sequences of typical context ctx), sampled on the paper's x grids.
// Memory (§1.6): the paper's half-VRAM rule for weights; vLLM blocks from what is
// left after weights and a reserve. The constants are calibrated against the
// paper's A100/L4/T4 + LLaMA-2-70B tables; tests/unit/perf/first_principles_test.cpp
// states how close that gets. Treat the output as a planning estimate, not a
// measurement: real kernels, tensor-parallel overheads and power limits differ.
#pragma once

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"
#include "helix/core/device_memory.h"
#include "helix/perf/profile.h"

namespace helix {

struct FirstPrinciplesConstants {
  // Fraction of peak FLOP/s reached by prompt GEMMs. The paper's prompt tables imply
  // 0.73 (A100), 0.39 (L4) and 0.37 (T4) at 2k-7.5k tokens; 0.5 splits the difference.
  double compute_efficiency = 0.5;
  // Fraction of memory bandwidth reached by decode (weight streaming). The paper's
  // batch-8 decode times imply 0.70 (A100), 0.73 (L4) and 0.64 (T4).
  double memory_efficiency = 0.75;
  double overhead_s = 20e-6;  // kernel launches etc. per layer and batch
  // Typical context of a decoding sequence: 750 prompt + half of 240 outputs (§0.1).
  double decode_context_tokens = 870;
  // vLLM's gpu_memory_utilization (helix's GPU workers fill the same share by
  // default: core/device_memory.h) and the memory it keeps for the CUDA context and
  // activations. The paper's vLLM block counts imply a reserve of 2.6-3.8 GB for
  // LLaMA-2-70B on A100/L4/T4 with 0.9 utilisation.
  double vram_utilization = kServingMemoryShare;
  double reserve_bytes = 3e9;
  // Prompt admission: as many 2048-token prompts as fit in this per-layer time
  // (3 for A100 + 70B, the paper's choice there; 1 for L4 and T4), at most 7 so that
  // prompt_max_tokens stays inside the 15000-token prompt grid.
  double prompt_budget_s = 0.064;
  int max_prompt_requests = 7;
  // Decode admission: decode_max_tokens * 1000 context must fit in one layer's KV
  // tokens (the paper's tables roughly follow this), rounded down to a multiple of
  // 10, capped at the paper's largest value.
  int max_decode_tokens = 480;
};

// KV bytes per token per layer: the model's own figure, else 2·kv_heads·head_dim·dtype,
// else the published architecture of a paper model (LLaMA-2-70B: 8 KV heads x 128 →
// 4096 B; LLaMA-1-30B: 52 x 128 → 26624 B), else 2·hidden·dtype (assumes no GQA, an
// upper bound). Throws Error when none is known.
double estimate_kv_bytes_per_token_per_layer(const ModelSpec& model);

// The synthetic profile of `model` on `gpu`. Throws Error naming the type when a
// datasheet number is missing or when not even one layer fits.
GpuProfile first_principles_profile(const ModelSpec& model, const GpuType& gpu,
                                    const FirstPrinciplesConstants& constants = {});

// §1.5 step 0 inputs for a synthetic type: typical layers ≈ 2/3 of max (the paper's
// dicts are 0.57–0.75 of max), the small-cluster dict = max, and perf⁰ ∝ peak
// FLOP/s on the paper's 70B scale (A100 312 TFLOP/s → 80).
int first_principles_typical_layers(int max_layers);
double first_principles_initial_perf(const GpuType& gpu);

}  // namespace helix
