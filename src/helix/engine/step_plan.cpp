#include "helix/engine/step_plan.h"

#include <algorithm>
#include <unordered_set>

namespace helix {
namespace {

std::size_t sz(std::int64_t n) { return static_cast<std::size_t>(n); }

}  // namespace

int step_tokens(const StepInput& in) {
  std::int64_t total = 0;
  for (const SequenceChunk& ch : in.chunks) total += std::max(0, ch.length);
  if (total > (std::int64_t{1} << 30)) fail("engine step: {} tokens in one batch is beyond any context", total);
  return static_cast<int>(total);
}

void validate_step(const StepInput& in, int tokens, const LlamaConfig& c, const KvBlockLedger& kv, int stage_layers,
                   bool embeds) {
  if (in.chunks.empty()) fail("engine step: the batch has no chunks");
  std::unordered_set<SequenceId> seen;
  for (const SequenceChunk& ch : in.chunks) {
    if (!seen.insert(ch.sequence).second) {
      fail("engine step: sequence {} appears twice in one batch", ch.sequence);
    }
    if (ch.length <= 0) fail("engine step: sequence {} has a chunk of {} tokens", ch.sequence, ch.length);
    int cached = kv.length(ch.sequence);
    if (!kv.contains(ch.sequence) && ch.position != 0) {
      fail("engine step: sequence {} is not in this stage's KV cache, so it must start at position 0, not {}",
           ch.sequence, ch.position);
    }
    if (ch.position != cached) {
      fail("engine step: sequence {} continues at position {} but {} tokens are cached", ch.sequence,
           ch.position, cached);
    }
    if (static_cast<std::int64_t>(ch.position) + ch.length > c.max_position_embeddings) {
      fail("engine step: sequence {} would reach {} tokens, beyond the model's context of {}", ch.sequence,
           static_cast<std::int64_t>(ch.position) + ch.length, c.max_position_embeddings);
    }
  }
  if (in.skip_layers < 0 || in.skip_layers >= stage_layers) {
    fail("engine step: cannot skip {} of the stage's {} layers", in.skip_layers, stage_layers);
  }
  if (embeds) {
    if (static_cast<int>(in.tokens.size()) != tokens) {
      fail("engine step: {} token ids for chunks totalling {} tokens", in.tokens.size(), tokens);
    }
    for (std::int32_t id : in.tokens) {
      if (id < 0 || id >= c.vocab_size) fail("engine step: token id {} is outside the vocabulary of {}", id, c.vocab_size);
    }
  } else if (in.hidden.size() != sz(tokens) * sz(c.hidden_size)) {
    fail("engine step: {} hidden values for {} tokens of hidden size {}", in.hidden.size(), tokens,
         c.hidden_size);
  }
}

void StepPositions::prepare(const StepInput& in, int tokens, const Rope& rope) {
  const int pairs = rope.head_dim() / 2;
  positions.resize(sz(tokens));
  sequences.resize(sz(tokens));
  if (cos.size() < sz(tokens) * sz(pairs)) {
    cos.resize(sz(tokens) * sz(pairs));
    sin.resize(sz(tokens) * sz(pairs));
  }
  int t = 0;
  for (const SequenceChunk& ch : in.chunks) {
    for (int i = 0; i < ch.length; ++i, ++t) {
      positions[sz(t)] = ch.position + i;
      sequences[sz(t)] = ch.sequence;
      rope.angles(ch.position + i, cos.data() + t * pairs, sin.data() + t * pairs);
    }
  }
}

}  // namespace helix
