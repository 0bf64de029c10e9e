#include "helix/engine/stage_weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "helix/core/error.h"

namespace helix {
namespace {

const TensorRef& tensor_with_shape(const ModelFiles& m, const std::string& name,
                                   std::vector<std::int64_t> shape) {
  if (!m.store->contains(name)) fail("{}: tensor '{}' is missing", m.path.string(), name);
  const TensorRef& t = m.store->at(name);
  if (t.shape != shape) {
    fail("{}: tensor '{}' has shape [{}], expected [{}]", t.source, name, fmt::join(t.shape, ", "),
         fmt::join(shape, ", "));
  }
  return t;
}

WeightMatrix matrix(const ModelFiles& m, const std::string& name, std::int64_t rows, std::int64_t cols) {
  const TensorRef& t = tensor_with_shape(m, name, {rows, cols});
  return in_context(t.source + ": tensor '" + name + "'",
                    [&] { return WeightMatrix::make(t.dtype, rows, cols, t.data); });
}

std::vector<float> vector_f32(const ModelFiles& m, const std::string& name, std::int64_t n) {
  const TensorRef& t = tensor_with_shape(m, name, {n});
  std::vector<float> out(static_cast<std::size_t>(n));
  in_context(t.source + ": tensor '" + name + "'",
             [&] { convert_to_f32(t.dtype, t.data, n, out.data()); });
  return out;
}

BlockWeights bind_block(const ModelFiles& m, int layer) {
  const LlamaConfig& c = m.config;
  auto name = [&](LayerTensor t) { return m.layer_tensor(layer, t); };
  BlockWeights b;
  b.attn_norm = vector_f32(m, name(LayerTensor::kAttnNorm), c.hidden_size);
  b.ffn_norm = vector_f32(m, name(LayerTensor::kFfnNorm), c.hidden_size);
  b.q = matrix(m, name(LayerTensor::kQ), c.q_dim(), c.hidden_size);
  b.k = matrix(m, name(LayerTensor::kK), c.kv_dim(), c.hidden_size);
  b.v = matrix(m, name(LayerTensor::kV), c.kv_dim(), c.hidden_size);
  b.o = matrix(m, name(LayerTensor::kO), c.hidden_size, c.q_dim());
  b.gate = matrix(m, name(LayerTensor::kGate), c.intermediate_size, c.hidden_size);
  b.up = matrix(m, name(LayerTensor::kUp), c.intermediate_size, c.hidden_size);
  b.down = matrix(m, name(LayerTensor::kDown), c.hidden_size, c.intermediate_size);
  if (c.attention_bias) {
    b.q_bias = vector_f32(m, name(LayerTensor::kQBias), c.q_dim());
    b.k_bias = vector_f32(m, name(LayerTensor::kKBias), c.kv_dim());
    b.v_bias = vector_f32(m, name(LayerTensor::kVBias), c.kv_dim());
  }
  return b;
}

}  // namespace

StageWeights bind_stage_weights(const ModelFiles& m, LayerRange layers) {
  const LlamaConfig& c = m.config;
  if (layers.start < 0 || layers.end > c.num_layers || layers.empty()) {
    fail("{}: layer range [{}, {}) is not a non-empty part of the model's {} layers", m.path.string(),
         layers.start, layers.end, c.num_layers);
  }
  StageWeights w;
  w.layers = layers;
  w.first = layers.start == 0;
  w.last = layers.end == c.num_layers;
  for (int l = layers.start; l < layers.end; ++l) w.blocks.push_back(bind_block(m, l));
  if (w.first) w.embedding = matrix(m, m.embedding_tensor(), c.vocab_size, c.hidden_size);
  if (w.last) {
    w.final_norm = vector_f32(m, m.final_norm_tensor(), c.hidden_size);
    w.lm_head = c.tie_word_embeddings ? matrix(m, m.embedding_tensor(), c.vocab_size, c.hidden_size)
                                      : matrix(m, m.lm_head_tensor(), c.vocab_size, c.hidden_size);
  }
  std::string freqs = m.rope_freqs_tensor();
  if (!freqs.empty() && m.store->contains(freqs)) {
    w.rope_freq_factors = vector_f32(m, freqs, c.head_dim / 2);
  }
  return w;
}

std::size_t stage_weight_bytes(const StageWeights& w) {
  const auto floats = [](const std::vector<float>& v) { return v.size() * sizeof(float); };
  std::size_t bytes = floats(w.final_norm) + floats(w.rope_freq_factors) + w.embedding.bytes();
  if (w.lm_head.data != w.embedding.data) bytes += w.lm_head.bytes();
  for (const BlockWeights& b : w.blocks) {
    for (const std::vector<float>* v : {&b.attn_norm, &b.ffn_norm, &b.q_bias, &b.k_bias, &b.v_bias}) bytes += floats(*v);
    for (const WeightMatrix* m : block_matrices(b)) bytes += m->bytes();
  }
  return bytes;
}

}  // namespace helix
