// The event loop and its handlers. Section numbers refer to
// helix-simulator-spec.md; the order in which a handler queues its follow-up
// events is the paper's (§3, §12), because events at equal times run in creation
// order and that order is visible in the results.
//
// A query has at most one iteration (request) in flight, so the in-flight request
// is represented by its query: `stage` says which hop of its route it is on.
#include "helix/sim/runtime_model.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>
#include <queue>

#include "helix/core/error.h"
#include "helix/sched/helix_router.h"
#include "helix/sched/hop_routers.h"
#include "helix/sched/serving_view.h"
#include "helix/sim/event_queue.h"
#include "helix/sim/serving_setup.h"

namespace helix::sim {
namespace {

using sched::kSink;
using sched::kSource;

enum class EventType : std::uint8_t {
  NewRequest,         // arg: query
  StartTransmission,  // arg: sender endpoint
  FinishSending,      // arg: transmission
  FinishTransmission, // arg: transmission
  StartExecution,     // arg: node
  FinishExecution,    // arg: node
  GatherFinished,     // arg: unused
};

struct Event {
  double time;
  std::uint64_t seq;  // creation order: the tie-breaker (§3)
  EventType type;
  int arg;
};


struct Query {
  int input = 0;
  int output = 0;
  int decodes_done = 0;
  bool prompt = true;        // the in-flight iteration is the prompt
  sched::Route route;        // baselines: grows hop by hop while the prompt travels
  std::size_t stage = 0;     // hop of the route the request is on (or waits to take)
  double issue_s = 0;        // when the in-flight iteration was issued
  double link_enter_s = 0;   // Swarm: when it was sent on its current link
  bool reported = true;      // Swarm: its last hop's delay has been fed back
  double hop_enter_s = 0;    // when it joined the current node's queue or outbound list
  int tokens() const { return prompt ? input : 1; }
};

struct NodeState {
  LayerRange range;
  const LayerTimeTable* prompt_time = nullptr;
  const LayerTimeTable* decode_time = nullptr;
  InferenceLimits limits;
  std::vector<std::vector<int>> queues;  // queues[o] feeds layer range.start + o (§6.1)
  int current = 0;                       // offset of the layer the walk is on (§6.2)
  bool busy = false;
  std::vector<int> batch;
  double batch_start_s = 0;
  long long cpu_buffer = 0;  // tokens received since the last first-layer batch (§5.1)
  double nic_in_avail = 0, nic_out_avail = 0;
  double kv_used = 0, kv_capacity = 0, kv_peak = 0;
  double busy_in_window = 0;
  std::int64_t layer_batches = 0;
  std::vector<int> outbound;  // queries waiting to leave, in arrival order
  // Where time goes, for iterations that leave the node inside the window.
  std::int64_t decode_visits = 0, prompt_visits = 0;
  std::int64_t window_layer_batches = 0, decode_batch_sum = 0, prompt_batches = 0;
  double decode_stay_s = 0, prompt_stay_s = 0;
};

struct LinkState {
  double bandwidth = 0, latency = 0, avail = 0;
  double bytes_per_token = 0;
  int sending = 0;
  double busy_in_window = 0, bytes_in_window = 0;
  std::int64_t transmissions = 0;
  // Iterations delivered inside the window: time from joining the sender's
  // outbound list to delivery (waiting for the link, sending, latency).
  std::int64_t decode_hops = 0;
  double decode_hop_s = 0;
  // Helix: requests waiting at the sender for this link, in the order they came
  // (a global arrival number, the sender's outbound-dict order, first).
  std::deque<std::pair<std::uint64_t, int>> waiting;
};

struct Transmission {
  int query = -1;
  int link = -1;
  double bandwidth = 0;
  double start_s = 0;
  double bytes = 0;
};

double mean(double sum, std::int64_t count) { return count > 0 ? sum / static_cast<double>(count) : 0.0; }

double overlap(double a0, double a1, double b0, double b1) {
  return std::max(0.0, std::min(a1, b1) - std::max(a0, b0));
}

struct PaperModel final : RuntimeModel {
  // ---- inputs and routing state ----
  const SimCluster& sim;
  SimConfig config;
  ServingSetup setup;
  const FlowSolution& flow;
  const sched::ServingView& view;
  std::optional<sched::HelixRouter> helix;
  std::optional<sched::SwarmRouter> swarm;
  PythonRandom rng;  // lengths and random routing share one stream, as upstream
  std::optional<sched::RandomRouter> random;
  std::optional<sched::ShortestQueueRouter> shortest;
  LengthDataset lengths;
  std::optional<LengthSampler> sampler;
  Trace trace;
  double t_load = 0, window_start = 0, window_end = 0, offline_end = 0;

