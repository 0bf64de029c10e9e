// `helix profile`: measures per-layer prompt and decode times of a model on this
// machine and writes them as a GPU profile (the paper's CSV tables).
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "helix/engine/layer_profiler.h"
#include "helix/kernels/cpu_features.h"
#include "stage_device.h"

namespace helix::cli {
namespace {

struct ProfileCliOptions {
  std::string model;
  std::string out;
  std::string machine = "CPU";
  int threads = 2;
  std::string device = "cpu";
  std::string kv_dtype = "f32";
  ProfileOptions profile;
};

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
  if (!out) fail("{}: cannot write", p.string());
}

void run_profile(const ProfileCliOptions& o) {
  const StageDevice device = parse_stage_device(o.device);
  const KvDtype kv_dtype = parse_kv_dtype(o.kv_dtype, "--kv-dtype");
  ModelFiles files = open_model(o.model);
  int layers = files.config.num_layers;
  EngineOptions eo;
  eo.threads = o.threads;
  eo.kv.capacity_tokens = profile_kv_tokens(o.profile, eo.kv.block_tokens);
  eo.kv.dtype = kv_dtype;
  std::string dtype;
  if (!files.store->names().empty()) {
    dtype = std::string(dtype_name(files.store->at(files.layer_tensor(0, LayerTensor::kQ)).dtype));
  }
  std::unique_ptr<Stage> stage = make_stage(std::move(files), {0, layers}, eo, device);
  LayerProfile p = profile_layers(*stage, o.profile);
  std::filesystem::path dir = std::filesystem::path(o.out) / o.machine;
  std::filesystem::create_directories(dir);
  write_text(dir / "prompt_bs2time.csv", to_profile_csv(p.prompt));
  write_text(dir / "decode_bs2time.csv", to_profile_csv(p.decode));
  const LlamaConfig& c = stage->config();
  // The layer's shape, which the planner checks against the model it plans (measured_layer_times.h).
  const nlohmann::json layer = {{"hidden_size", c.hidden_size}, {"intermediate_size", c.intermediate_size},
                                {"num_heads", c.num_heads}, {"num_kv_heads", c.num_kv_heads}, {"head_dim", c.head_dim}};
  nlohmann::json meta = {{"format", "helix-layer-profile"}, {"version", 2}, {"model", o.model}, {"layer", layer},
                         {"machine", o.machine}, {"device", device.name()}, {"threads", o.threads},
                         {"kernels", device.cuda ? std::string("cuda") : std::string(kernel_isa())},
                         {"weight_dtype", dtype}, {"kv_dtype", kv_dtype_name(kv_dtype)},
                         {"decode_context", o.profile.decode_context},
                         {"repeats", o.profile.repeats}};
  write_text(dir / "profile.json", meta.dump(2) + "\n");
  fmt::print("{:>14} {:>12}\n", "prompt tokens", "ms/layer");
  for (const auto& pt : p.prompt) fmt::print("{:>14} {:>12.3f}\n", pt.batch, pt.ms_per_layer);
  fmt::print("{:>14} {:>12}\n", "decode batch", "ms/layer");
  for (const auto& pt : p.decode) fmt::print("{:>14} {:>12.3f}\n", pt.batch, pt.ms_per_layer);
  fmt::print("wrote {}/{{prompt,decode}}_bs2time.csv\n", dir.string());
}

}  // namespace

void register_profile(CLI::App& app) {
  auto o = std::make_shared<ProfileCliOptions>();
  CLI::App* cmd = app.add_subcommand("profile", "Measure per-layer prompt/decode times and write a GPU profile");
  cmd->add_option("--model", o->model, "Model directory or .gguf file")->required();
  cmd->add_option("--out", o->out, "Output directory; tables go to OUT/MACHINE/")->required();
  cmd->add_option("--machine", o->machine, "Machine type name for the profile")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Compute threads (the CPU engine's)")->capture_default_str();
  cmd->add_option("--device", o->device, "Where the layers are timed: cpu, or cuda:N where the build has CUDA")
      ->capture_default_str();
  cmd->add_option("--kv-dtype", o->kv_dtype, "What the KV cache stores while timing: f32 or f16")->capture_default_str();
  cmd->add_option("--prompt-tokens", o->profile.prompt_tokens, "Prompt batch sizes (tokens)")->delimiter(',');
  cmd->add_option("--decode-batches", o->profile.decode_batches, "Decode batch sizes (sequences)")->delimiter(',');
  cmd->add_option("--decode-context", o->profile.decode_context, "Cached tokens per decode sequence")->capture_default_str();
  cmd->add_option("--repeats", o->profile.repeats, "Timed runs per point (median)")->capture_default_str();
  cmd->callback([o] { run_profile(*o); });
}

}  // namespace helix::cli
