// StageExecutor: what a worker runs a batch on. Two kinds:
//  * EngineExecutor: the real transformer layers (an engine/Stage: the CPU's or a GPU's) plus one
//    seeded sampler per request whose route ends here;
//  * EmulatedExecutor: sleeps for the time the node's GPU profile gives for the
//    batch (the same per-layer tables the simulator uses) and produces
//    activations of the model's real size, so a paper-scale cluster can run as
//    real processes on one machine.
// The worker (worker.h) forms the batches; executors only execute them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "helix/engine/sampler.h"
#include "helix/engine/stage_engine.h"
#include "helix/perf/layer_time_table.h"
#include "helix/runtime/wire.h"

namespace helix::runtime {

// One chunk of a batch: which request, where, and its input (token ids or
// hidden rows, pointing into the received payload frame — not copied).
struct BatchChunk {
  std::uint64_t request = 0;
  int position = 0;
  int length = 0;
  bool want_token = false;   // sample after the chunk (route ends here)
  bool decode = false;       // one generated token (else part of a prompt): the emulated time differs
  const Sampling* sampling = nullptr;
  std::span<const std::int32_t> tokens;
  std::span<const float> hidden;
};

struct BatchResult {
  // Hidden rows of all chunks back to back (not the last stage of the batch).
  std::shared_ptr<const std::vector<float>> hidden;
  int hidden_size = 0;
  // Per chunk: the sampled token, or -1 when the chunk did not want one, and the
  // request's sampler state after drawing it (Token.sampler_state).
  std::vector<int> tokens;
  std::vector<std::uint64_t> sampler_states;
};

class StageExecutor {
 public:
  virtual ~StageExecutor() = default;
  // Runs the chunks, all skipping the first `skip_layers` layers of the stage and
  // ending at `end_layer` (the stage's end, or the model's for the last stage).
  virtual BatchResult run(std::span<const BatchChunk> chunks, int skip_layers, bool last_stage) = 0;
  // KV blocks the chunk still needs and those free; the worker admits by these.
  virtual std::int64_t blocks_needed(std::uint64_t request, int new_length) const = 0;
  virtual std::int64_t free_blocks() const = 0;
  // Tokens of the request already in this stage's KV (0 for a new one).
  virtual int cached_length(std::uint64_t request) const = 0;
  // Requests with KV on this stage.
  virtual std::size_t active_sequences() const = 0;
  virtual std::int64_t total_blocks() const = 0;
  virtual std::int64_t kv_capacity_tokens() const = 0;
  virtual std::int64_t kv_used_tokens() const = 0;
  virtual void release(std::uint64_t request) = 0;
  // Frees every request's KV and sampler (the coordinator that sent them is gone).
  virtual void release_all() = 0;
  virtual int hidden_size() const = 0;
  virtual int vocab_size() const = 0;
};

// The real layers of `stage` (the CPU's StageEngine, or a GPU's).
std::unique_ptr<StageExecutor> make_engine_executor(std::unique_ptr<Stage> stage);

// `slowdown` multiplies the profile's times. `kv_tokens` > 0 gives the emulated
// stage a paged KV cache of that many tokens (16-token blocks, as the engine's),
// so that admission and preemption happen as on a real worker; 0: unlimited.
std::unique_ptr<StageExecutor> make_emulated_executor(const Emulation& emulation, LayerRange layers, double slowdown,
                                                      std::int64_t kv_tokens = 0);

}  // namespace helix::runtime