  // ---- simulation state ----
  double now = 0;
  std::uint64_t next_seq = 0;
  EventQueue<Event> events;
  std::vector<Query> queries;
  std::vector<NodeState> nodes;
  std::vector<LinkState> links;
  std::vector<Transmission> transmissions;
  std::vector<int> free_transmissions;
  std::vector<int> source_outbound;
  double source_out_avail = 0, sink_in_avail = 0;
  std::vector<int> sink_inbound;
  std::deque<int> deferred;  // online: prompts waiting for room (Helix)
  std::vector<char> taken;  // per link: sent on in the current baseline pass (only the sender's links are ever set)
  std::vector<int> scratch_idle, scratch_keep, first_layer_queue;
  std::vector<std::pair<std::uint64_t, int>> scratch_heads;
  std::vector<int> waiting_at;      // Helix: requests waiting to leave, per sender (kSource last)
  std::uint64_t next_waiting = 0;  // arrival numbers of waiting requests
  SimReport report;

  PaperModel(const SimCluster& s, const SimConfig& c)
      : sim(s), config(c), setup(s, c.scheduler == SchedulerKind::Helix), flow(setup.flow()), view(setup.view()),
        rng(c.seed) {
    config.validate();
    build_routing();
    build_state();
    lengths = length_dataset(config.lengths);
    sampler.emplace(lengths, rng);
    t_load = sim::model_loading_end_s(sim);
    window_start = t_load + config.effective_warm_up_s();
    window_end = window_start + config.effective_duration_s();
    offline_end = window_end;
    if (config.mode == Mode::Online) load_trace();
  }

  // ---------------------------------------------------------------- setup

  const GpuProfile& profile(int node) const { return setup.profile(node); }
  InferenceLimits limits(int node) const { return setup.limits(node); }

  void build_routing() {
    switch (config.scheduler) {
      case SchedulerKind::Helix: helix.emplace(view, sched::HelixRouterOptions{config.effective_kv(), 0.05}); break;
      case SchedulerKind::Swarm: swarm.emplace(view, config.swarm); break;
      case SchedulerKind::Random: random.emplace(rng); break;
      case SchedulerKind::ShortestQueue: shortest.emplace(view, rng); break;
    }
  }

  void build_state() {
    const double token = sim.model.token_size_bytes;
    const double act = sim.model.activation_bytes_per_token;
    for (int i = 0; i < sim.cluster.num_nodes(); ++i) {
      NodeState n;
      n.range = sim.ranges[static_cast<std::size_t>(i)];
      n.prompt_time = &profile(i).prompt;
      n.decode_time = &profile(i).decode;
      n.limits = limits(i);
      n.queues.resize(static_cast<std::size_t>(std::max(0, n.range.size())));
      n.nic_in_avail = sim.cluster.gpu_of(i).nic_in_Bps;
      n.nic_out_avail = sim.cluster.gpu_of(i).nic_out_Bps;
      n.kv_capacity = sim.kv_capacity[static_cast<std::size_t>(i)];
      nodes.push_back(std::move(n));
    }
    for (const sched::LinkView& l : view.links) {
      LinkState s;
      s.bandwidth = s.avail = l.bandwidth_Bps;
      s.latency = l.latency_s;
      // §4: token ids to and from the coordinator, token + activation between nodes.
      s.bytes_per_token = (l.from == kSource || l.to == kSink) ? token : token + act;
      links.push_back(s);
    }
    taken.assign(links.size(), 0);
    waiting_at.assign(nodes.size() + 1, 0);
    first_layer_queue.assign(nodes.size(), 0);
    source_out_avail = sim.cluster.coordinator.nic_out_Bps;
    sink_in_avail = sim.cluster.coordinator.nic_in_Bps;
  }

