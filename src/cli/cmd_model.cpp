// `helix model init`: writes a random-weight model (config.json + safetensors, or
// GGUF, plus a tokenizer) so the real loading path can be tried without a download.
// `helix model quantize`: rewrites a GGUF in another type (engine/quantize_model.h).
#include <map>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "helix/core/error.h"
#include "helix/core/units.h"
#include "helix/engine/quantize_model.h"
#include "helix/engine/random_model.h"

namespace helix::cli {
namespace {

struct InitOptions {
  std::string preset = "tiny";
  std::string config;
  std::uint64_t seed = 0;
  std::string dtype = "bf16";
  std::string format = "safetensors";
  std::string max_shard;
  int layers = 0;
  std::string out;
};

void run_init(const InitOptions& o) {
  RandomModelOptions r;
  r.config = o.config.empty() ? random_model_preset(o.preset) : llama_config_from_hf_file(o.config);
  if (o.layers > 0) r.config.num_layers = o.layers;
  r.seed = o.seed;
  auto dtype = parse_dtype(o.dtype);
  if (!dtype) fail("--dtype '{}': expected f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k or q6_k", o.dtype);
  r.dtype = *dtype;
  if (o.format == "safetensors") {
    r.format = WeightFormat::kSafetensors;
  } else if (o.format == "gguf") {
    r.format = WeightFormat::kGguf;
  } else {
    fail("--format '{}': expected safetensors or gguf", o.format);
  }
  if (!o.max_shard.empty()) {
    if (r.format != WeightFormat::kSafetensors) fail("--max-shard-size applies to safetensors only");
    r.max_shard_bytes = static_cast<std::size_t>(parse_size_bytes(o.max_shard));
    if (r.max_shard_bytes == 0) fail("--max-shard-size must be positive");
  }
  write_random_model(r, o.out);
  const LlamaConfig& c = r.config;
  fmt::print("wrote {} ({} {}, {} layers, hidden {}, {} heads / {} KV heads, vocab {}, {}, seed {})\n", o.out,
             o.config.empty() ? o.preset : o.config, c.model_type, c.num_layers, c.hidden_size, c.num_heads,
             c.num_kv_heads, c.vocab_size, dtype_name(r.dtype), r.seed);
}

struct QuantizeOptions {
  std::string in, out, type;
  bool json = false;
};

void run_quantize(const QuantizeOptions& o) {
  const QuantizeReport report = quantize_gguf(o.in, o.out, o.type);
  std::map<std::string, int> counts;  // "FROM -> TO": tensors
  for (const auto& t : report.tensors) counts[fmt::format("{} -> {}", dtype_name(t.from), dtype_name(t.to))]++;
  if (o.json) {
    nlohmann::json j = {{"format", "helix-quantize"}, {"version", 1}, {"out", o.out}, {"type", o.type},
                        {"bytes_before", report.bytes_before}, {"bytes_after", report.bytes_after},
                        {"tensors", nlohmann::json::array()}};
    for (const auto& t : report.tensors) {
      j["tensors"].push_back({{"name", t.name}, {"from", dtype_name(t.from)}, {"to", dtype_name(t.to)}});
    }
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("wrote {} ({}): {:.1f} MB -> {:.1f} MB\n", o.out, o.type, static_cast<double>(report.bytes_before) / 1e6,
             static_cast<double>(report.bytes_after) / 1e6);
  for (const auto& [change, n] : counts) fmt::print("  {:>4} tensors {}\n", n, change);
}

}  // namespace

void register_model(CLI::App& app) {
  CLI::App* model = app.add_subcommand("model", "Create model files");
  model->require_subcommand(1);
  auto options = std::make_shared<InitOptions>();
  CLI::App* init = model->add_subcommand("init", "Write a random-weight model (for tests, benchmarks, demos)");
  std::string presets;
  for (const auto& n : random_model_preset_names()) presets += (presets.empty() ? "" : ", ") + n;
  init->add_option("--preset", options->preset, "Architecture preset: " + presets)->capture_default_str();
  init->add_option("--config", options->config, "A Hugging Face config.json to use instead of a preset");
  init->add_option("--layers", options->layers, "Override the number of layers");
  init->add_option("--seed", options->seed, "Seed of the random weights")->capture_default_str();
  init->add_option("--dtype", options->dtype, "f32, f16, bf16, or (GGUF only) q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k")
      ->capture_default_str();
  init->add_option("--format", options->format, "safetensors or gguf")->capture_default_str();
  init->add_option("--max-shard-size", options->max_shard, "Shard safetensors, e.g. '100 MB'");
  init->add_option("--out", options->out, "Output directory (new or empty)")->required();
  init->callback([options] { run_init(*options); });

  auto quantize = std::make_shared<QuantizeOptions>();
  CLI::App* q = model->add_subcommand("quantize", "Rewrite a GGUF model with its weight matrices in another type");
  q->add_option("in", quantize->in, "The GGUF model to read")->required();
  q->add_option("out", quantize->out, "The GGUF file to write")->required();
  std::string preset_names;
  for (const auto& n : quantize_preset_names()) preset_names += (preset_names.empty() ? "" : ", ") + n;
  q->add_option("--type", quantize->type, "Target: " + preset_names)->required();
  q->add_flag("--json", quantize->json, "Print the report as JSON");
  q->callback([quantize] { run_quantize(*quantize); });
}

}  // namespace helix::cli
