#include "helix/engine/generator.h"

#include <algorithm>
#include <chrono>

namespace helix {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Releases the sequence's KV blocks however generation ends.
struct SequenceGuard {
  Stage& engine;
  SequenceId id;
  ~SequenceGuard() { engine.release(id); }
};

}  // namespace

Generator::Generator(Stage& engine, int allowed_vocab, int prefill_chunk)
    : engine_(engine), allowed_vocab_(allowed_vocab), prefill_chunk_(std::max(1, prefill_chunk)) {
  if (!engine.is_first() || !engine.is_last()) fail("generator: the stage must hold the whole model");
}

GenerationResult Generator::generate(std::span<const int> prompt, const SamplingParams& params,
                                     const std::function<bool(int)>& on_token) {
  Sampler sampler(params);
  const int context = engine_.config().max_position_embeddings;
  if (prompt.empty()) fail("generate: the prompt has no tokens");
  if (static_cast<int>(prompt.size()) >= context) {
    fail("generate: the prompt has {} tokens, the model's context is {}", prompt.size(), context);
  }
  GenerationResult result;
  result.prompt_tokens = static_cast<int>(prompt.size());
  SequenceGuard guard{engine_, next_id_++};
  auto start = std::chrono::steady_clock::now();
  std::vector<float> logits;
  int pos = 0;
  while (pos < static_cast<int>(prompt.size())) {
    int n = std::min(prefill_chunk_, static_cast<int>(prompt.size()) - pos);
    bool last_chunk = pos + n == static_cast<int>(prompt.size());
    StepInput in;
    in.chunks = {{guard.id, pos, n, last_chunk}};
    in.tokens = prompt.subspan(static_cast<std::size_t>(pos), static_cast<std::size_t>(n));
    StepOutput out = engine_.step(in);
    if (last_chunk) logits = std::move(out.logits);
    pos += n;
  }
  result.prefill_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  result.finish_reason = "length";
  while (static_cast<int>(result.tokens.size()) < params.max_tokens) {
    int token = sampler.sample(logits, allowed_vocab_);
    if (sampler.is_stop(token)) {
      result.finish_reason = "stop";
      break;
    }
    result.tokens.push_back(token);
    if (on_token && !on_token(token)) {
      result.finish_reason = "cancelled";
      break;
    }
    if (static_cast<int>(result.tokens.size()) >= params.max_tokens || pos >= context) break;
    std::int32_t id = token;
    StepInput in;
    in.chunks = {{guard.id, pos, 1, true}};
    in.tokens = std::span<const std::int32_t>(&id, 1);
    logits = engine_.step(in).logits;
    ++pos;
  }
  result.decode_s = seconds_since(start);
  return result;
}

}  // namespace helix