  void load_trace() {
    const OnlineWorkload& w = config.online;
    const double duration = config.effective_duration_s();
    switch (w.source) {
      case OnlineWorkload::Source::File: trace = sim::load_trace(w.trace_file); break;
      case OnlineWorkload::Source::PaperTrace:
        trace = generate_paper_trace(lengths, arrival_pattern(w.arrival_pattern), w.avg_throughput_tps,
                                     t_load, duration, config.seed);
        break;
      case OnlineWorkload::Source::Poisson:
        trace = generate_poisson_trace(lengths, w.avg_throughput_tps, t_load, duration, config.seed);
        break;
    }
    report.offered_tps = trace.offered_tps(duration);
  }

  // ---------------------------------------------------------------- events

  bool in_window(double t) const { return t >= window_start && t <= window_end; }

  void schedule(double time, EventType type, int arg) { events.push(Event{time, next_seq++, type, arg}, now); }

  int create_query(int input, int output, double issue_s) {
    Query q;
    q.input = input;
    q.output = output;
    q.issue_s = issue_s;
    queries.push_back(std::move(q));
    ++report.queries_created;
    const int id = static_cast<int>(queries.size()) - 1;
    schedule(issue_s, EventType::NewRequest, id);
    return id;
  }

  int create_sampled_query(double issue_s) {
    const LengthPair p = sampler->next();
    return create_query(p.input_tokens, p.output_tokens, issue_s);
  }

  std::vector<int>& outbound(int sender) {
    return sender == kSource ? source_outbound : nodes[static_cast<std::size_t>(sender)].outbound;
  }

  int& waiting(int sender) { return waiting_at[sender == kSource ? nodes.size() : static_cast<std::size_t>(sender)]; }

  // A request joins its sender's outbound dict. With the Helix scheduler, whose
  // routes fix every hop, it is kept in the queue of its next link instead: the
  // pass below then looks at one head per link rather than at every request.
  void enqueue_outbound(int sender, int id) {
    if (!helix) {
      outbound(sender).push_back(id);
      return;
    }
    const Query& q = queries[static_cast<std::size_t>(id)];
    links[static_cast<std::size_t>(q.route.stages[q.stage].link)].waiting.emplace_back(next_waiting++, id);
    ++waiting(sender);
  }

  bool has_outbound(int sender) { return helix ? waiting(sender) > 0 : !outbound(sender).empty(); }

  // CommandNewRequest (§3): route a prompt (Helix) and hand it to the source.
  void on_new_request(int id) {
    Query& q = queries[static_cast<std::size_t>(id)];
    q.stage = 0;
    q.reported = true;
    if (helix) {
      if (q.prompt) {
        std::optional<sched::Route> route = helix->route_prompt(q.input);
        if (!route) {
          if (config.mode == Mode::Offline) {
            ++report.queries_rejected;  // dropped, as upstream; the feeder refills later
          } else {
            deferred.push_back(id);  // upstream asserts here; helix waits for room instead
            ++report.queries_deferred;
          }
          return;
        }
        q.route = std::move(*route);
      } else {
        helix->on_decode(q.route);
      }
    } else if (q.prompt) {
      q.route.stages.clear();  // the baselines choose hop by hop
    }
    q.hop_enter_s = now;
    enqueue_outbound(kSource, id);
    schedule(now, EventType::StartTransmission, kSource);
  }

  // ---- transmission (§4, §7) ----

  double& out_avail(int sender) {
    return sender == kSource ? source_out_avail : nodes[static_cast<std::size_t>(sender)].nic_out_avail;
  }
  double& in_avail(int receiver) {
    return receiver == kSink ? sink_in_avail : nodes[static_cast<std::size_t>(receiver)].nic_in_avail;
  }
  double out_nic(int sender) const { return view.out_nic_Bps(sender); }

