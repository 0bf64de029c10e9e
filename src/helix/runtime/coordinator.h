// Coordinator: the serving process users talk to. It owns
//  * membership: workers join by node name (Hello), get their layers (Assign) and
//    report their KV (Ready); when every placed node is ready it serves. Later a
//    node may be lost (silent, or its connection closed), re-join, join with no
//    layers, be drained or removed: the router is rebuilt over the ready nodes and,
//    when they no longer cover the model, the cluster re-plans (replan.h);
//  * scheduling: the max flow of the placed cluster and the same sched::HelixRouter
//    the simulator uses, which picks each prompt's route and keeps the KV ledger;
//  * requests: tokenising, sending prompts and then each decode token to the
//    first worker of the request's route, detokenising the tokens that come back
//    from the last, stop strings and limits, and the api::Backend stream events.
//    A request whose route loses a node moves to a new route: it is re-prefilled
//    with its tokens so far, and its sampler goes on from where it stood.
// Activations never pass through it: workers send them to each other.
//
// One thread (the loop) owns every socket and all request state; HTTP threads
// only hand requests over (submit) and read snapshots (metrics, health).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "helix/api/backend.h"
#include "helix/security/curve_keys.h"
#include "helix/runtime/node_state.h"
#include "helix/sched/kv_ledger.h"
#include "helix/sim/sim_cluster.h"
#include "helix/api/chat_prompt.h"
#include "helix/runtime/wire.h"
#include "helix/tokenize/tokenizer.h"

namespace helix::runtime {

struct CoordinatorOptions {
  std::string control_endpoint = "tcp://127.0.0.1:5555";  // workers connect here
  std::string model_id = "helix";                         // the name /v1/models lists
  bool emulated = false;                                  // workers emulate their GPU
  // Emulated workers send activation rows of the model's real size (else one float
  // per token: the timing is the profile's either way).
  bool emulated_real_activations = false;
  // What real workers send hidden states as (Assign.activations); the plan counts its bytes.
  ActivationDtype activations = ActivationDtype::F32;
  int context_length = 2048;                              // prompt + generated tokens at most
  api::ChatPrompt chat_prompt;                            // chat requests: the model's template, else plain
  long long worker_kv_tokens = 0;                         // KV asked of each real worker (0: its default)
  int prefill_chunk = 512;
  int max_batch_tokens = 2048;
  // An idle worker that receives work waits this long for the rest of the batch the
  // previous worker sent on before it steps (a batch split in two costs two steps).
  int gather_us = 1000;
  sched::KvParameters kv{0.9, 0.6};  // the paper's online settings
  double worker_timeout_s = 2;       // silent this long (heartbeats every 0.5 s): the worker is lost
  // Re-planning (replan.h): the objective charge per layer a node must newly load
  // (< 0: 1% of the first placement's max flow), and the planner's budget.
  double move_penalty_tps = -1;
  long replan_evaluations = 100;
  bool partial_inference = false;    // the placement's routes may enter a node mid-range (Petals)
  // CurveZMQ (security/): the coordinator's keys and the workers it admits (their
  // public keys, by node name). A worker joins only under the name its key is
  // trusted as; workers learn their peers' keys from the coordinator. No keys:
  // plain ZeroMQ (the CLI allows that on loopback, or with --insecure).
  std::optional<security::KeyPair> keys;
  security::TrustedPeers trusted_workers;
  double request_timeout_s = 600;    // no token back this long: the request ends with an error
  int max_waiting = 4096;            // requests waiting for a route before 503s
  // Requests open at once (routed, waiting or just accepted); the next gets a 503
  // at once (0: no limit). Under overload -- a lost node's requests re-prefilling
  // while new ones keep coming -- a request refused at the door can be retried,
  // one accepted into a growing backlog stalls.
  int max_requests = 0;
};

class Coordinator final : public api::Backend {
 public:
  // `serving` is the placed cluster (nodes, layers, usable links, KV estimates).
  Coordinator(sim::SimCluster serving, CoordinatorOptions options, std::unique_ptr<Tokenizer> tokenizer);
  ~Coordinator() override;
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Binds the control socket and starts the loop thread. Throws Error if the
  // endpoint cannot be bound.
  void start();
  // Tells the workers to stop, ends every open request with an error, joins.
  void stop();
  // Waits until all placed nodes are ready (true) or the timeout passes.
  bool wait_ready(double timeout_s) const;
  const std::string& control_endpoint() const { return bound_endpoint_; }
  // Planned max flow (tokens/s, simulator semantics).
  double max_flow_tps() const;

  // api::Backend
  std::vector<std::string> model_ids() const override;
  std::shared_ptr<api::GenerationStream> submit(const api::GenerationRequest& request) override;
  bool healthy(std::string& detail_json) const override;
  std::string metrics_text() const override;
  api::AdminAnswer admin_nodes() const override;
  api::AdminAnswer admin_node(const std::string& node, const std::string& action) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bound_endpoint_;
};

}  // namespace helix::runtime
