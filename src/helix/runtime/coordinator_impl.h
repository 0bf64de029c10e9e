// The coordinator's private parts, shared by its files (never included elsewhere):
// the state of one serving cluster -- members, requests in flight, the router --
// owned by one event-loop thread (`Coordinator::Impl`), and the records it keeps.
// Its functions are defined by concern:
//   coordinator.cpp             the event loop, control-message dispatch, shutdown, the public API
//   coordinator_membership.cpp  workers joining, loading, beating, lost, drained or removed
//   coordinator_replan.cpp      covering the model again: re-planning around lost or new nodes
//   coordinator_routing.cpp     the router over the ready nodes, and the flows it follows
//   coordinator_requests.cpp    a request from acceptance through its tokens to its last event
//   coordinator_views.cpp       what operators see: /admin/nodes, admin actions, /metrics
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "helix/api/openai_request.h"
#include "helix/api/prometheus.h"
#include "helix/flow/networkx_flow.h"
#include "helix/perf/machine_classes.h"
#include "helix/perf/perf_model.h"
#include "helix/runtime/coordinator.h"
#include "helix/runtime/replan.h"
#include "helix/runtime/stop_strings.h"
#include "helix/runtime/transport.h"
#include "helix/sched/helix_router.h"
#include "helix/security/curve_auth.h"
#include "helix/tokenize/stream_decoder.h"

namespace helix::runtime {

// Names for the coordinator's files only; the using-directive below keeps them short there.
namespace coordinator_detail {

using Clock = std::chrono::steady_clock;
using sched::kSink;
using sched::kSource;

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

inline api::ApiError unavailable(std::string message) {
  return api::ApiError{503, "server_error", std::move(message), ""};
}

// What a worker told us last, for /metrics and the admin API.
struct NodeStats {
  NodeState state = NodeState::Absent;
  std::string engine, endpoint;
  Heartbeat heartbeat;
  double last_seen_s = 0;
  LayerRange loaded;  // what the worker holds (its last Ready answered this Assign)
  std::string device;  // where it runs them, as its last Ready said ("" with none loaded)
  bool connected() const {
    return state == NodeState::Joined || state == NodeState::Loading || state == NodeState::Ready ||
           state == NodeState::Draining || state == NodeState::Drained;
  }
};

// A PUSH socket to a worker's data endpoint, and a monitor of it: the worker's
// connection closing (a killed process) is seen at once, not after the heartbeat timeout.
struct DataLink {
  zmq::socket_t push, monitor;
};

// One request from acceptance to its final event.
struct Request {
  std::uint64_t id = 0;
  api::GenerationRequest api;
  std::vector<int> prompt;
  std::shared_ptr<api::GenerationStream> stream;
  Sampling sampling;
  std::vector<int> stop_tokens;
  sched::Route route;
  std::vector<RouteHop> hops;
  std::unique_ptr<StreamDecoder> decoder;
  std::unique_ptr<StopStrings> stops;
  int generated = 0;
  std::vector<int> output;     // generated ids (stop token excluded)
  int prompt_tokens = 0;       // of the client's prompt (usage)
  int folded = 0;              // generated tokens moved into `prompt` by preemptions and re-routes
  int preemptions = 0;         // for KV
  int reroutes = 0;            // a node of its route was lost, or changed its layers
  std::uint64_t sampler_state = 0;  // where its sampler stands (the seed until a token came back)
  int generation = 0;          // the router generation that routed it
  std::chrono::steady_clock::time_point accepted_at;
  bool in_flight = false;  // a Work is out and its Token not back yet
  std::chrono::steady_clock::time_point sent_at;
};

}  // namespace coordinator_detail
using namespace coordinator_detail;  // NOLINT: a private header of one component

struct Coordinator::Impl {
  Impl(sim::SimCluster s, CoordinatorOptions o, std::unique_ptr<Tokenizer> t);