  void send(int id, int link_index, double bw) {
    Query& q = queries[static_cast<std::size_t>(id)];
    LinkState& link = links[static_cast<std::size_t>(link_index)];
    const sched::LinkView& lv = view.links[static_cast<std::size_t>(link_index)];
    const double bytes = q.tokens() * link.bytes_per_token;
    out_avail(lv.from) -= bw;
    link.avail -= bw;
    in_avail(lv.to) -= bw;
    ++link.sending;
    ++link.transmissions;
    int t;
    if (!free_transmissions.empty()) {
      t = free_transmissions.back();
      free_transmissions.pop_back();
    } else {
      t = static_cast<int>(transmissions.size());
      transmissions.emplace_back();
    }
    transmissions[static_cast<std::size_t>(t)] = Transmission{id, link_index, bw, now, bytes};
    taken[static_cast<std::size_t>(link_index)] = 1;
    q.reported = false;
    q.link_enter_s = now;  // Swarm's delay clock: transmission + queueing + compute at the next node
    schedule(now + bytes / bw, EventType::FinishSending, t);
  }

  // Helix: each request has its reserved share; one transmission per link in its
  // sending phase, FIFO per link (§7.1 "Transmission"). The paper walks the
  // outbound dict in order and sends the first request it sees for each idle
  // link: that is each idle link's queue head, taken in the order they came.
  void transmit_helix(int sender) {
    scratch_heads.clear();
    for (int l : view.outbound(sender)) {
      const LinkState& link = links[static_cast<std::size_t>(l)];
      if (link.sending == 0 && !link.waiting.empty()) scratch_heads.emplace_back(link.waiting.front().first, l);
    }
    std::sort(scratch_heads.begin(), scratch_heads.end());
    for (const auto& [order, l] : scratch_heads) {
      LinkState& link = links[static_cast<std::size_t>(l)];
      const int id = link.waiting.front().second;
      const Query& q = queries[static_cast<std::size_t>(id)];
      const sched::Stage& stage = q.route.stages[q.stage];
      const sched::LinkView& lv = view.links[static_cast<std::size_t>(l)];
      // The shares add up to at most each NIC, so this min only guards rounding.
      const double bw = std::min({std::floor(stage.bandwidth_Bps), out_avail(sender), link.avail, in_avail(lv.to)});
      if (bw > 0) {
        link.waiting.pop_front();
        --waiting(sender);
        send(id, l, bw);
      }
    }
  }

  // Baselines' idle-link rule (§7.2): the link's fair share of the sender's NIC
  // minus what it already carries, bounded by what is free end to end.
  double idle_bandwidth(int sender, int link_index) {
    const LinkState& link = links[static_cast<std::size_t>(link_index)];
    const sched::LinkView& lv = view.links[static_cast<std::size_t>(link_index)];
    const double share = out_nic(sender) / static_cast<double>(view.outbound(sender).size()) -
                         (link.bandwidth - link.avail);
    return std::min(share, std::min({out_avail(sender), link.avail, in_avail(lv.to)}));
  }

  void feed_back_swarm(int sender, std::vector<int>& retrigger) {
    for (int id : outbound(sender)) {
      Query& q = queries[static_cast<std::size_t>(id)];
      if (q.reported || q.stage == 0) continue;
      const int prev = q.route.stages[q.stage - 1].link;
      swarm->report(prev, now - q.link_enter_s);
      q.reported = true;
      const int prev_sender = view.links[static_cast<std::size_t>(prev)].from;
      if (std::find(retrigger.begin(), retrigger.end(), prev_sender) == retrigger.end()) {
        retrigger.push_back(prev_sender);
      }
    }
  }

