// A deliberately naive float64 LLaMA-family forward pass, written independently of
// the engine (no kernels, no KV cache, no paging): the oracle the engine's logits
// are checked against. It reads the same stored weights (dequantised exactly to
// double), so any difference is the engine's f32 arithmetic, not the file's dtype.
#pragma once

#include <vector>

#include "helix/engine/model_files.h"

namespace helix::test {

class ReferenceModel {
 public:
  explicit ReferenceModel(const ModelFiles& model);
  // Logits (vocab_size each) at every position of `tokens`. kv_in_f16: keys (after
  // RoPE) and values are rounded to the nearest f16 before attention reads them, as
  // an f16 KV cache stores them.
  std::vector<std::vector<double>> logits(const std::vector<int>& tokens, bool kv_in_f16 = false) const;

 private:
  using Matrix = std::vector<double>;  // row-major
  Matrix load(const std::string& name) const;
  std::vector<double> rotate(std::vector<double> x, int heads, int position) const;

  const ModelFiles& model_;
  std::vector<double> inv_freq_;
};

// max |a - b| / max |b| over all entries.
double relative_error(const std::vector<float>& a, const std::vector<double>& b);

}  // namespace helix::test