  // ---------------------------------------------------------------- inputs
  sim::SimCluster serving;  // what the router routes over: the ready nodes' layers
  CoordinatorOptions options;
  std::unique_ptr<Tokenizer> tokenizer;
  ClusterSpec cluster;
  ModelSpec model;
  ClusterClasses classes;
  FlowSolution flow;
  std::map<std::string, int> node_index;
  double move_penalty_tps = 0;

  // ---------------------------------------------------------------- loop-owned state
  zmq::context_t context;
  std::unique_ptr<security::Authenticator> auth;  // CURVE: admits the trusted workers; outlives the sockets
  zmq::socket_t control, wake_in, wake_out;
  std::thread loop_thread;
  std::atomic<bool> stopping{false};
  std::map<int, DataLink> data_links;  // per connected node
  int monitor_serial = 0;
  std::vector<std::int64_t> worker_kv_tokens;
  std::vector<LayerRange> planned;  // per node: the layers it is to hold (the placement)
  std::atomic<bool> started{false};  // every node of the first placement was ready once
  int router_generation = 0;
  std::optional<sched::ServingView> view;
  std::optional<sched::HelixRouter> router;
  std::unordered_map<std::uint64_t, Request> active;
  std::deque<Request> waiting;  // accepted, no route yet
  std::vector<double> edge_tokens;  // per view link: tokens sent over it
  Clock::time_point start_time, last_periodic_check;

  // ---------------------------------------------------------------- shared with HTTP threads
  mutable std::mutex inbox_mutex;  // guards inbox, commands and wake_out
  std::deque<Request> inbox;
  std::deque<std::function<void()>> commands;  // admin actions, run on the loop
  std::atomic<std::uint64_t> next_id{1};
  // Counted as tokens come back (the HTTP layer counts at the end of a request):
  // a rate over any window, for benchmarks and dashboards.
  std::atomic<std::uint64_t> tokens_generated{0}, prompt_tokens_routed{0};
  std::atomic<std::uint64_t> nodes_lost{0}, requests_rerouted{0}, replans{0}, router_builds{0}, refused_overloaded{0};
  std::atomic<std::size_t> active_count{0}, waiting_count{0};
  std::atomic<bool> ready{false}, routing{false};
  std::atomic<double> planned_max_flow{0};
  std::atomic<long long> effective_context{0};  // the model's context, capped by the workers' KV
  mutable std::mutex stats_mutex;  // guards nodes, serving, view, the ledger snapshot, edge_snapshot, events
  std::vector<NodeStats> nodes;
  std::vector<double> ledger_available, edge_snapshot;
  std::map<std::pair<std::string, std::string>, double> edge_totals;  // (from, to): tokens over all generations
  std::deque<std::string> events;  // recent membership events, for the admin API
  mutable std::mutex ready_mutex;
  mutable std::condition_variable ready_cv;

  // ================================================================ setup

  FlowSolution flow_of(const sim::SimCluster& s) const;

  // The cluster with `ranges` as its placement: links and KV as the simulator derives them.
  sim::SimCluster sim_of(const std::vector<LayerRange>& ranges) const;

  const GpuProfile& profile(int node) const {
    return classes.classes[static_cast<std::size_t>(classes.node_class[static_cast<std::size_t>(node)])].profile;
  }
  const LayerRange& range(int node) const { return planned[static_cast<std::size_t>(node)]; }
  bool placed(int node) const { return !range(node).empty(); }
  const std::string& name(int node) const { return cluster.nodes[static_cast<std::size_t>(node)].name; }
  NodeState state(int node) const {
    std::lock_guard<std::mutex> lock(stats_mutex);
    return nodes[static_cast<std::size_t>(node)].state;
  }
  void set_planned(int node, LayerRange r) {
    std::lock_guard<std::mutex> lock(stats_mutex);  // admin_nodes() reads `planned`
    planned[static_cast<std::size_t>(node)] = r;
  }
  void set_state(int node, NodeState s) {
    std::lock_guard<std::mutex> lock(stats_mutex);
    nodes[static_cast<std::size_t>(node)].state = s;
  }