  // The next link of a prompt that has no route past here yet (baselines), or -1.
  int choose_hop(int sender, Query& q) {
    int link = -1;
    if (swarm) {
      link = swarm->choose_link(sender);
    } else if (random) {
      link = random->choose_link(scratch_idle, taken);
    } else {
      link = shortest->choose_link(sender, first_layer_queue, scratch_idle, taken);
    }
    if (link < 0) return -1;
    const int next = view.links[static_cast<std::size_t>(link)].to;
    q.route.stages.push_back(sched::Stage{link, next, sched::layers_to_infer(view, sender, next), 0});
    return link;
  }


  void transmit_baseline(int sender) {
    std::vector<int> retrigger;
    if (swarm && sender != kSource) feed_back_swarm(sender, retrigger);
    scratch_idle.clear();
    for (int l : view.outbound(sender)) {
      taken[static_cast<std::size_t>(l)] = 0;
      if (idle_bandwidth(sender, l) > 10) scratch_idle.push_back(l);
    }
    if (shortest) {  // queues do not change during a pass: read them once
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        first_layer_queue[i] = nodes[i].queues.empty() ? 0 : static_cast<int>(nodes[i].queues[0].size());
      }
    }
    std::vector<int>& list = outbound(sender);
    scratch_keep.clear();
    for (int id : list) {
      Query& q = queries[static_cast<std::size_t>(id)];
      int link;
      if (q.stage >= q.route.stages.size()) {
        link = choose_hop(sender, q);
        if (link < 0) {
          scratch_keep.push_back(id);
          continue;
        }
      } else {
        link = q.route.stages[q.stage].link;  // decodes, and prompts whose hop is chosen but not sent
      }
      const bool idle = std::find(scratch_idle.begin(), scratch_idle.end(), link) != scratch_idle.end();
      const double bw = idle && !taken[static_cast<std::size_t>(link)] ? idle_bandwidth(sender, link) : 0;
      if (bw > 10) {
        send(id, link, bw);
      } else {
        scratch_keep.push_back(id);
      }
    }
    list.swap(scratch_keep);
    for (int s : retrigger) schedule(now, EventType::StartTransmission, s);
  }

  void on_start_transmission(int sender) {
    if (!has_outbound(sender)) return;
    if (helix) {
      transmit_helix(sender);
    } else {
      transmit_baseline(sender);
    }
  }

  void on_finish_sending(int t) {
    const Transmission tr = transmissions[static_cast<std::size_t>(t)];
    LinkState& link = links[static_cast<std::size_t>(tr.link)];
    const sched::LinkView& lv = view.links[static_cast<std::size_t>(tr.link)];
    out_avail(lv.from) += tr.bandwidth;
    link.avail += tr.bandwidth;
    in_avail(lv.to) += tr.bandwidth;
    --link.sending;
    const double busy = overlap(tr.start_s, now, window_start, window_end);
    link.busy_in_window += busy;
    if (now > tr.start_s) link.bytes_in_window += tr.bytes * busy / (now - tr.start_s);
    schedule(now, EventType::StartTransmission, lv.from);
    schedule(now + link.latency, EventType::FinishTransmission, t);
  }

  void on_finish_transmission(int t) {
    const Transmission tr = transmissions[static_cast<std::size_t>(t)];
    free_transmissions.push_back(t);
    Query& q = queries[static_cast<std::size_t>(tr.query)];
    const int receiver = view.links[static_cast<std::size_t>(tr.link)].to;
    if (!q.prompt && in_window(now)) {
      LinkState& link = links[static_cast<std::size_t>(tr.link)];
      ++link.decode_hops;
      link.decode_hop_s += now - q.hop_enter_s;
    }
    q.hop_enter_s = now;
    if (receiver == kSink) {
      sink_inbound.push_back(tr.query);
      schedule(now, EventType::GatherFinished, 0);
      return;
    }
    NodeState& n = nodes[static_cast<std::size_t>(receiver)];
    const LayerRange& layers = q.route.stages[q.stage].layers;
    // §6.1: into the queue before the first layer it runs here (mid-node with partial inference).
    n.queues[static_cast<std::size_t>(layers.start - n.range.start)].push_back(tr.query);
    n.cpu_buffer += q.tokens();
    schedule(now, EventType::StartExecution, receiver);
  }

  // ---- execution (§5, §6) ----

