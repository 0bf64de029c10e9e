// `helix generate`: one prompt through the whole model in this process, streamed to
// stdout as it is decoded; timings on stderr (or everything as JSON).
#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "helix/engine/generator.h"
#include "helix/engine/model_tokenizer.h"
#include "helix/tokenize/load_tokenizer.h"
#include "helix/tokenize/stream_decoder.h"
#include "kv_options.h"
#include "stage_device.h"

namespace helix::cli {
namespace {

struct GenerateOptions {
  std::string model;
  std::string prompt;
  int max_tokens = 64;
  double temperature = 0;
  int top_k = 0;
  double top_p = 1;
  std::uint64_t seed = 0;
  int threads = 2;
  std::string device = "cpu";
  KvCli kv;
  bool no_bos = false;
  bool json = false;
};

void run_generate(const GenerateOptions& o) {
  const StageDevice device = parse_stage_device(o.device);
  const KvCacheOptions kv = parse_kv_options(o.kv);
  ModelFiles files = open_model(o.model);
  auto tokenizer = load_model_tokenizer(o.model);
  std::vector<int> prompt = o.no_bos ? tokenizer->encode(o.prompt) : tokenizer->encode_with_bos(o.prompt);
  int context = files.config.max_position_embeddings;
  EngineOptions eo;
  eo.threads = o.threads;
  eo.kv = kv;
  // By default whole 16-token blocks for what the request needs, so it may run to the model's context.
  long long wanted = std::min<long long>(context, static_cast<long long>(prompt.size()) + o.max_tokens + 1);
  if (kv.capacity_tokens == 0 && kv.capacity_bytes == 0 && kv.memory_share == 0) {
    eo.kv.capacity_tokens = (wanted + 15) / 16 * 16;
  }
  eo.largest_step_tokens = std::min(static_cast<int>(prompt.size()), Generator::kDefaultPrefillChunk);
  int layers = files.config.num_layers;
  std::unique_ptr<Stage> stage = make_stage(std::move(files), LayerRange{0, layers}, eo, device);
  Stage& engine = *stage;
  SamplingParams sp;
  sp.max_tokens = o.max_tokens;
  sp.temperature = o.temperature;
  sp.top_k = o.top_k;
  sp.top_p = o.top_p;
  sp.seed = o.seed;
  sp.stop_tokens = tokenizer->stop_ids();
  for (int id : engine.config().eos_token_ids) sp.stop_tokens.push_back(id);
  Generator generator(engine, tokenizer->vocab_size());
  StreamDecoder decoder(*tokenizer);
  std::string text;
  GenerationResult r = generator.generate(prompt, sp, [&](int token) {
    std::string piece = decoder.push(token);
    text += piece;
    if (!o.json) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  std::string tail = decoder.finish();
  text += tail;
  double decode_tps = r.decode_s > 0 ? static_cast<double>(r.tokens.size()) / r.decode_s : 0;
  double prefill_tps = r.prefill_s > 0 ? r.prompt_tokens / r.prefill_s : 0;
  if (o.json) {
    nlohmann::json j = {{"format", "helix-generation"}, {"version", 1}, {"text", text}, {"tokens", r.tokens},
                        {"prompt_tokens", r.prompt_tokens}, {"finish_reason", r.finish_reason},
                        {"prefill_s", r.prefill_s}, {"decode_s", r.decode_s},
                        {"prefill_tokens_per_s", prefill_tps}, {"decode_tokens_per_s", decode_tps},
                        {"kv_capacity_tokens", engine.kv_ledger().capacity_tokens()},
                        {"kv_dtype", kv_dtype_name(kv.dtype)}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::fwrite(tail.data(), 1, tail.size(), stdout);
  std::fputc('\n', stdout);
  std::fprintf(stderr, "%d prompt tokens in %.3f s (%.1f tok/s), %zu generated in %.3f s (%.1f tok/s), finish: %s\n",
               r.prompt_tokens, r.prefill_s, prefill_tps, r.tokens.size(), r.decode_s, decode_tps,
               r.finish_reason.c_str());
}

}  // namespace

void register_generate(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt in this process");
  cmd->add_option("--model", o->model, "Model directory (config.json + safetensors) or .gguf file")->required();
  cmd->add_option("--prompt", o->prompt, "Prompt text")->required();
  cmd->add_option("--max-tokens", o->max_tokens, "Tokens to generate at most")->capture_default_str();
  cmd->add_option("--temperature", o->temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", o->top_k, "0 = off")->capture_default_str();
  cmd->add_option("--top-p", o->top_p, "1 = off")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Compute threads (the CPU engine's)")->capture_default_str();
  cmd->add_option("--device", o->device, "Where the model runs: cpu, or cuda:N where the build has CUDA")
      ->capture_default_str();
  add_kv_options(cmd, o->kv, "what the request needs");
  cmd->add_flag("--no-bos", o->no_bos, "Do not prepend the BOS token");
  cmd->add_flag("--json", o->json, "Print one JSON object (text, tokens, timings) instead of streaming");
  cmd->callback([o] { run_generate(*o); });
}

}  // namespace helix::cli
