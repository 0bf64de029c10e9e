// helix's own runtime as the simulator models it (runtime_model.h). Each piece
// mirrors the code it stands for:
//  * the coordinator (runtime/coordinator_requests.cpp) routes each prompt with the Helix
//    router, keeps the prompts it cannot place yet in a FIFO at its door, sends the
//    prompt and then every decode step to the route's first worker, takes each
//    token back from the last one, frees the route's KV when the query ends, and
//    re-queues a preempted query at the head with the tokens it made so far
//    appended to its prompt (recompute preemption);
//  * a worker (runtime/worker.cpp with the emulated executor) splits a prompt into
//    chunks of prefill_chunk tokens as it arrives; whenever it is idle it takes,
//    FIFO, one chunk per request, all skipping the same layers, within
//    max_batch_tokens, the profile's batch limits and its free KV blocks, and runs
//    them through all its layers at once (stage_batch_seconds); then each chunk
//    goes on to the next worker, or as a token to the coordinator. When nothing can
//    run for want of KV and every request holding KV here waits here (or it has
//    waited kv_wait_before_preempting_s), it gives up its newest request;
//  * a link sends one message at a time at its bandwidth (FIFO), then adds its
//    latency: token ids to and from the coordinator, token id + activation per
//    token between workers. NICs are not shared between links (ZeroMQ gives every
//    peer its own connection), and the coordinator's own CPU time is not charged.
// A query (I, O) is a prompt pass, whose token is the first (its latency is the
// prompt latency, time to first token), then O decode steps (their latencies are
// the times between tokens): the same O decode iterations as the paper's model.
#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "helix/core/error.h"
#include "helix/sched/helix_router.h"
#include "helix/sim/event_queue.h"
#include "helix/sim/runtime_model.h"
#include "helix/sim/serving_setup.h"

namespace helix::sim {
namespace {

using sched::kSink;
using sched::kSource;

constexpr int kBlockTokens = 16;      // the engine's paged KV cache
constexpr int kMaxPreemptions = 8;    // the coordinator's rule: then the request fails

enum class EventType : std::uint8_t {
  Arrival,    // arg: query (online trace or offline client)
  Deliver,    // arg: message
  BatchDone,  // arg: node
  KvCheck,    // arg: node (the worker's "waited too long for KV" timer)
  Wake,       // arg: node (KV was freed there: try to run again)
  WarmDecode, // arg: query (warm start: its next decode step)
};

struct Event {
  double time;
  std::uint64_t seq;
  EventType type;
  int arg;
};


// A piece of a request's work for one worker (runtime/wire.h, Work).
struct Chunk {
  int query = -1;
  int generation = 0;  // the query's route it belongs to (stale after a preemption)
  int hop = 0;         // index into the route's stages of the worker it is for
  int position = 0;
  int length = 0;
  bool prompt = false;
  bool want_token = false;
  double arrived_s = 0;  // at the worker: for "where time goes"
};

struct Message {
  Chunk chunk;
  bool token = false;  // a token for the coordinator, else work for stages[hop].node
};

struct Query {
  int input = 0, output = 0;
  int prompt_tokens = 0;     // the prompt the current route runs: input, plus what was folded in
  int decodes_done = 0;      // decode tokens received
  int route_tokens = 0;      // tokens received on the current route
  bool first_token = false;  // the prompt's token came back (time to first token recorded)
  bool done = false;
  int generation = 0;
  int preemptions = 0;
  sched::Route route;
  double issue_s = 0, last_token_s = 0;
};

struct NodeState {
  LayerRange range;
  const LayerTimeTable* prompt_time = nullptr;
  const LayerTimeTable* decode_time = nullptr;
  InferenceLimits limits;
  std::deque<Chunk> pending;
  std::vector<Chunk> batch;
  bool busy = false;
  bool wake_pending = false;
  double batch_start_s = 0;
  long long blocks_total = 0, blocks_free = 0;
  std::unordered_map<int, int> cached;  // query -> tokens in this worker's KV
  std::optional<double> kv_blocked_since;
  // Reports.
  long long blocks_peak = 0;
  double busy_in_window = 0;
  std::int64_t steps = 0, window_steps = 0, decode_batch_sum = 0, prompt_steps = 0;
  std::int64_t decode_visits = 0, prompt_visits = 0;
  double decode_stay_s = 0, prompt_stay_s = 0;
};

struct LinkState {
  double bandwidth = 0, latency = 0, bytes_per_token = 0;
  double free_at = 0;
  double busy_in_window = 0, bytes_in_window = 0;
  std::int64_t transmissions = 0;
};

double mean(double sum, std::int64_t count) { return count > 0 ? sum / static_cast<double>(count) : 0.0; }
double overlap(double a0, double a1, double b0, double b1) { return std::max(0.0, std::min(a1, b1) - std::max(a0, b0)); }
long long blocks_for(long long tokens) { return (tokens + kBlockTokens - 1) / kBlockTokens; }

struct HelixRuntimeModel final : RuntimeModel {
  const SimCluster& sim;
  SimConfig config;
  ServingSetup setup;
  const sched::ServingView& view;
  sched::HelixRouter router;
  PythonRandom rng;
  LengthDataset lengths;
  std::optional<LengthSampler> sampler;
  Trace trace;
  double t_load = 0, window_start = 0, window_end = 0;