  void event(const std::string& what) {
    spdlog::info("coordinator: {}", what);
    std::lock_guard<std::mutex> lock(stats_mutex);
    events.push_back(fmt::format("{:.3f} {}", seconds_since(start_time), what));
    if (events.size() > 256) events.pop_front();
  }

  Emulation emulation_of(int node) const;

  // The router over the nodes that are ready and not draining, with the KV the
  // workers really allocated (real engines) or the profile's (emulated). False
  // (and no router: requests wait) when those nodes do not cover the model.
  bool build_router(const std::string& reason);

  // Requests routed before the rebuild keep their routes. Those whose nodes all
  // serve in the new view, with the same layers, are taken into its books (KV
  // ledger, link indices), so that the new router does not admit as if the
  // cluster were empty; the others stay outside them until they end.
  void adopt_active();

  int placed_count() const;

  // ================================================================ the loop

  void loop();

  void iterate();

  void drain_control();

  void drain_wake();

  void run_commands();

  // A corrupt message drops the worker that sent it (its requests move to other
  // routes); from an unknown peer it is only logged.
  void corrupt(const std::string& identity, const std::string& what);

  bool connected(int node) const;

  void on_control(const Envelope& e);

  void refuse(const std::string& identity, const std::string& reason);

  void on_hello(const std::string& identity, const Hello& h);

  // A node that no cluster file lists joins with its GPU type: it is added to the
  // cluster (links copied from a node of the coordinator's region) and planned in
  // on its Ready. "" or why not.
  std::string add_node(const Hello& h);

  // Why a worker's data endpoint cannot be used ("" if it can): it must be a
  // concrete tcp://HOST:PORT that others can connect to.
  std::string bad_endpoint(const std::string& endpoint);

  bool all_joined() const;

  void open_data_link(int node, const std::string& endpoint);

  void close_data_link(int node);

  // The worker's data connection closed: the process is gone (or its machine is
  // unreachable) — as good as a missed heartbeat, and seen at once.
  void check_monitor(int node);

  // What the node is to hold and run, and its peers; `emulated_sim` is
  // emulated_sim() (computed once per round of assignments).
  Assign assignment(int node, const std::optional<sim::SimCluster>& emulated_sim, std::vector<Peer> current_peers) const;
  // With emulated workers, the placement as the simulator derives it (their KV); else none.
  std::optional<sim::SimCluster> emulated_sim() const;

  // Sends the node its layers and the peers (Loading until its Ready).
  void assign(int node);

  // The node's trusted public key (it joined with it: ZAP checked it, on_control its name).
  std::string public_key_of(int node) const;

  std::vector<Peer> peers() const;

  // Tells every other serving node the peers changed (their layers stay).
  void broadcast_peers(int except);

  void on_ready(int node, const Ready& r);

  void on_heartbeat(int node, const Heartbeat& h);

  void check_timeouts();

  // Requests whose client left (or that wait too long for their next token or a
  // route) end here instead of waiting for a token that may be minutes away or lost.
  void check_requests();

  // ================================================================ membership changes

  void shutdown_worker(int node);

  // The node is gone: its requests move to new routes (re-prefilled there), the
  // router stops using it, and the cluster re-plans if its layers are missing now.
  // Its planned layers stay, so that a restart under its name gets them back.
  void node_lost(int node, const std::string& reason);

  void reroute_requests_through(int node, const std::string& why);

  // After a membership change: route over the ready nodes if they cover the
  // model; else wait for nodes that are loading, or re-plan.
  void reconcile(const std::string& reason);

