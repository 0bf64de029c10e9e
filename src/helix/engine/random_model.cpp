#include "helix/engine/random_model.h"

#include <cmath>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "helix/core/error.h"
#include "helix/engine/gguf_metadata.h"
#include "helix/engine/model_files.h"
#include "helix/engine/rope.h"
#include "helix/weights/tensor_data.h"
#include "helix/tokenize/bpe_trainer.h"
#include "helix/weights/gguf_writer.h"
#include "helix/weights/safetensors_writer.h"

namespace helix {
namespace {

using nlohmann::json;

LlamaConfig base(const std::string& type, int hidden, int inter, int layers, int heads, int kv_heads, int vocab,
                 int context) {
  LlamaConfig c;
  c.model_type = type;
  c.hidden_size = hidden;
  c.intermediate_size = inter;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = vocab;
  c.max_position_embeddings = context;
  c.rms_norm_eps = 1e-5;
  return c;
}

std::map<std::string, LlamaConfig> presets() {
  std::map<std::string, LlamaConfig> p;
  p["tiny"] = base("llama", 64, 192, 4, 4, 2, 384, 512);
  LlamaConfig l3 = base("llama", 64, 160, 4, 4, 1, 384, 1024);
  l3.rope_theta = 500000;
  l3.rope_scaling = {RopeScaling::Kind::kLlama3, 8.0, 1.0, 4.0, 64};
  p["tiny-llama3"] = l3;
  LlamaConfig qwen = base("qwen2", 64, 128, 3, 4, 2, 384, 512);
  qwen.rope_theta = 1e6;
  qwen.attention_bias = true;
  qwen.tie_word_embeddings = true;
  qwen.rms_norm_eps = 1e-6;
  p["tiny-qwen2"] = qwen;
  LlamaConfig mistral = base("mistral", 64, 192, 3, 4, 2, 384, 512);
  mistral.sliding_window = 16;
  p["tiny-mistral"] = mistral;
  p["small"] = base("llama", 512, 1408, 8, 8, 4, 2048, 2048);
  p["llama-7b-1l"] = base("llama", 4096, 11008, 1, 32, 32, 32000, 4096);
  p["llama-7b-4l"] = base("llama", 4096, 11008, 4, 32, 32, 32000, 4096);
  return p;
}

// FNV-1a of the tensor name mixed with the seed: each tensor its own stream.
std::uint64_t stream_seed(std::uint64_t seed, const std::string& name) {
  std::uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ULL;
  return h;
}

struct SplitMix {
  std::uint64_t s;
  // Uniform in [-1, 1).
  float next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<float>(static_cast<double>(z >> 40) * 0x1.0p-23 - 1.0);
  }
};

enum class Init { kMatrix, kNorm, kBias, kEmbedding };

struct ParamSpec {
  std::string hf_name;
  std::vector<std::int64_t> shape;
  Init init;
  float fan_in = 1;
};

std::vector<ParamSpec> parameters(const LlamaConfig& c) {
  std::vector<ParamSpec> p;
  auto H = static_cast<std::int64_t>(c.hidden_size), I = static_cast<std::int64_t>(c.intermediate_size);
  auto Q = static_cast<std::int64_t>(c.q_dim()), KV = static_cast<std::int64_t>(c.kv_dim());
  p.push_back({"model.embed_tokens.weight", {c.vocab_size, H}, Init::kEmbedding});
  for (int l = 0; l < c.num_layers; ++l) {
    std::string pre = "model.layers." + std::to_string(l) + ".";
    p.push_back({pre + "input_layernorm.weight", {H}, Init::kNorm});
    p.push_back({pre + "self_attn.q_proj.weight", {Q, H}, Init::kMatrix, static_cast<float>(H)});
    p.push_back({pre + "self_attn.k_proj.weight", {KV, H}, Init::kMatrix, static_cast<float>(H)});
    p.push_back({pre + "self_attn.v_proj.weight", {KV, H}, Init::kMatrix, static_cast<float>(H)});
    if (c.attention_bias) {
      p.push_back({pre + "self_attn.q_proj.bias", {Q}, Init::kBias});
      p.push_back({pre + "self_attn.k_proj.bias", {KV}, Init::kBias});
      p.push_back({pre + "self_attn.v_proj.bias", {KV}, Init::kBias});
    }
    p.push_back({pre + "self_attn.o_proj.weight", {H, Q}, Init::kMatrix, static_cast<float>(Q)});
    p.push_back({pre + "post_attention_layernorm.weight", {H}, Init::kNorm});
    p.push_back({pre + "mlp.gate_proj.weight", {I, H}, Init::kMatrix, static_cast<float>(H)});
    p.push_back({pre + "mlp.up_proj.weight", {I, H}, Init::kMatrix, static_cast<float>(H)});
    p.push_back({pre + "mlp.down_proj.weight", {H, I}, Init::kMatrix, static_cast<float>(I)});
  }
  p.push_back({"model.norm.weight", {H}, Init::kNorm});
  if (!c.tie_word_embeddings) {
    p.push_back({"lm_head.weight", {c.vocab_size, H}, Init::kMatrix, static_cast<float>(H)});
  }
  return p;
}

void fill_values(const ParamSpec& p, std::uint64_t seed, float* out, std::int64_t n) {
  SplitMix rng{stream_seed(seed, p.hf_name)};
  // Uniform(-a, a) has standard deviation a / sqrt(3).
  const float sqrt3 = std::sqrt(3.0f);
  for (std::int64_t i = 0; i < n; ++i) {
    float u = rng.next();
    switch (p.init) {
      case Init::kMatrix: out[i] = u * sqrt3 / std::sqrt(p.fan_in); break;
      case Init::kEmbedding: out[i] = u * sqrt3; break;
      case Init::kNorm: out[i] = 1.0f + 0.2f * u; break;
      case Init::kBias: out[i] = 0.1f * u; break;
    }
  }
}

std::int64_t elements(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// llama.cpp's converter reorders the rows of each Q/K head so that RoPE pairs are
// (2i, 2i+1): Hugging Face row (s * d/2 + i) of a head becomes row (2i + s).
std::int64_t gguf_row_of(std::int64_t hf_row, int head_dim) {
  std::int64_t head = hf_row / head_dim, r = hf_row % head_dim, half = head_dim / 2;
  return head * head_dim + 2 * (r % half) + r / half;
}

std::string gguf_name(const std::string& hf) {
  static const std::vector<std::pair<std::string, std::string>> suffixes = {
      {"input_layernorm.weight", "attn_norm.weight"},   {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},     {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},         {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},         {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},          {"mlp.down_proj.weight", "ffn_down.weight"}};
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string prefix = "model.layers.";
  std::size_t dot = hf.find('.', prefix.size());
  std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  std::string rest = hf.substr(dot + 1);
  for (const auto& [from, to] : suffixes) {
    if (rest == from) return "blk." + layer + "." + to;
  }
  fail("no GGUF name for tensor '{}'", hf);
}

TensorData tensor_for(const ParamSpec& p, const RandomModelOptions& o, bool gguf) {
  // Vectors are kept in F32 in GGUF (as llama.cpp does), and in the model dtype in safetensors.
  DType dtype = o.dtype;
  if (p.shape.size() == 1 && (gguf || is_block_quantized(dtype))) dtype = DType::F32;
  bool permute = gguf && o.config.model_type != "qwen2" &&
                 (p.hf_name.ends_with("q_proj.weight") || p.hf_name.ends_with("k_proj.weight"));
  TensorData t;
  t.name = gguf ? gguf_name(p.hf_name) : p.hf_name;
  t.dtype = dtype;
  t.shape = p.shape;
  std::uint64_t seed = o.seed;
  int head_dim = o.config.head_dim;
  t.fill = [p, seed, dtype, permute, head_dim](std::span<std::byte> out) {
    std::int64_t n = elements(p.shape);
    std::vector<float> values(static_cast<std::size_t>(n));
    fill_values(p, seed, values.data(), n);
    if (permute) {
      std::int64_t cols = p.shape[1];
      std::vector<float> permuted(values.size());
      for (std::int64_t r = 0; r < p.shape[0]; ++r) {
        std::copy_n(values.begin() + r * cols, cols, permuted.begin() + gguf_row_of(r, head_dim) * cols);
      }
      values.swap(permuted);
    }
    convert_from_f32(dtype, values.data(), n, out.data());
  };
  return t;
}

// llama.cpp carries llama3 rope scaling as per-pair divisors of the base frequency.
TensorData rope_freqs_tensor(const LlamaConfig& c) {
  LlamaConfig unscaled = c;
  unscaled.rope_scaling = {};
  Rope base(unscaled), scaled(c);
  std::vector<float> factors;
  for (std::size_t i = 0; i < base.inv_freq().size(); ++i) {
    factors.push_back(static_cast<float>(base.inv_freq()[i] / scaled.inv_freq()[i]));
  }
  std::int64_t n = static_cast<std::int64_t>(factors.size());
  return tensor_from_f32("rope_freqs.weight", DType::F32, {n}, std::move(factors));
}

void write_json(const std::filesystem::path& path, const json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) fail("{}: cannot write", path.string());
}

}  // namespace

