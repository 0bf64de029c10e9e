// SimConfig: how a simulation is run — scheduler, offline or online mode, the
// workload, the measurement window. Defaults are the paper's step3 settings
// (simulator spec §9–10, planner spec §6): offline = closed loop with 60 s of
// warm-up and 600 s measured; online = trace arrivals over 1800 s, run until
// every query finishes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "helix/sched/hop_routers.h"
#include "helix/sched/kv_ledger.h"
#include "helix/sim/workload.h"

namespace helix::sim {

enum class SchedulerKind { Helix, Swarm, Random, ShortestQueue };
enum class Mode { Offline, Online };
// Which serving runtime is simulated (runtime_model.h): the paper's prototype as
// its simulator models it, or helix's own workers and coordinator.
enum class Runtime { Paper, Helix };

// "helix", "swarm", "random", "shortest-queue"; throws Error naming the value.
SchedulerKind parse_scheduler(const std::string& name);
std::string to_string(SchedulerKind kind);
Mode parse_mode(const std::string& name);
std::string to_string(Mode mode);
// "paper", "helix"; throws Error naming the value.
Runtime parse_runtime(const std::string& name);
std::string to_string(Runtime runtime);

// How helix's runtime batches (the coordinator's settings, runtime/coordinator.h).
struct HelixRuntimeSettings {
  int prefill_chunk = 512;      // a worker splits prompts into chunks of at most this many tokens
  int max_batch_tokens = 2048;  // tokens per step (a longer single chunk still runs)
  // Offline: the closed loop's population — clients that each send their next
  // request the moment the last one ends; requests the router cannot place wait
  // at the coordinator, as in the runtime. 0: enough to keep the KV ledger full.
  int clients = 0;
  // An idle worker that receives work waits this long before it starts the step,
  // so that the rest of a batch sent on by the previous worker joins it (the
  // coordinator's gather_us; without it a batch arriving message by message is
  // split into a step of one and a step of the rest).
  double gather_s = 0.001;
  // Seconds a worker's queue may wait for KV before it preempts (the worker's rule).
  double kv_wait_before_preempting_s = 2.0;
};

// Where online arrivals come from.
struct OnlineWorkload {
  enum class Source { PaperTrace, Poisson, File };
  Source source = Source::PaperTrace;
  double avg_throughput_tps = 0;        // offered tokens/s (input + output), PaperTrace/Poisson
  std::string arrival_pattern = "azure-conv";  // PaperTrace
  std::string trace_file;               // File: times are absolute (as the paper's reference traces)
};

struct SimConfig {
  Runtime runtime = Runtime::Paper;
  HelixRuntimeSettings helix_runtime;  // used when runtime == Helix
  SchedulerKind scheduler = SchedulerKind::Helix;
  Mode mode = Mode::Offline;
  std::string lengths = "azure-conv";  // length dataset (name or CSV path)
  std::uint64_t seed = 0;

  // Offline: queries started at the beginning (0.1 s apart). The Helix scheduler
  // then adds one each time a prompt or a query finishes while the KV ledger's
  // bottleneck is at most feed_hwm; the baselines keep this population constant.
  int initial_queries = 20;
  double feed_hwm = 0.8;
  // Offline: start in steady state instead of from an empty cluster. The cluster is
  // filled at once with queries already decoding (lengths drawn in proportion to
  // their output, so long queries are as over-represented as in a running system;
  // each at a uniform point of its output), up to the feeder's limit (Helix) or
  // initial_queries (baselines), their first decodes spread over the first
  // second. What the planner uses to measure a placement's steady state in tens of
  // simulated seconds instead of a ramp-up of minutes. Off: the paper's start.
  bool warm_start = false;

  OnlineWorkload online;

  // KV ledger of the Helix router; unset = the paper's per mode: offline (0.85, 1.0),
  // online (0.9, 0.6).
  std::optional<sched::KvParameters> kv;
  sched::SwarmParameters swarm;

  // Measurement window [t_load + warm_up, + duration]; unset = 60/600 offline,
  // 0/1800 online. Online, `duration` is also the length of the generated trace.
  std::optional<double> warm_up_s;
  std::optional<double> duration_s;

  sched::KvParameters effective_kv() const;
  double effective_warm_up_s() const;
  double effective_duration_s() const;
  // Throws Error naming the field for a bad value (rate <= 0, negative window, ...).
  void validate() const;
};

}  // namespace helix::sim