  double now = 0;
  std::uint64_t next_seq = 0;
  EventQueue<Event> events;
  std::vector<Query> queries;
  std::vector<NodeState> nodes;
  std::vector<LinkState> links;
  std::vector<Message> messages;
  std::vector<int> free_messages;
  std::deque<int> waiting;  // queries the router could not place yet, in order
  int clients = 0;          // offline closed loop
  SimReport report;

  HelixRuntimeModel(const SimCluster& s, const SimConfig& c)
      : sim(s), config(c), setup(s, true), view(setup.view()),
        router(view, sched::HelixRouterOptions{c.effective_kv(), 0.05}), rng(c.seed) {
    config.validate();
    build_state();
    lengths = length_dataset(config.lengths);
    sampler.emplace(lengths, rng);
    t_load = sim::model_loading_end_s(sim);
    window_start = t_load + config.effective_warm_up_s();
    window_end = window_start + config.effective_duration_s();
    if (config.mode == Mode::Online) load_trace();
    clients = config.helix_runtime.clients > 0 ? config.helix_runtime.clients : ledger_population();
  }

  double max_flow_tps() const override { return setup.flow().max_flow_tps; }
  double model_loading_end_s() const override { return t_load; }

  // ---------------------------------------------------------------- setup

  void build_state() {
    const double token = sim.model.token_size_bytes;
    const double act = sim.model.activation_bytes_per_token;
    for (int i = 0; i < sim.cluster.num_nodes(); ++i) {
      NodeState n;
      n.range = sim.ranges[static_cast<std::size_t>(i)];
      n.prompt_time = &setup.profile(i).prompt;
      n.decode_time = &setup.profile(i).decode;
      n.limits = setup.limits(i);
      // The KV slots are token x layer units over the node's layers; a worker's
      // cache holds that many tokens per layer, in 16-token blocks.
      const int k = std::max(1, n.range.size());
      n.blocks_total = n.blocks_free =
          static_cast<long long>(sim.kv_capacity[static_cast<std::size_t>(i)] / k) / kBlockTokens;
      nodes.push_back(std::move(n));
    }
    for (const sched::LinkView& l : view.links) {
      LinkState s;
      s.bandwidth = l.bandwidth_Bps;
      s.latency = l.latency_s;
      s.bytes_per_token = (l.from == kSource || l.to == kSink) ? token : token + act;
      links.push_back(s);
    }
  }

  void load_trace() {
    const OnlineWorkload& w = config.online;
    const double duration = config.effective_duration_s();
    switch (w.source) {
      case OnlineWorkload::Source::File: trace = sim::load_trace(w.trace_file); break;
      case OnlineWorkload::Source::PaperTrace:
        trace = generate_paper_trace(lengths, arrival_pattern(w.arrival_pattern), w.avg_throughput_tps, t_load,
                                     duration, config.seed);
        break;
      case OnlineWorkload::Source::Poisson:
        trace = generate_poisson_trace(lengths, w.avg_throughput_tps, t_load, duration, config.seed);
        break;
    }
    report.offered_tps = trace.offered_tps(duration);
  }

