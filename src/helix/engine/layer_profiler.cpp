#include "helix/engine/layer_profiler.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

namespace helix {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Times one step; the sequences are released afterwards.
double timed_step(Stage& e, const StepInput& in) {
  auto start = std::chrono::steady_clock::now();
  e.step(in);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const SequenceChunk& c : in.chunks) e.release(c.sequence);
  return s;
}

std::vector<std::int32_t> tokens_for(int n, int vocab) {
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 7919LL + 13) % vocab);
  return t;
}

double prompt_seconds(Stage& e, int n, SequenceId& next) {
  auto tokens = tokens_for(n, e.config().vocab_size);
  StepInput in;
  in.chunks = {{next++, 0, n, false}};
  in.tokens = tokens;
  return timed_step(e, in);
}

double decode_seconds(Stage& e, int batch, int context, SequenceId& next) {
  auto prefix = tokens_for(context, e.config().vocab_size);
  std::vector<SequenceId> ids;
  for (int b = 0; b < batch; ++b) {
    StepInput pre;
    pre.chunks = {{next, 0, context, false}};
    pre.tokens = prefix;
    e.step(pre);
    ids.push_back(next++);
  }
  auto one = tokens_for(batch, e.config().vocab_size);
  StepInput in;
  for (SequenceId id : ids) in.chunks.push_back({id, context, 1, false});
  in.tokens = one;
  return timed_step(e, in);
}

}  // namespace

std::int64_t profile_kv_tokens(const ProfileOptions& o, int block_tokens) {
  std::int64_t need = 0;
  for (int n : o.prompt_tokens) need = std::max<std::int64_t>(need, (n + block_tokens - 1) / block_tokens * block_tokens);
  std::int64_t per_sequence = (static_cast<std::int64_t>(o.decode_context) + block_tokens) / block_tokens * block_tokens;
  for (int b : o.decode_batches) need = std::max<std::int64_t>(need, b * per_sequence);
  return need;
}

LayerProfile profile_layers(Stage& e, const ProfileOptions& o) {
  if (!e.is_first()) fail("profile: the stage must start at layer 0 (it is fed token ids)");
  if (o.repeats < 1) fail("profile: repeats must be at least 1");
  std::int64_t need = profile_kv_tokens(o, e.kv_ledger().block_tokens());
  if (e.kv_ledger().capacity_tokens() < need) {
    fail("profile: the KV cache holds {} tokens, the profile needs about {}", e.kv_ledger().capacity_tokens(), need);
  }
  const double layers = e.layers().size();
  SequenceId next = 1;
  LayerProfile p;
  for (int n : o.prompt_tokens) {
    prompt_seconds(e, n, next);  // warm-up
    std::vector<double> runs;
    for (int r = 0; r < o.repeats; ++r) runs.push_back(prompt_seconds(e, n, next));
    p.prompt.push_back({n, median(runs) * 1000 / layers});
  }
  for (int b : o.decode_batches) {
    decode_seconds(e, b, o.decode_context, next);
    std::vector<double> runs;
    for (int r = 0; r < o.repeats; ++r) runs.push_back(decode_seconds(e, b, o.decode_context, next));
    p.decode.push_back({b, median(runs) * 1000 / layers});
  }
  return p;
}

std::string to_profile_csv(const std::vector<ProfilePoint>& points) {
  std::string s = "batch_tokens,time_ms_per_layer\n0,0.0\n";
  for (const ProfilePoint& p : points) s += fmt::format("{},{:.4f}\n", p.batch, p.ms_per_layer);
  return s;
}

}  // namespace helix
