#include "helix/sim/sim_config.h"

#include <cmath>

#include "helix/core/error.h"

namespace helix::sim {

SchedulerKind parse_scheduler(const std::string& name) {
  if (name == "helix" || name == "maxflow") return SchedulerKind::Helix;
  if (name == "swarm") return SchedulerKind::Swarm;
  if (name == "random" || name == "naive") return SchedulerKind::Random;
  if (name == "shortest-queue") return SchedulerKind::ShortestQueue;
  fail("unknown scheduler '{}' (expected helix, swarm, random or shortest-queue)", name);
}

std::string to_string(SchedulerKind kind) {
  switch (kind) {
    case SchedulerKind::Helix: return "helix";
    case SchedulerKind::Swarm: return "swarm";
    case SchedulerKind::Random: return "random";
    case SchedulerKind::ShortestQueue: return "shortest-queue";
  }
  return "?";
}

Mode parse_mode(const std::string& name) {
  if (name == "offline") return Mode::Offline;
  if (name == "online") return Mode::Online;
  fail("unknown mode '{}' (expected offline or online)", name);
}

std::string to_string(Mode mode) { return mode == Mode::Offline ? "offline" : "online"; }

Runtime parse_runtime(const std::string& name) {
  if (name == "paper") return Runtime::Paper;
  if (name == "helix") return Runtime::Helix;
  fail("unknown runtime '{}' (expected paper or helix)", name);
}

std::string to_string(Runtime runtime) { return runtime == Runtime::Paper ? "paper" : "helix"; }

sched::KvParameters SimConfig::effective_kv() const {
  if (kv) return *kv;
  return mode == Mode::Offline ? sched::KvParameters{0.85, 1.0} : sched::KvParameters{0.9, 0.6};
}

double SimConfig::effective_warm_up_s() const {
  return warm_up_s.value_or(mode == Mode::Offline ? 60.0 : 0.0);
}

double SimConfig::effective_duration_s() const {
  return duration_s.value_or(mode == Mode::Offline ? 600.0 : 1800.0);
}

void SimConfig::validate() const {
  auto positive = [](double v) { return std::isfinite(v) && v > 0; };
  if (!positive(effective_duration_s())) fail("duration: must be > 0 seconds, got {}", effective_duration_s());
  if (!(std::isfinite(effective_warm_up_s()) && effective_warm_up_s() >= 0)) {
    fail("warm-up: must be >= 0 seconds, got {}", effective_warm_up_s());
  }
  if (mode == Mode::Offline && initial_queries < 1) {
    fail("initial-queries: must be >= 1 in offline mode, got {}", initial_queries);
  }
  if (!(feed_hwm > 0 && feed_hwm <= 1)) fail("feed-hwm: must be in (0, 1], got {}", feed_hwm);
  if (runtime == Runtime::Helix) {
    if (scheduler != SchedulerKind::Helix) fail("scheduler: helix's runtime routes with the helix scheduler only");
    if (helix_runtime.prefill_chunk < 1) fail("prefill-chunk: must be >= 1, got {}", helix_runtime.prefill_chunk);
    if (helix_runtime.max_batch_tokens < 1) fail("max-batch-tokens: must be >= 1, got {}", helix_runtime.max_batch_tokens);
    if (helix_runtime.clients < 0) fail("clients: must be >= 0, got {}", helix_runtime.clients);
  }
  if (warm_start && (mode != Mode::Offline || scheduler != SchedulerKind::Helix)) {
    fail("warm-start: only for offline runs with the helix scheduler");
  }
  const sched::KvParameters k = effective_kv();
  if (!(k.expected_kv_hwm > 0 && k.expected_kv_hwm <= 1)) fail("kv-hwm: must be in (0, 1], got {}", k.expected_kv_hwm);
  if (!(k.expected_output_ratio >= 0)) fail("kv-output-ratio: must be >= 0, got {}", k.expected_output_ratio);
  if (mode == Mode::Online && online.source != OnlineWorkload::Source::File &&
      !positive(online.avg_throughput_tps)) {
    fail("rate: online mode needs an offered load > 0 tokens/s, got {}", online.avg_throughput_tps);
  }
  if (mode == Mode::Online && online.source == OnlineWorkload::Source::File && online.trace_file.empty()) {
    fail("trace: online mode from a file needs a trace file");
  }
}

}  // namespace helix::sim