std::vector<std::string> random_model_preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, c] : presets()) names.push_back(name);
  return names;
}

LlamaConfig random_model_preset(const std::string& name) {
  auto all = presets();
  auto it = all.find(name);
  if (it == all.end()) {
    std::string known;
    for (const auto& [n, c] : all) known += (known.empty() ? "" : ", ") + n;
    fail("unknown model preset '{}' (known: {})", name, known);
  }
  return it->second;
}

std::vector<float> random_tensor_values(const LlamaConfig& config, std::uint64_t seed, const std::string& hf_name,
                                        std::int64_t n) {
  for (const ParamSpec& p : parameters(config)) {
    if (p.hf_name == hf_name) {
      std::vector<float> v(static_cast<std::size_t>(n));
      fill_values(p, seed, v.data(), n);
      return v;
    }
  }
  fail("random model: no tensor '{}'", hf_name);
}

void write_random_model(const RandomModelOptions& o, const std::filesystem::path& out) {
  LlamaConfig c = o.config;
  c.validate("model config");
  bool gguf = o.format == WeightFormat::kGguf;
  if (is_block_quantized(o.dtype)) {
    const std::string name(dtype_name(o.dtype));
    if (!gguf) fail("--dtype {} needs --format gguf (safetensors has no block types)", name);
    const int block = dtype_block_elements(o.dtype);
    if (c.hidden_size % block != 0 || c.intermediate_size % block != 0 || c.q_dim() % block != 0) {
      fail("{} needs hidden, intermediate and attention sizes that are multiples of {}", name, block);
    }
  }
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && !std::filesystem::is_empty(out, ec)) {
    fail("{}: exists and is not empty; choose a new directory", out.string());
  }
  std::filesystem::create_directories(out, ec);
  if (ec) fail("{}: cannot create directory: {}", out.string(), ec.message());

  // The tokenizer first: the model's special token ids come from it.
  const std::vector<std::string> specials = {"<|begin_of_text|>", "<|end_of_text|>"};
  int tokenizer_vocab = std::min(c.vocab_size, 4096);
  json tokenizer = train_byte_level_bpe(builtin_training_corpus(), tokenizer_vocab, specials);
  int bos = -1, eos = -1;
  for (const json& t : tokenizer["added_tokens"]) {
    if (t["content"] == specials[0]) bos = t["id"].get<int>();
    if (t["content"] == specials[1]) eos = t["id"].get<int>();
  }
  c.bos_token_id = bos;
  c.eos_token_ids = {eos};
  c.torch_dtype = o.dtype == DType::F32 ? "float32" : o.dtype == DType::F16 ? "float16" : "bfloat16";
  write_json(out / "tokenizer.json", tokenizer);

  std::vector<TensorData> tensors;
  for (const ParamSpec& p : parameters(c)) tensors.push_back(tensor_for(p, o, gguf));
  if (gguf && c.rope_scaling.kind == RopeScaling::Kind::kLlama3) tensors.push_back(rope_freqs_tensor(c));
  if (gguf) {
    write_gguf(out / "model.gguf", gguf_metadata_for(c, tokenizer, o.dtype), tensors);
  } else {
    write_json(out / "config.json", to_hf_json(c));
    if (o.max_shard_bytes > 0) {
      write_sharded_safetensors(out, tensors, o.max_shard_bytes);
    } else {
      write_safetensors(out / "model.safetensors", tensors, {{"format", "pt"}});
    }
  }
}

}  // namespace helix
