// `helix model quantize`: a GGUF model rewritten with its weight matrices in
// another type, as llama.cpp's llama-quantize does for the common presets.
//
// Every key/value is copied with its GGUF type (gguf_raw_metadata.h), except
// general.file_type, which names the new type. 1-D tensors (norms, rope
// factors) stay as they are. A matrix whose rows are not whole blocks of the
// target falls back as llama.cpp falls back (Q4_K -> Q5_0, Q5_K -> Q5_1,
// Q6_K -> Q8_0), and stays as it is if those do not fit either. The _M presets
// (q4_k_m, q5_k_m) put output.weight and, in the layers llama.cpp picks
// (the first and last eighth and every third between), attn_v and ffn_down in
// Q6_K.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "helix/weights/dtype.h"

namespace helix {

struct QuantizeReport {
  struct Tensor {
    std::string name;
    DType from, to;
  };
  std::vector<Tensor> tensors;
  std::size_t bytes_before = 0, bytes_after = 0;
};

// Preset names: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k,
// q4_k_m, q5_k_m (q4_k_s, q5_k_s: the plain K types). Throws Error naming the
// preset when unknown, and the file for a bad input.
QuantizeReport quantize_gguf(const std::filesystem::path& in, const std::filesystem::path& out,
                             std::string_view preset);

std::vector<std::string> quantize_preset_names();

}  // namespace helix