  // §6.2: move to the next layer (cyclically after the current one) with work.
  static void march(NodeState& n) {
    const int k = n.range.size();
    for (int i = 1; i <= k; ++i) {
      const int o = (n.current + i) % k;
      if (!n.queues[static_cast<std::size_t>(o)].empty()) {
        n.current = o;
        return;
      }
    }
  }

  // §6.3: greedy FIFO admission without head-of-line blocking.
  void form_batch(NodeState& n, double* seconds) {
    std::vector<int>& queue = n.queues[static_cast<std::size_t>(n.current)];
    int prompts = 0, decodes = 0;
    long long prompt_tokens = 0, context = 0;
    scratch_keep.clear();
    for (int id : queue) {
      const Query& q = queries[static_cast<std::size_t>(id)];
      bool take;
      if (q.prompt) {
        take = prompts + 1 <= n.limits.prompt_max_requests && prompt_tokens + q.input <= n.limits.prompt_max_tokens;
        if (take) ++prompts, prompt_tokens += q.input;
      } else {
        const long long prev = q.input + q.decodes_done;
        take = decodes + 1 <= n.limits.decode_max_tokens && context + prev <= n.limits.decode_max_context;
        if (take) ++decodes, context += prev;
      }
      (take ? n.batch : scratch_keep).push_back(id);
    }
    queue.swap(scratch_keep);
    if (n.batch.empty()) return;
    // §5.1: the ×2 fixes the missing decode-table row for a single sequence.
    if (in_window(now)) {
      n.decode_batch_sum += decodes;
      n.prompt_batches += prompts > 0 ? 1 : 0;
      ++n.window_layer_batches;
    }
    *seconds = n.prompt_time->at(static_cast<int>(prompt_tokens)) +
               n.decode_time->at(decodes) * (decodes == 1 ? 2 : 1);
  }

  void on_start_execution(int node) {
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    if (n.busy) return;
    if (n.queues[static_cast<std::size_t>(n.current)].empty()) march(n);
    if (n.queues[static_cast<std::size_t>(n.current)].empty()) return;
    double seconds = 0;
    form_batch(n, &seconds);
    if (n.batch.empty()) return;
    if (n.current == 0) {  // §5.1: concatenating what arrived, once per pass
      const double act = sim.model.activation_bytes_per_token;
      const double tokens = static_cast<double>(n.cpu_buffer);
      seconds += tokens * act / 4e9 + tokens * act / 5e9;
      n.cpu_buffer = 0;
    }
    n.busy = true;
    n.batch_start_s = now;
    ++n.layer_batches;
    schedule(now + seconds, EventType::FinishExecution, node);
  }

  void on_finish_execution(int node) {
    NodeState& n = nodes[static_cast<std::size_t>(node)];
    n.busy = false;
    n.busy_in_window += overlap(n.batch_start_s, now, window_start, window_end);
    const bool last = n.current == n.range.size() - 1;
    bool overflow = false;
    for (int id : n.batch) {
      Query& q = queries[static_cast<std::size_t>(id)];
      n.kv_used += q.prompt ? q.input : 1;  // §6.4: KV of this layer
      overflow = overflow || n.kv_used > n.kv_capacity;
      if (last) {
        if (in_window(now)) {
          (q.prompt ? n.prompt_visits : n.decode_visits) += 1;
          (q.prompt ? n.prompt_stay_s : n.decode_stay_s) += now - q.hop_enter_s;
        }
        q.hop_enter_s = now;
        ++q.stage;
        enqueue_outbound(node, id);
      } else {
        n.queues[static_cast<std::size_t>(n.current + 1)].push_back(id);
      }
    }
    if (overflow) ++report.kv_overflows;
    n.kv_peak = std::max(n.kv_peak, n.kv_used);
    n.batch.clear();
    march(n);
    if (last) schedule(now, EventType::StartTransmission, node);
    schedule(now, EventType::StartExecution, node);
  }

  // ---- coordinator (§3 GatherFinished, §9) ----

