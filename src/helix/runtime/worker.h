// Worker: one process per compute node. It joins the coordinator (Hello), gets
// its layer range (Assign), loads only those layers, and then serves Work:
// continuous batching over every request whose route passes through it, sending
// each chunk's activations straight to the next worker of that request's route,
// and — when the route ends here — the sampled token to the coordinator.
//
// Sockets: a DEALER to the coordinator (control, tokens, heartbeats), a PULL it
// binds for Work and Release from anyone, and one PUSH per peer it sends to.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <filesystem>
#include <optional>
#include <string>

#include "helix/core/device_name.h"
#include "helix/engine/stage_engine.h"
#include "helix/security/curve_keys.h"

namespace helix::runtime {

struct WorkerOptions {
  std::string coordinator = "tcp://127.0.0.1:5555";  // the coordinator's control endpoint
  std::string node;                                  // the cluster node this worker is
  std::filesystem::path model;                       // model directory (real engine)
  std::string engine = "real";                       // "real" or "emulated"
  std::string gpu;                                   // emulated: the GPU type claimed
  std::string listen_host = "127.0.0.1";             // where its data socket binds
  int threads = 1;                                   // engine compute threads
  double slowdown = 1.0;                             // >= 1: every step takes this much longer
  // The real engine's KV cache: its dtype, and a capacity (tokens, bytes or a share
  // of the device's memory) that overrides the coordinator's (stage_kv_options).
  KvCacheOptions kv;
  double join_timeout_s = 60;                        // give up if not assigned by then
  double coordinator_timeout_s = 30;                 // exit (with an error) when the coordinator is silent this long
  // CurveZMQ: its keys and the coordinator's public key. Its data socket then
  // accepts only the coordinator and the peers the coordinator vouches for.
  std::optional<security::KeyPair> keys;
  std::string coordinator_key;
  // Where the real engine runs its layers: this device (the CLI's --device) if set,
  // else the one the coordinator's Assign names (the cluster file's), else the CPU.
  std::optional<DeviceName> device = std::nullopt;
  // Builds the real engine's stage on a device (the CLI's: the CPU's StageEngine or
  // a GPU's); empty: the CPU's StageEngine with `threads`, and no other device.
  std::function<std::unique_ptr<Stage>(ModelFiles, LayerRange, const EngineOptions&, const DeviceName&)> make_stage;
};

// The KV options a worker's stage gets: its own capacity if it has one, else the
// tokens the coordinator assigns (serve --kv-tokens), else kServingMemoryShare of a
// GPU's memory (what the weights leave of it), else 4096 tokens on the CPU.
KvCacheOptions stage_kv_options(const KvCacheOptions& own, std::int64_t assigned_tokens, const DeviceName& device);

// A worker started by `up`: its node, device and the bytes of the weights it holds
// (its layers', and the embedding's or the LM head's where it has them).
struct PlacedWorker {
  std::string name;
  DeviceName device;
  double weight_bytes = 0;
};

// The default memory share of each worker that shares its GPU with others started
// together (`up`): kServingMemoryShare divided among the workers on that device in
// proportion to their weights, since each takes its share of the whole device. So
// wherever the weights of all fit in kServingMemoryShare, each one's fit in its
// part (an equal split, or one by layers, can leave the stage with the LM head too
// little), and the rest of each part is its KV cache. Workers alone on their GPU
// and CPU workers are not listed (stage_kv_options' default applies).
std::map<std::string, double> shared_gpu_shares(const std::vector<PlacedWorker>& workers);

// Runs until the coordinator says Shutdown or `stop` becomes true. Throws Error
// for bad options, a refused join or a model that does not load.
void run_worker(const WorkerOptions& options, const std::atomic<bool>& stop);

}  // namespace helix::runtime
