// `helix model init`: writes a random-weight model (config.json + safetensors, or
// GGUF, plus a tokenizer) so the real loading path can be tried without a download.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "helix/core/error.h"
#include "helix/core/units.h"
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
  if (!dtype) fail("--dtype '{}': expected f32, f16, bf16 or q8_0", o.dtype);
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
  init->add_option("--dtype", options->dtype, "f32, f16, bf16, or q8_0 (GGUF only)")->capture_default_str();
  init->add_option("--format", options->format, "safetensors or gguf")->capture_default_str();
  init->add_option("--max-shard-size", options->max_shard, "Shard safetensors, e.g. '100 MB'");
  init->add_option("--out", options->out, "Output directory (new or empty)")->required();
  init->callback([options] { run_init(*options); });
}

}  // namespace helix::cli