  void record_finished(const Query& q) {
    FinishedSamples& s = report.samples;
    const double latency = now - q.issue_s;
    if (q.prompt) {
      s.prompt_finish_s.push_back(now);
      s.prompt_latency_s.push_back(latency);
      s.prompt_tokens.push_back(q.input);
    } else {
      s.decode_finish_s.push_back(now);
      s.decode_latency_s.push_back(latency);
    }
  }

  void finish_query(Query& q) {
    for (const sched::Stage& stage : q.route.stages) {
      if (stage.node < 0) continue;
      nodes[static_cast<std::size_t>(stage.node)].kv_used -=
          static_cast<double>(stage.layers.size()) * (q.input + q.output);
    }
    if (helix) helix->on_query_finished(q.route, q.input);
    ++report.queries_finished;
  }

  void retry_deferred() {
    // Upstream crashes where helix defers; retry in arrival order when room frees.
    std::deque<int> waiting;
    waiting.swap(deferred);
    for (int id : waiting) schedule(now, EventType::NewRequest, id);
  }

  void on_gather() {
    for (int id : sink_inbound) {
      Query& q = queries[static_cast<std::size_t>(id)];
      record_finished(q);
      const bool was_prompt = q.prompt;
      bool query_done = false;
      if (q.prompt) {
        q.prompt = false;
      } else {
        ++q.decodes_done;
      }
      if (q.decodes_done < q.output) {
        q.issue_s = now;
        schedule(now, EventType::NewRequest, id);  // the next iteration, zero think time
      } else {
        finish_query(q);
        query_done = true;
        if (!deferred.empty()) retry_deferred();
      }
      feed_offline(was_prompt, query_done);
    }
    sink_inbound.clear();
  }

  // §9.2: the closed loop. Helix admits while the KV ledger has room; the
  // baselines keep a constant population.
  void feed_offline(bool was_prompt, bool query_done) {
    if (config.mode != Mode::Offline || now > offline_end) return;
    if (!was_prompt && !query_done) return;
    if (helix) {
      if (helix->kv().bottleneck_usage() <= config.feed_hwm) create_sampled_query(now + 0.1);
    } else if (query_done) {
      create_sampled_query(now + 0.1);
    }
  }

  // SimConfig::warm_start: the cluster as it looks once running. Queries in flight
  // are drawn in proportion to their output length (a query stays in the system
  // about output x time per token), each part-way through its decodes, with its
  // real KV and its ledger charge in place, until the feeder would stop admitting.
  void warm_fill() {
    int longest = 1;
    for (const LengthPair& p : lengths.pairs) longest = std::max(longest, p.output_tokens);
    while (helix->kv().bottleneck_usage() <= config.feed_hwm) {
      LengthPair p = sampler->next();
      while (rng.random() * longest >= p.output_tokens) p = sampler->next();
      std::optional<sched::Route> route = helix->route_prompt(p.input_tokens);
      if (!route) break;
      Query q;
      q.input = p.input_tokens;
      q.output = p.output_tokens;
      q.prompt = false;
      q.decodes_done = static_cast<int>(rng.randbelow(static_cast<std::uint64_t>(p.output_tokens)));
      q.route = std::move(*route);
      for (const sched::Stage& stage : q.route.stages) {
        if (stage.node < 0) continue;
        NodeState& n = nodes[static_cast<std::size_t>(stage.node)];
        n.kv_used += static_cast<double>(stage.layers.size()) * (q.input + q.decodes_done);
        n.kv_peak = std::max(n.kv_peak, n.kv_used);
      }
      q.issue_s = t_load + rng.random();
      queries.push_back(std::move(q));
      ++report.queries_created;
      schedule(queries.back().issue_s, EventType::NewRequest, static_cast<int>(queries.size()) - 1);
    }
  }

  void dispatch(const Event& e) {
    switch (e.type) {
      case EventType::NewRequest: on_new_request(e.arg); break;
      case EventType::StartTransmission: on_start_transmission(e.arg); break;
      case EventType::FinishSending: on_finish_sending(e.arg); break;
      case EventType::FinishTransmission: on_finish_transmission(e.arg); break;
      case EventType::StartExecution: on_start_execution(e.arg); break;
      case EventType::FinishExecution: on_finish_execution(e.arg); break;
      case EventType::GatherFinished: on_gather(); break;
    }
  }