  // Clients that keep the KV ledger full with some to spare: the queries of mean
  // charge the tightest layer takes at the high-water mark, plus a fifth.
  int ledger_population() const {
    const sched::KvParameters kv = config.effective_kv();
    double charge = 0;
    for (const LengthPair& p : lengths.pairs) charge += static_cast<double>(router.kv().expected_len(p.input_tokens));
    charge /= static_cast<double>(std::max<std::size_t>(1, lengths.pairs.size()));
    double tightest = -1;
    for (int layer = 0; layer < sim.model.num_layers; ++layer) {
      double slots = 0;
      for (const sched::NodeView& n : view.nodes) {
        if (n.layers.start <= layer && layer < n.layers.end) slots += n.kv_capacity / n.layers.size();
      }
      tightest = tightest < 0 ? slots : std::min(tightest, slots);
    }
    const double fill = kv.expected_kv_hwm * std::max(0.0, tightest) / std::max(1.0, charge);
    return std::max(1, static_cast<int>(std::ceil(1.2 * fill)) + 16);
  }

  // ---------------------------------------------------------------- events

  void schedule(double time, EventType type, int arg) { events.push(Event{time, next_seq++, type, arg}, now); }
  bool in_window(double t) const { return t >= window_start && t <= window_end; }

  int new_query(int input, int output, double issue_s) {
    Query q;
    q.input = q.prompt_tokens = input;
    q.output = output;
    q.issue_s = issue_s;
    queries.push_back(std::move(q));
    ++report.queries_created;
    return static_cast<int>(queries.size()) - 1;
  }

  void on_arrival(int id) {
    waiting.push_back(id);
    dispatch_waiting();
  }

  // The coordinator's dispatch_waiting: route waiting prompts in order until one
  // does not fit; a prompt no route could take even on an idle cluster is refused.
  void dispatch_waiting() {
    while (!waiting.empty()) {
      const int id = waiting.front();
      Query& q = queries[static_cast<std::size_t>(id)];
      std::optional<sched::Route> route = router.route_prompt(q.prompt_tokens);
      if (!route) {
        if (routed == 0 || !routable_when_idle(q.prompt_tokens)) {  // it can never run
          waiting.pop_front();
          ++report.queries_rejected;
          end_query(q);
          next_client_query();
          continue;
        }
        ++report.queries_deferred;
        return;
      }
      waiting.pop_front();
      ++routed;
      q.route = std::move(*route);
      q.route_tokens = 0;
      send_work(id, q.prompt_tokens, 0, true);
    }
  }

  // The coordinator refuses at once a prompt no route could take on an idle cluster.
  bool routable_when_idle(int tokens) {
    auto it = routable_cache.find(tokens);
    if (it != routable_cache.end()) return it->second;
    sched::HelixRouter idle(view, sched::HelixRouterOptions{config.effective_kv(), 0.05});
    return routable_cache[tokens] = idle.route_prompt(tokens).has_value();
  }
  std::unordered_map<int, bool> routable_cache;
  std::int64_t routed = 0;  // queries holding a route

  // ---- links ----

  int new_message(const Message& m) {
    int id;
    if (!free_messages.empty()) {
      id = free_messages.back();
      free_messages.pop_back();
      messages[static_cast<std::size_t>(id)] = m;
    } else {
      id = static_cast<int>(messages.size());
      messages.push_back(m);
    }
    return id;
  }

  void transmit(int link_index, int tokens, const Message& m) {
    LinkState& link = links[static_cast<std::size_t>(link_index)];
    const double bytes = tokens * link.bytes_per_token;
    const double start = std::max(now, link.free_at);
    link.free_at = start + bytes / link.bandwidth;
    ++link.transmissions;
    link.busy_in_window += overlap(start, link.free_at, window_start, window_end);
    if (link.free_at > start) link.bytes_in_window += bytes * overlap(start, link.free_at, window_start, window_end) / (link.free_at - start);
    schedule(link.free_at + link.latency, EventType::Deliver, new_message(m));
  }

  // A prompt (position 0) or one decode step, to the route's first worker.
  void send_work(int id, int length, int position, bool prompt) {
    Query& q = queries[static_cast<std::size_t>(id)];
    Chunk c;
    c.query = id;
    c.generation = q.generation;
    c.hop = 0;
    c.position = position;
    c.length = length;
    c.prompt = prompt;
    c.want_token = true;
    transmit(q.route.stages.front().link, length, Message{c, false});
  }