  // A new placement over the nodes that may serve (connected, not draining or
  // drained; `joining` too), warm from what they hold, charging each newly loaded
  // layer. The planner runs on its own thread (it takes seconds to a minute on a
  // busy machine and paper-sized clusters), so that heartbeats and tokens keep
  // flowing; check_replan() applies its answer. Nodes whose layers change reload
  // them while the rest keeps serving.
  struct PendingReplan {
    std::string reason;
    int joining = -1;
    std::vector<char> usable;
    std::vector<LayerRange> current;
    std::future<Replan> result;
    Clock::time_point started;
    std::uint64_t epoch = 0;  // membership_epoch when it started
  };
  // Counts membership changes (a node lost, ready, drained, removed, added): a plan
  // made for an older membership is not applied but made again.
  std::uint64_t membership_epoch = 0;
  std::optional<PendingReplan> pending_replan;
  std::optional<std::pair<std::string, int>> replan_again;  // asked for while one ran

  void replan(const std::string& reason, int joining);

  void check_replan();

  void apply_replan(PendingReplan& job);

  // The nodes that keep their layers may already cover the model.
  void reconcile_after_assign(const std::string& reason);

  // Draining nodes with nothing in flight release their layers and stand by.
  void check_drains();

  // Admin: no new routes through the node; its requests finish; then it releases its layers.
  std::string drain(int node);

  // Admin: the node leaves now; its requests move to other routes.
  std::string remove(int node);

  // ================================================================ requests

  void take_inbox();

  // Routes waiting prompts in arrival order while the router finds routes.
  void dispatch_waiting();

  // The prompt length the router sees. A request that moved after a lost node is
  // routed as the client's prompt: its re-prefill of prompt + output runs in
  // prefill chunks like any prompt, and must not be refused for a length the
  // client never sent (the paper's per-node prompt limit), nor wait forever.
  static int routed_length(const Request& r);

  // The view never changes, so the answer per prompt length is computed once.
  bool routable_when_idle(int tokens);
  std::unordered_map<int, bool> routable_cache;

  void start(Request r, sched::Route route);

  void send_work(Request& r, int position, std::vector<std::int32_t> tokens, bool prompt);

  // Tokens per (from, to) over every router generation, for /metrics.
  void count_edges(const Request& r, int tokens);

  void on_token(int node, const Token& t);

  void on_work_failed(int node, const WorkFailed& f);

  // Recompute (as vLLM's preemption): the request's KV is freed everywhere and it
  // waits at the head of the queue to be routed again, with what it generated so
  // far appended to its prompt — re-prefilled at the same positions, so the client
  // sees one uninterrupted stream. Its sampler goes on from the state it had
  // reached (sampled output is the same as without the move). It gets a new id,
  // so that no late message of its old route can touch it. The caller dispatches.
  static constexpr int kMaxPreemptions = 8;  // for KV; then an explicit error: it cannot make progress
  static constexpr int kMaxReroutes = 16;    // for lost nodes and membership races
  void requeue(std::uint64_t id, const std::string& why, bool kv_preemption);

  api::GenerationEvent finish_event(const std::string& reason, const Request& r) const;
  static api::GenerationEvent error_event(api::ApiError error);

  void finish(std::uint64_t id, const std::string& reason);

  void finish_with_error(std::uint64_t id, api::ApiError error);

  // Frees the request everywhere: KV on its nodes, the ledger, then lets waiting prompts in.
  // The request leaves `active` first, so that nothing below can leave it
  // half-closed (its final event has been pushed already).
  void close(std::uint64_t id);

  // Best effort: a node that cannot be reached has nothing left to free.
  void release_route(const Request& r, std::uint64_t id);

  void snapshot_ledger();

  void shutdown();

  // ================================================================ HTTP side

  Request prepare(const api::GenerationRequest& q) const;
  std::vector<int> encode_chat(const std::vector<api::ChatMessage>& messages) const;

  std::shared_ptr<api::GenerationStream> submit(const api::GenerationRequest& q);

  std::string readiness() const;

  // Runs `action` on the loop thread and waits for its answer (admin calls).
  std::string on_loop(std::function<std::string()> action);
};

}  // namespace helix::runtime