  // ---------------------------------------------------------------- the run

  double max_flow_tps() const override { return flow.max_flow_tps; }
  double model_loading_end_s() const override { return t_load; }

  SimReport run(const ProgressFn& progress) override {
    now = t_load;
    std::size_t next_arrival = 0;
    if (config.mode == Mode::Offline && config.warm_start) {
      warm_fill();
    } else if (config.mode == Mode::Offline) {
      for (int i = 0; i < config.initial_queries; ++i) create_sampled_query(t_load + 0.1 * i);
    }
    const double horizon = config.mode == Mode::Offline
                               ? offline_end
                               : (trace.queries.empty() ? t_load : trace.queries.back().arrival_s);
    std::int64_t handled = 0;
    while (true) {
      // Online: a query is issued once every earlier event has run (the paper's
      // feeder simulates up to each arrival, then issues it).
      if (next_arrival < trace.queries.size() &&
          (events.empty() || events.top().time >= trace.queries[next_arrival].arrival_s)) {
        const QuerySpec& a = trace.queries[next_arrival++];
        now = std::max(now, a.arrival_s);
        create_query(a.input_tokens, a.output_tokens, a.arrival_s);
        continue;
      }
      if (events.empty()) break;
      const Event e = events.top();
      if (config.mode == Mode::Offline && e.time >= offline_end) break;
      events.pop();
      now = e.time;
      dispatch(e);
      if ((++handled & 0xFFFFF) == 0 && progress) progress(now, horizon);
    }
    if (config.mode == Mode::Offline) now = std::max(now, offline_end);
    report.queries_rejected += static_cast<std::int64_t>(deferred.size());  // never found room
    report.events = handled;
    report.end_time_s = now;
    if (progress) progress(horizon, horizon);
    return summarise();
  }

  SimReport summarise() {
    report.model_loading_end_s = t_load;
    report.window_start_s = window_start;
    report.window_end_s = window_end;
    report.max_flow_tps = flow.max_flow_tps;
    summarise_samples(report);
    summarise_resources(window_end - window_start);
    return report;
  }

  void summarise_resources(double duration) {
    for (int i = 0; i < sim.cluster.num_nodes(); ++i) {
      const NodeState& n = nodes[static_cast<std::size_t>(i)];
      if (n.range.empty()) continue;
      NodeReport nr;
      nr.name = sim.cluster.nodes[static_cast<std::size_t>(i)].name;
      nr.gpu = sim.cluster.gpu_of(i).name;
      nr.first_layer = n.range.start;
      nr.end_layer = n.range.end;
      nr.busy_share = n.busy_in_window / duration;
      nr.kv_capacity = n.kv_capacity;
      nr.kv_peak_share = n.kv_capacity > 0 ? n.kv_peak / n.kv_capacity : 0;
      nr.layer_batches = n.layer_batches;
      nr.decode_visits = n.decode_visits;
      nr.prompt_visits = n.prompt_visits;
      nr.mean_decode_stay_s = mean(n.decode_stay_s, n.decode_visits);
      nr.mean_prompt_stay_s = mean(n.prompt_stay_s, n.prompt_visits);
      nr.mean_decode_batch = mean(static_cast<double>(n.decode_batch_sum), n.window_layer_batches);
      nr.prompt_batch_share = mean(static_cast<double>(n.prompt_batches), n.window_layer_batches);
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
      lr.decode_hops = links[l].decode_hops;
      lr.mean_decode_hop_s = mean(links[l].decode_hop_s, links[l].decode_hops);
      report.links.push_back(lr);
    }
  }
};

}  // namespace

std::unique_ptr<RuntimeModel> make_paper_model(const SimCluster& cluster, const SimConfig& config) {
  return std::make_unique<PaperModel>(cluster, config);
}

}  // namespace helix::sim