  void on_deliver(int message) {
    const Message m = messages[static_cast<std::size_t>(message)];
    free_messages.push_back(message);
    if (stale(m.chunk)) return;
    if (m.token) return on_token(m.chunk.query);
    accept(m.chunk);
  }

  bool stale(const Chunk& c) const {
    const Query& q = queries[static_cast<std::size_t>(c.query)];
    return q.done || q.generation != c.generation;
  }

  // ---- workers ----

  int node_of(const Chunk& c) const {
    return queries[static_cast<std::size_t>(c.query)].route.stages[static_cast<std::size_t>(c.hop)].node;
  }

  // The worker's accept(): a prompt becomes chunks of at most prefill_chunk tokens.
  void accept(Chunk c) {
    const int node = node_of(c);
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    c.arrived_s = now;
    const int chunk = config.helix_runtime.prefill_chunk;
    for (int done = 0; done < c.length;) {
      Chunk piece = c;
      piece.position = c.position + done;
      piece.length = std::min(chunk, c.length - done);
      piece.want_token = c.want_token && done + piece.length == c.length;
      n.pending.push_back(piece);
      done += piece.length;
    }
    wake(node, config.helix_runtime.gather_s);
  }

  // An idle worker starts its next step after `delay`: what else arrives by then
  // joins the batch (messages delivered at the same instant always do).
  void wake(int node, double delay) {
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    if (n.busy || n.wake_pending) return;
    n.wake_pending = true;
    schedule(now + delay, EventType::Wake, node);
  }

  int skip_of(int node, const Chunk& c) const {
    const Query& q = queries[static_cast<std::size_t>(c.query)];
    return q.route.stages[static_cast<std::size_t>(c.hop)].layers.start - nodes[static_cast<std::size_t>(node)].range.start;
  }

  bool within_limits(const NodeState& n, bool decode, int length, int prompts, int decodes, long long prompt_tokens) const {
    const InferenceLimits& l = n.limits;
    if (decode) return l.decode_max_tokens <= 0 || decodes + 1 <= l.decode_max_tokens;
    if (prompts == 0) return true;  // a prompt longer than the limit still runs alone
    return (l.prompt_max_requests <= 0 || prompts + 1 <= l.prompt_max_requests) &&
           (l.prompt_max_tokens <= 0 || prompt_tokens + length <= l.prompt_max_tokens);
  }

  // The worker's form_batch + step: FIFO, one chunk per request, one skip, the
  // token budget, the batch limits, the free blocks.
  void step(int node) {
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    std::deque<Chunk> keep;
    std::vector<int> unrunnable;
    std::unordered_set<int> seen;
    int tokens = 0, prompts = 0, decodes = 0, skip = -1;
    long long prompt_tokens = 0;
    for (Chunk& c : n.pending) {
      if (stale(c)) continue;
      const int s = skip_of(node, c);
      const bool decode = !c.prompt;
      const int cached = cached_tokens(n, c.query);
      const long long need = blocks_for(c.position + c.length) - blocks_for(cached);
      if (need > n.blocks_total) {  // could never run here, however long it waits
        unrunnable.push_back(c.query);
        continue;
      }
      bool take = !seen.count(c.query) && (skip < 0 || s == skip) &&
                  (tokens == 0 || tokens + c.length <= config.helix_runtime.max_batch_tokens) && need <= n.blocks_free &&
                  within_limits(n, decode, c.length, prompts, decodes, prompt_tokens);
      seen.insert(c.query);
      if (!take) {
        keep.push_back(c);
        continue;
      }
      skip = s;
      tokens += c.length;
      n.blocks_free -= need;
      n.cached[c.query] = c.position + c.length;
      if (decode) ++decodes;
      else ++prompts, prompt_tokens += c.length;
      n.batch.push_back(c);
    }
    n.pending.swap(keep);
    n.blocks_peak = std::max(n.blocks_peak, n.blocks_total - n.blocks_free);
    for (int query : unrunnable) {
      if (!queries[static_cast<std::size_t>(query)].done) fail_query(query);
    }
    if (n.batch.empty()) {
      if (!n.pending.empty()) kv_blocked(node);
      else n.kv_blocked_since.reset();
      return;
    }
    n.kv_blocked_since.reset();
    const int layers = n.range.size() - std::max(0, skip);
    const double seconds = stage_batch_seconds(*n.prompt_time, *n.decode_time, prompt_tokens, decodes, layers);
    n.busy = true;
    n.batch_start_s = now;
    ++n.steps;
    if (in_window(now)) {
      ++n.window_steps;
      n.decode_batch_sum += decodes;
      n.prompt_steps += prompts > 0 ? 1 : 0;
    }
    schedule(now + seconds, EventType::BatchDone, node);
  }

