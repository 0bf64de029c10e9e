// StageWeights: the weights one pipeline stage executes — the blocks of its layer
// range, plus the token embedding on the first stage and the final norm and LM head
// on the last. Matrices are views into the memory-mapped files in their stored
// dtype (BF16 stays BF16, Q8_0 stays quantised); only the small vectors (norm
// weights, biases) are converted to f32. Binding checks every shape and touches no
// tensor outside the stage.
#pragma once

#include <array>
#include <vector>

#include "helix/engine/model_files.h"
#include "helix/kernels/weight_matrix.h"
#include "helix/model/layer_range.h"

namespace helix {

struct BlockWeights {
  std::vector<float> attn_norm, ffn_norm;     // [hidden]
  std::vector<float> q_bias, k_bias, v_bias;  // empty unless attention_bias
  WeightMatrix q, k, v, o, gate, up, down;
};

// A block's seven matrices, in file order (q, k, v, o, gate, up, down).
inline std::array<const WeightMatrix*, 7> block_matrices(const BlockWeights& b) {
  return {&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down};
}

struct StageWeights {
  LayerRange layers;
  bool first = false;  // holds layer 0: embeds tokens
  bool last = false;   // holds the last layer: final norm, LM head
  std::vector<BlockWeights> blocks;  // blocks[i] is layer layers.start + i
  WeightMatrix embedding;            // first stage only
  std::vector<float> final_norm;     // last stage only
  WeightMatrix lm_head;              // last stage only (the embedding when tied)
  std::vector<float> rope_freq_factors;  // GGUF llama3 models; empty otherwise
};

// Throws Error naming the tensor and file for a missing tensor, a wrong shape or an
// unusable dtype, and for a layer range outside the model.
StageWeights bind_stage_weights(const ModelFiles& model, LayerRange layers);

// Bytes the stage's weights take in memory: its matrices as stored, its vectors as
// f32 (the LM head counted once when it is the embedding).
std::size_t stage_weight_bytes(const StageWeights& weights);

}  // namespace helix