  int cached_tokens(const NodeState& n, int query) const {
    auto it = n.cached.find(query);
    return it == n.cached.end() ? 0 : it->second;
  }

  void on_batch_done(int node) {
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    n.busy = false;
    n.busy_in_window += overlap(n.batch_start_s, now, window_start, window_end);
    std::vector<Chunk> batch;
    batch.swap(n.batch);
    for (const Chunk& c : batch) {
      if (stale(c)) continue;  // released while it ran
      if (c.want_token || !c.prompt) note_stay(n, c);
      forward(c);
    }
    if (!n.pending.empty()) step(node);
  }

  void note_stay(NodeState& n, const Chunk& c) {
    if (!in_window(now)) return;
    (c.prompt ? n.prompt_visits : n.decode_visits) += 1;
    (c.prompt ? n.prompt_stay_s : n.decode_stay_s) += now - c.arrived_s;
  }

  void forward(const Chunk& c) {
    const Query& q = queries[static_cast<std::size_t>(c.query)];
    const sched::Stage& next = q.route.stages[static_cast<std::size_t>(c.hop + 1)];
    Chunk on = c;
    on.hop = c.hop + 1;
    if (next.node == kSink) {
      if (c.want_token) transmit(next.link, 1, Message{on, true});
      return;
    }
    transmit(next.link, c.length, Message{on, false});
  }

  // Nothing could run for want of KV: preempt at once if every holder waits here,
  // else after the worker's patience (KvCheck).
  void kv_blocked(int node) {
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    if (!n.kv_blocked_since) {
      n.kv_blocked_since = now;
      schedule(now + config.helix_runtime.kv_wait_before_preempting_s, EventType::KvCheck, node);
    }
    if (deadlocked(n)) preempt(node);
  }

  bool deadlocked(const NodeState& n) const {
    std::unordered_set<int> holders;
    for (const Chunk& c : n.pending) {
      if (!stale(c) && cached_tokens(n, c.query) > 0) holders.insert(c.query);
    }
    return !holders.empty() && holders.size() == n.cached.size();
  }

  void on_kv_check(int node) {
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    if (n.busy || !n.kv_blocked_since) return;
    if (now - *n.kv_blocked_since + 1e-12 < config.helix_runtime.kv_wait_before_preempting_s) return;
    preempt(node);
  }

  // The newest request holding KV here gives it up (the worker's preempt_for_kv).
  void preempt(int node) {
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    n.kv_blocked_since.reset();
    for (auto it = n.pending.rbegin(); it != n.pending.rend(); ++it) {
      if (stale(*it) || cached_tokens(n, it->query) == 0) continue;
      requeue(it->query);
      return;
    }
  }

  void release_kv(int query) {
    Query& q = queries[static_cast<std::size_t>(query)];
    for (const sched::Stage& s : q.route.stages) {
      if (s.node < 0) continue;
      NodeState& n = nodes[static_cast<std::size_t>(s.node)];
      auto it = n.cached.find(query);
      if (it == n.cached.end()) continue;
      n.blocks_free += blocks_for(it->second);
      n.cached.erase(it);
      std::erase_if(n.pending, [&](const Chunk& c) { return c.query == query; });
      if (!n.pending.empty()) wake(s.node, 0);
    }
  }

  void on_wake(int node) {
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    n.wake_pending = false;
    if (!n.busy && !n.pending.empty()) step(node);
  }

  // ---- the coordinator ----

  void on_token(int id) {
    Query& q = queries[static_cast<std::size_t>(id)];
    ++q.route_tokens;
    if (!q.first_token) {
      q.first_token = true;
      record_prompt(q);
    } else {
      ++q.decodes_done;
      record_decode(q);
    }
    q.last_token_s = now;
    if (q.decodes_done >= q.output) return finish(id);
    router.on_decode(q.route);
    send_work(id, 1, q.prompt_tokens + q.route_tokens - 1, false);
  }

  void record_prompt(const Query& q) {
    report.samples.prompt_finish_s.push_back(now);
    report.samples.prompt_latency_s.push_back(now - q.issue_s);
    report.samples.prompt_tokens.push_back(q.input);
  }

  void record_decode(const Query& q) {
    report.samples.decode_finish_s.push_back(now);
    report.samples.decode_latency_s.push_back(now - q.last_token_s);
  }

  void finish(int id) {
    Query& q = queries[static_cast<std::size_t>(id)];
    --routed;
    release_kv(id);
    router.on_query_finished(q.route, q.prompt_tokens);
    ++report.queries_finished;
    end_query(q);
    dispatch_waiting();
    next_client_query();
  }

  // Recompute preemption (the coordinator's requeue): KV freed everywhere, the
  // query waits first in line with its tokens so far as part of its prompt.
  void requeue(int id) {
    Query& q = queries[static_cast<std::size_t>(id)];
    --routed;
    release_kv(id);
    router.on_query_finished(q.route, q.prompt_tokens);
    ++report.preemptions;
    if (++q.preemptions > kMaxPreemptions) {
      ++report.queries_rejected;
      end_query(q);
        dispatch_waiting();
      next_client_query();
      return;
    }
    q.prompt_tokens += q.route_tokens;
    q.route = {};
    ++q.generation;
    waiting.push_front(id);
    dispatch_waiting();
  }

  void fail_query(int id) {
    Query& q = queries[static_cast<std::size_t>(id)];
    --routed;
    release_kv(id);
    router.on_query_finished(q.route, q.prompt_tokens);
    ++report.queries_rejected;
    end_query(q);
    dispatch_waiting();
    next_client_query();
  }

  void end_query(Query& q) {
    q.done = true;
    ++q.generation;
  }

  // Offline: the client whose query ended sends its next one at once.
  void next_client_query() {
    if (config.mode != Mode::Offline || now > window_end) return;
    next_client_query_at(now);
  }

  // SimConfig::warm_start: queries already decoding, their KV on their routes,
  // until the ledger takes no more; the other clients wait at the door.
  void warm_fill() {
    int longest = 1;
    for (const LengthPair& p : lengths.pairs) longest = std::max(longest, p.output_tokens);
    int filled = 0;
    while (filled < clients) {
      LengthPair p = sampler->next();
      while (rng.random() * longest >= p.output_tokens) p = sampler->next();
      std::optional<sched::Route> route = router.route_prompt(p.input_tokens);
      if (!route) break;
      const int id = new_query(p.input_tokens, p.output_tokens, t_load);
      Query& q = queries[static_cast<std::size_t>(id)];
      q.route = std::move(*route);
      q.first_token = true;
      q.decodes_done = static_cast<int>(rng.randbelow(static_cast<std::uint64_t>(p.output_tokens)));
      q.route_tokens = q.decodes_done + 1;
      const int cached = q.prompt_tokens + q.route_tokens - 1;
      for (const sched::Stage& s : q.route.stages) {
        if (s.node < 0) continue;
        NodeState& n = nodes[static_cast<std::size_t>(s.node)];
        n.cached[id] = cached;
        n.blocks_free -= blocks_for(cached);
      }
      q.last_token_s = t_load + rng.random();
      ++routed;
      schedule(q.last_token_s, EventType::WarmDecode, id);
      ++filled;
    }
    for (int i = filled; i < clients; ++i) next_client_query_at(t_load);
  }

  void next_client_query_at(double t) {
    const LengthPair p = sampler->next();
    schedule(t, EventType::Arrival, new_query(p.input_tokens, p.output_tokens, t));
  }

  void on_warm_decode(int id) {
    Query& q = queries[static_cast<std::size_t>(id)];
    router.on_decode(q.route);
    send_work(id, 1, q.prompt_tokens + q.route_tokens - 1, false);
  }

  void dispatch(const Event& e) {
    switch (e.type) {
      case EventType::Arrival: on_arrival(e.arg); break;
      case EventType::WarmDecode: on_warm_decode(e.arg); break;
      case EventType::Wake: on_wake(e.arg); break;
      case EventType::Deliver: on_deliver(e.arg); break;
      case EventType::BatchDone: on_batch_done(e.arg); break;
      case EventType::KvCheck: on_kv_check(e.arg); break;
    }
  }

  // ---------------------------------------------------------------- the run

  SimReport run(const ProgressFn& progress) override {
    now = t_load;
    if (config.mode == Mode::Offline) {
      if (config.warm_start) {
        warm_fill();
      } else {
        for (int i = 0; i < clients; ++i) next_client_query_at(t_load);
      }
    } else {
      for (const QuerySpec& a : trace.queries) {
        schedule(a.arrival_s, EventType::Arrival, new_query(a.input_tokens, a.output_tokens, a.arrival_s));
      }
    }
    const double horizon = config.mode == Mode::Offline
                               ? window_end
                               : (trace.queries.empty() ? t_load : trace.queries.back().arrival_s);
    std::int64_t handled = 0;
    while (!events.empty()) {
      const Event e = events.top();
      if (config.mode == Mode::Offline && e.time >= window_end) break;
      events.pop();
      now = e.time;
      dispatch(e);
      if ((++handled & 0xFFFFF) == 0 && progress) progress(now, horizon);
    }
    if (config.mode == Mode::Offline) now = std::max(now, window_end);
    report.events = handled;
    report.end_time_s = now;
    if (progress) progress(horizon, horizon);
    return summarise();
  }

  SimReport summarise() {
    report.model_loading_end_s = t_load;
    report.window_start_s = window_start;
    report.window_end_s = window_end;
    report.max_flow_tps = setup.flow().max_flow_tps;
    summarise_samples(report);
    const double duration = window_end - window_start;
    for (int i = 0; i < sim.cluster.num_nodes(); ++i) {
      const NodeState& n = nodes[static_cast<std::size_t>(i)];
      if (n.range.empty()) continue;
      NodeReport nr;
      nr.name = sim.cluster.nodes[static_cast<std::size_t>(i)].name;
      nr.gpu = sim.cluster.gpu_of(i).name;
      nr.first_layer = n.range.start;
      nr.end_layer = n.range.end;
      nr.busy_share = n.busy_in_window / duration;
      nr.kv_capacity = sim.kv_capacity[static_cast<std::size_t>(i)];
      nr.kv_peak_share = n.blocks_total > 0 ? static_cast<double>(n.blocks_peak) / static_cast<double>(n.blocks_total) : 0;
      nr.layer_batches = n.steps * n.range.size();
      nr.decode_visits = n.decode_visits;
      nr.prompt_visits = n.prompt_visits;
      nr.mean_decode_stay_s = mean(n.decode_stay_s, n.decode_visits);
      nr.mean_prompt_stay_s = mean(n.prompt_stay_s, n.prompt_visits);
      nr.mean_decode_batch = mean(static_cast<double>(n.decode_batch_sum), n.window_steps);
      nr.prompt_batch_share = mean(static_cast<double>(n.prompt_steps), n.window_steps);
      report.nodes.push_back(nr);
    }
    for (std::size_t l = 0; l < links.size(); ++l) {
      const sched::LinkView& lv = view.links[l];
      LinkReport lr;
      lr.from = lv.from == kSource ? "coordinator" : sim.cluster.nodes[static_cast<std::size_t>(lv.from)].name;
      lr.to = lv.to == kSink ? "coordinator" : sim.cluster.nodes[static_cast<std::size_t>(lv.to)].name;
      lr.bandwidth_Bps = lv.bandwidth_Bps;
      lr.flow_tps = lv.flow_tps;
      lr.busy_share = links[l].busy_in_window / duration;
      lr.bytes_in_window = links[l].bytes_in_window;
      lr.transmissions = links[l].transmissions;
      report.links.push_back(lr);
    }
    return report;
  }
};

}  // namespace

std::unique_ptr<RuntimeModel> make_helix_runtime_model(const SimCluster& cluster, const SimConfig& config) {
  return std::make_unique<HelixRuntimeModel>(cluster, config);
}

}  // namespace helix::sim
