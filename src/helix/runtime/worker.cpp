#include "helix/runtime/worker.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <deque>
#include <map>
#include <span>
#include <thread>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "helix/engine/model_files.h"
#include "helix/engine/stage.h"
#include "helix/runtime/activation_codec.h"
#include "helix/runtime/stage_executor.h"
#include "helix/runtime/transport.h"
#include "helix/security/curve_auth.h"

namespace helix::runtime {

std::map<std::string, double> shared_gpu_shares(const std::vector<PlacedWorker>& workers) {
  std::map<std::string, std::vector<const PlacedWorker*>> by_gpu;  // cuda:N -> its workers
  for (const PlacedWorker& w : workers) {
    if (w.device.cuda) by_gpu[w.device.name()].push_back(&w);
  }
  std::map<std::string, double> shares;
  for (const auto& [gpu, placed] : by_gpu) {
    if (placed.size() < 2) continue;
    double bytes = 0;
    for (const PlacedWorker* w : placed) bytes += std::max(w->weight_bytes, 0.0);
    for (const PlacedWorker* w : placed) {
      // Weights not known (all 0): equal parts.
      shares[w->name] = bytes > 0 ? kServingMemoryShare * std::max(w->weight_bytes, 0.0) / bytes
                                  : kServingMemoryShare / static_cast<double>(placed.size());
    }
  }
  return shares;
}

KvCacheOptions stage_kv_options(const KvCacheOptions& own, std::int64_t assigned_tokens, const DeviceName& device) {
  KvCacheOptions kv = own;
  if (kv.capacity_tokens > 0 || kv.capacity_bytes > 0 || kv.memory_share > 0) return kv;
  if (assigned_tokens > 0) {
    kv.capacity_tokens = assigned_tokens;
  } else if (device.cuda) {
    kv.memory_share = kServingMemoryShare;  // a GPU serves from the memory it has, as vLLM does
  }
  return default_kv_options(kv);  // the CPU: the engines' default
}
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// zmq::poll throws on EINTR (Ctrl-C, SIGTERM): that is a wake-up, not an error.
void poll_ignoring_signals(zmq::pollitem_t* items, std::size_t n, int timeout_ms) {
  try {
    zmq::poll(items, n, std::chrono::milliseconds(timeout_ms));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
}

// One received chunk waiting to run. `frame` owns the bytes the chunk reads.
struct Pending {
  Work work;
  std::shared_ptr<zmq::message_t> frame;
  std::size_t offset = 0;  // bytes into the frame where this chunk's input starts
};

class WorkerLoop {
 public:
  WorkerLoop(const WorkerOptions& o, const std::atomic<bool>& stop)
      : options_(o), stop_(stop), control_(context_, zmq::socket_type::dealer), data_(context_, zmq::socket_type::pull) {
    if (options_.keys) {
      // Before the data socket binds: only the coordinator, and the peers it names, get in.
      auth_ = std::make_unique<security::Authenticator>(context_, trusted({}));
      security::make_curve_server(data_, *options_.keys);
    }
    configure_control();
    data_.set(zmq::sockopt::linger, 0);
    data_.set(zmq::sockopt::rcvhwm, 0);  // accepted work is never dropped
    data_endpoint_ = bind_endpoint(data_, "tcp://" + options_.listen_host + ":0");
  }

  void run() {
    join(false);
    if (shutdown_) return;
    // Heartbeats come from their own thread, so that a long step (a big prefill
    // on a CPU, a slowed-down or emulated batch) does not look like a dead worker.
    looping_ = true;
    std::thread beat([this] { heartbeats(); });
    // However the loop ends (also by an exception), stop and join the heartbeat thread.
    struct JoinBeat {
      std::atomic<bool>& looping;
      std::thread& thread;
      ~JoinBeat() {
        looping = false;
        if (thread.joinable()) thread.join();
      }
    } join_beat{looping_, beat};
    bool ran = true;
    last_word_ = Clock::now();
    while (!stop_ && !shutdown_) {
      // The coordinator answers every heartbeat: silence means it is gone. Its
      // requests are gone with it; the layers stay loaded for the next one. The
      // answers that came during a long step wait unread on the socket: read them
      // before calling the coordinator silent.
      if (seconds_since(last_word_) > std::min(kCoordinatorSilenceS, options_.coordinator_timeout_s) && !read_control()) {
        spdlog::warn("worker {}: no word from the coordinator for {} s: dropping its requests, keeping layers [{}, {}), "
                     "re-joining", options_.node, kCoordinatorSilenceS, assign_.layers.start, assign_.layers.end);
        joined_ = false;
        forget_requests();
        reconnect_control();
        join(true);
        last_word_ = Clock::now();
        continue;
      }
      // Nothing runnable (all waiting for KV): poll briefly instead of spinning.
      const bool idle = pending_.empty();
      poll(idle ? 100 : (ran ? 0 : 10));
      if (idle && !pending_.empty()) gather();
      ran = !pending_.empty() && step();
      pending_size_ = pending_.size();
      kv_used_ = executor_ ? executor_->kv_used_tokens() : 0;
    }
    spdlog::info("worker {}: stopping; sent {} hidden-state messages in f16, {} in f32", options_.node, sent_f16_,
                 sent_f32_);
  }

 private:
  static constexpr double kCoordinatorSilenceS = 3;  // its heartbeat answers come every 0.5 s

  // ---- joining ----

  // Hello, then wait for the Assign. A first join gives up on a refusal; a
  // re-join (the coordinator was lost) tries again every second, until the
  // coordinator has been silent for coordinator_timeout_s in all.
  void join(bool rejoin) {
    const double timeout = rejoin ? options_.coordinator_timeout_s : options_.join_timeout_s;
    const auto start = Clock::now();
    auto hello = [&] {
      send_control(Hello{options_.node, options_.engine, options_.gpu, data_endpoint_,
                         executor_ ? assign_.layers : LayerRange{}});
    };
    hello();
    auto last_hello = Clock::now();
    while (!stop_) {
      if (seconds_since(start) > timeout) {
        if (rejoin) {
          fail("worker {}: no word from the coordinator at {} for {} s: it is gone", options_.node, options_.coordinator,
               options_.coordinator_timeout_s + kCoordinatorSilenceS);
        }
        fail("worker {}: no answer from the coordinator at {} within {} s", options_.node, options_.coordinator,
             options_.join_timeout_s);
      }
      zmq::pollitem_t items[] = {{control_.handle(), 0, ZMQ_POLLIN, 0}};
      poll_ignoring_signals(items, 1, 100);
      std::optional<Envelope> e;
      try {
        std::lock_guard<std::mutex> lock(control_mutex_);
        e = try_receive(control_, false);
      } catch (const WireError& err) {
        fail("worker {}: the coordinator sent a corrupt message: {}", options_.node, err.what());
      }
      if (!e) continue;
      if (auto* refuse = std::get_if<Refuse>(&e->message)) {
        if (!rejoin) fail("worker {}: the coordinator refused to admit it: {}", options_.node, refuse->reason);
        spdlog::warn("worker {}: the coordinator refused it for now: {}", options_.node, refuse->reason);
        if (seconds_since(last_hello) < 1) std::this_thread::sleep_for(std::chrono::seconds(1));
        hello();
        last_hello = Clock::now();
        continue;
      }
      if (std::holds_alternative<Shutdown>(e->message)) {
        shutdown_ = true;
        return;
      }
      if (auto* a = std::get_if<Assign>(&e->message)) {
        apply_assign(*a);
        return;
      }
    }
    fail("worker {}: stopped before joining", options_.node);
  }

  // Layers (loaded only when they change), KV and peers as the coordinator says.
  void apply_assign(const Assign& a) {
    const bool keep = executor_ && a.layers == assign_.layers && a.emulated == assign_.emulated && a.device == assign_.device;
    if (!keep) {
      forget_requests();
      executor_.reset();
    }
    const std::map<int, std::string> old_endpoints = peer_endpoints_;
    assign_ = a;
    if (!keep && !a.layers.empty()) load();
    slowdown_ = std::max(options_.slowdown, assign_.slowdown);
    peer_endpoints_.clear();
    for (const Peer& p : assign_.peers) {
      peer_endpoints_[p.node] = p.data_endpoint;
      peer_keys_[p.node] = p.public_key;
    }
    if (auth_) auth_->set_trusted(trusted(assign_.peers));
    // Reconnect to peers that moved; forget those that left.
    std::erase_if(peers_, [&](const auto& entry) {
      auto now = peer_endpoints_.find(entry.first);
      auto before = old_endpoints.find(entry.first);
      return now == peer_endpoints_.end() || before == old_endpoints.end() || now->second != before->second;
    });
    kv_capacity_ = executor_ ? executor_->kv_capacity_tokens() : 0;
    spdlog::info("worker {}: node {} layers [{}, {}) {}{}, data at {}", options_.node, assign_.node, assign_.layers.start,
                 assign_.layers.end, keep ? "kept" : (executor_ ? "loaded" : "released"), where_and_kv(),
                 data_endpoint_);
    send_control(Ready{kv_capacity_.load(), executor_ ? executor_->vocab_size() : 0,
                       executor_ ? executor_->hidden_size() : 0, executor_ ? runs_on_ : ""});
    joined_ = true;
  }

  // " on cpu, KV 4096 tokens in f16, sending f32 activations" for a loaded executor (an emulated one
  // stores no values and sends placeholder rows).
  std::string where_and_kv() const {
    if (!executor_) return "";
    if (assign_.emulated) return fmt::format(" on {}, KV {} tokens", runs_on_, kv_capacity_.load());
    return fmt::format(" on {}, KV {} tokens in {}, sending {} activations", runs_on_, kv_capacity_.load(),
                       kv_dtype_name(options_.kv.dtype), activation_dtype_name(assign_.activations));
  }

  // Where the real engine runs: its own --device, else the cluster file's (the
  // Assign's), else the CPU.
  DeviceName stage_device() const { return options_.device.value_or(assign_.device.value_or(DeviceName{})); }

  // The stage on stage_device(); one that cannot be made there fails naming the
  // device and where it came from.
  std::unique_ptr<Stage> make_stage(ModelFiles model, const EngineOptions& eo) const {
    const DeviceName device = stage_device();
    const char* from = options_.device  ? "its --device"
                       : assign_.device ? "its node's device in the cluster file"
                                        : "the default";
    try {
      if (options_.make_stage) return options_.make_stage(std::move(model), assign_.layers, eo, device);
      if (device.cuda) fail("this worker builds only the CPU's engine");
      return std::make_unique<StageEngine>(std::move(model), assign_.layers, eo);
    } catch (const Error& e) {
      fail("worker {}: layers [{}, {}) on {} ({}): {}", options_.node, assign_.layers.start, assign_.layers.end,
           device.name(), from, e.what());
    }
  }

  void load() {
    if (assign_.emulated) {
      executor_ = make_emulated_executor(assign_.emulation, assign_.layers, assign_.slowdown, assign_.kv_tokens);
      runs_on_ = "emulated";
    } else {
      EngineOptions eo;
      eo.threads = options_.threads;
      eo.kv = stage_kv_options(options_.kv, assign_.kv_tokens, stage_device());
      // The batches it forms stay within max_batch_tokens, or hold one prefill chunk (try_batch).
      eo.largest_step_tokens = std::max(assign_.max_batch_tokens, assign_.prefill_chunk);
      executor_ = make_engine_executor(make_stage(open_model(options_.model), eo));
      runs_on_ = stage_device().name();
    }
  }

  // Every request in flight here is over (its coordinator is gone, or the layers change).
  void forget_requests() {
    pending_.clear();
    if (executor_) executor_->release_all();
    released_set_.clear();
    released_order_.clear();
  }

  // Who may send to the data socket: the coordinator and the peers it listed.
  security::TrustedPeers trusted(const std::vector<Peer>& peers) const {
    security::TrustedPeers t;
    t.add("coordinator", options_.coordinator_key);
    for (const Peer& p : peers) {
      if (!p.public_key.empty() && !t.name_of(p.public_key)) t.add(fmt::format("node-{}", p.node), p.public_key);
    }
    return t;
  }

  // A fresh control socket: nothing queued for the old coordinator is delivered to the next.
  void reconnect_control() {
    std::lock_guard<std::mutex> lock(control_mutex_);
    control_ = zmq::socket_t(context_, zmq::socket_type::dealer);
    configure_control();
  }

  void configure_control() {
    control_.set(zmq::sockopt::routing_id, options_.node);
    control_.set(zmq::sockopt::linger, 200);
    control_.set(zmq::sockopt::sndtimeo, 2000);  // a vanished coordinator must not block a send forever
    if (options_.keys) security::make_curve_client(control_, *options_.keys, options_.coordinator_key);
    control_.connect(options_.coordinator);
  }

  // ---- receiving ----

  // Blocks on the data socket only (the loop's own); the control socket, shared
  // with the heartbeat thread, is read without waiting, so the lock is never
  // held while blocking (std::mutex is not fair: a thread re-locking at once
  // could starve the heartbeats). Control messages wait at most timeout_ms.
  void poll(int timeout_ms) {
    zmq::pollitem_t items[] = {{data_.handle(), 0, ZMQ_POLLIN, 0}};
    poll_ignoring_signals(items, 1, timeout_ms);
    read_control();
    std::vector<Envelope> data_messages;
    receive_all(data_, data_messages);
    for (Envelope& e : data_messages) handle(std::move(e));
  }

  // Handles what the coordinator sent; true when anything came.
  bool read_control() {
    std::vector<Envelope> control_messages;
    {
      std::lock_guard<std::mutex> lock(control_mutex_);
      receive_all(control_, control_messages);
    }
    // Handled after unlocking: handling may send on control_.
    if (!control_messages.empty()) last_word_ = Clock::now();
    for (Envelope& e : control_messages) handle(std::move(e));
    return !control_messages.empty();
  }

  // Work arrived at an idle worker: the previous worker sends a batch's chunks one
  // message after another, so wait gather_us for the rest of them before stepping —
  // a batch split in two costs two steps of nearly the same time.
  void gather() {
    std::this_thread::sleep_for(std::chrono::microseconds(assign_.gather_us));
    std::vector<Envelope> data_messages;
    receive_all(data_, data_messages);
    for (Envelope& e : data_messages) handle(std::move(e));
  }

  void receive_all(zmq::socket_t& socket, std::vector<Envelope>& out) {
    for (;;) {
      std::optional<Envelope> e;
      try {
        e = try_receive(socket, false);
      } catch (const WireError& err) {
        spdlog::warn("worker {}: dropped a corrupt message: {}", options_.node, err.what());
        continue;
      }
      if (!e) return;
      out.push_back(std::move(*e));
    }
  }

  void handle(Envelope e) {
    if (auto* w = std::get_if<Work>(&e.message)) return accept(std::move(*w), std::move(e.payload));
    if (auto* r = std::get_if<Release>(&e.message)) return release(r->request);
    if (std::holds_alternative<Shutdown>(e.message)) {
      shutdown_ = true;
      return;
    }
    if (std::holds_alternative<Heartbeat>(e.message)) return;  // the coordinator's answer: it is alive
    if (auto* a = std::get_if<Assign>(&e.message)) return apply_assign(*a);
    spdlog::warn("worker {}: ignored an unexpected {} message", options_.node, message_name(e.message));
  }

  // Queues a chunk, split into prefill chunks of at most prefill_chunk tokens,
  // as the single-process generator splits a prompt.
  void accept(Work w, zmq::message_t payload) {
    // Work of a request the coordinator already ended (it failed elsewhere while
    // this chunk was on its way) would hold KV that nobody releases.
    if (released_set_.count(w.request)) return;
    if (!executor_) return fail_request(w.request, "this node holds no layers now");
    const RouteHop& here = w.route[static_cast<std::size_t>(w.hop)];
    if (here.node != assign_.node) {
      fail_request(w.request, fmt::format("work for node {} arrived at node {}", here.node, assign_.node));
      return;
    }
    // A hop runs a suffix of this node's layers (all of them, or fewer after a partial route).
    if (here.layers.empty() || here.layers.start < assign_.layers.start || here.layers.end != assign_.layers.end) {
      fail_request(w.request, fmt::format("work for layers [{}, {}) arrived at a node holding [{}, {})", here.layers.start,
                                          here.layers.end, assign_.layers.start, assign_.layers.end));
      return;
    }
    if (w.payload == Payload::HiddenF16) {  // the stage computes in float32
      payload = widened_payload(payload);
      w.payload = Payload::Hidden;
    }
    auto frame = std::make_shared<zmq::message_t>(std::move(payload));
    const std::size_t row = frame->size() / static_cast<std::size_t>(w.length);
    for (int done = 0; done < w.length;) {
      const int n = std::min(assign_.prefill_chunk, w.length - done);
      Pending p{w, frame, static_cast<std::size_t>(done) * row};
      p.work.position = w.position + done;
      p.work.length = n;
      p.work.want_token = w.want_token && done + n == w.length;
      pending_.push_back(std::move(p));
      done += n;
    }
  }

  void release(std::uint64_t request) {
    if (executor_) executor_->release(request);
    if (released_set_.insert(request).second) released_order_.push_back(request);
    while (released_order_.size() > 65536) {
      released_set_.erase(released_order_.front());
      released_order_.pop_front();
    }
    std::erase_if(pending_, [&](const Pending& p) { return p.work.request == request; });
  }

  // ---- running ----

  // Continuous batching: FIFO over the queue, one chunk per request per step,
  // all with the same layers to skip, within the token budget, the profile's
  // batch limits (emulated) and the free KV blocks (real).
  std::vector<Pending> form_batch() {
    std::vector<Pending> batch;
    std::deque<Pending> keep;
    std::unordered_set<std::uint64_t> blocked;
    int tokens = 0, prompts = 0, decodes = 0;
    long long prompt_tokens = 0;
    std::int64_t blocks = executor_->free_blocks();
    int skip = -1;
    for (Pending& p : pending_) {
      const Work& w = p.work;
      const int s = skip_of(w);
      const bool decode = is_decode(w);
      if (!blocked.count(w.request) && executor_->cached_length(w.request) != w.position) {
        // Only this request is wrong (a stale or duplicated chunk): fail it alone, not the batch.
        fail_request(w.request, fmt::format("chunk at position {} but {} tokens are cached here", w.position,
                                            executor_->cached_length(w.request)));
        blocked.insert(w.request);
        continue;
      }
      const std::int64_t need = executor_->blocks_needed(w.request, w.position + w.length);
      bool take = !blocked.count(w.request) && (skip < 0 || s == skip) &&
                  (tokens == 0 || tokens + w.length <= assign_.max_batch_tokens) && need <= blocks;
      if (take && assign_.emulated) take = within_emulated_limits(decode, w.length, prompts, decodes, prompt_tokens);
      if (need > executor_->total_blocks()) {  // could never run here, however long it waits
        fail_request(w.request, fmt::format("needs {} KV blocks, the node has {} in all", need,
                                            executor_->total_blocks()));
        blocked.insert(w.request);
        continue;
      }
      if (!take) {
        blocked.insert(w.request);
        keep.push_back(std::move(p));
        continue;
      }
      skip = s;
      blocked.insert(w.request);  // one chunk per request per step
      tokens += w.length;
      blocks -= need;
      if (decode) ++decodes;
      else ++prompts, prompt_tokens += w.length;
      batch.push_back(std::move(p));
    }
    pending_.swap(keep);
    if (!batch.empty() || pending_.empty()) {
      kv_blocked_since_.reset();
    } else {
      if (!kv_blocked_since_) kv_blocked_since_ = Clock::now();
      // Waiting can also be a cycle across workers (each waits for blocks the
      // other's queued requests hold): after a while, give one up anyway.
      if (deadlocked_on_kv() || seconds_since(*kv_blocked_since_) > kKvWaitBeforePreempting) {
        preempt_for_kv();
        kv_blocked_since_.reset();
      }
    }
    return batch;
  }

  // Nothing ran, and every request holding KV here is queued here waiting for
  // more: none of them can ever run (requests elsewhere in their pipeline may
  // still finish and free blocks, so then we wait).
  bool deadlocked_on_kv() const {
    std::unordered_set<std::uint64_t> holders;
    for (const Pending& p : pending_) {
      if (executor_->cached_length(p.work.request) > 0) holders.insert(p.work.request);
    }
    return !holders.empty() && holders.size() == executor_->active_sequences();
  }

  // Every queued chunk waits for KV that only queued requests hold: nothing can
  // ever run. The newest request holding blocks gives them up, with an explicit
  // error to its client, rather than all of them waiting forever.
  void preempt_for_kv() {
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      const std::uint64_t victim = it->work.request;
      if (executor_->cached_length(victim) == 0) continue;
      fail_request(victim, std::string(kKvFullReason) + ": more was admitted than the ledger expected; request preempted");
      release(victim);
      return;
    }
  }

  bool within_emulated_limits(bool decode, int length, int prompts, int decodes, long long prompt_tokens) const {
    const Emulation& e = assign_.emulation;
    if (decode) return e.decode_max_tokens <= 0 || decodes + 1 <= e.decode_max_tokens;
    if (prompts == 0) return true;  // a prompt longer than the limit still runs alone
    return (e.prompt_max_requests <= 0 || prompts + 1 <= e.prompt_max_requests) &&
           (e.prompt_max_tokens <= 0 || prompt_tokens + length <= e.prompt_max_tokens);
  }

  // A decode step is one token after the prompt, sampled after it; anything else
  // is (a chunk of) a prompt.
  static bool is_decode(const Work& w) { return !w.prompt; }

  int skip_of(const Work& w) const {
    return w.route[static_cast<std::size_t>(w.hop)].layers.start - assign_.layers.start;
  }

  // Runs one batch; false when nothing could run.
  bool step() {
    if (!executor_) return false;
    std::vector<Pending> batch = form_batch();
    if (batch.empty()) return false;
    std::vector<BatchChunk> chunks;
    for (const Pending& p : batch) chunks.push_back(chunk_of(p));
    const bool last = batch.front().work.hop + 1 == static_cast<int>(batch.front().work.route.size());
    const auto start = Clock::now();
    BatchResult result;
    try {
      result = executor_->run(chunks, skip_of(batch.front().work), last);
    } catch (const DeviceFailed& e) {
      // Every later step would fail too: the batch moves to other routes at once,
      // and the worker leaves, so that the coordinator reroutes the rest of its
      // work and plans without it, as when a node is lost.
      for (const Pending& p : batch) fail_request(p.work.request, e.what());
      fail("worker {}: its device {} failed, leaving the cluster (restart the worker to use it again): {}",
           options_.node, runs_on_, e.what());
    } catch (const Error& e) {
      for (const Pending& p : batch) fail_request(p.work.request, e.what());
      return true;
    }
    const double elapsed = seconds_since(start);
    if (slowdown_ > 1 && !assign_.emulated) {
      std::this_thread::sleep_for(std::chrono::duration<double>((slowdown_ - 1) * elapsed));
    }
    busy_s_ = busy_s_ + seconds_since(start);
    ++steps_;
    std::size_t row = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      tokens_ += static_cast<std::uint64_t>(batch[i].work.length);
      forward(batch[i].work, result, i, row);
      row += static_cast<std::size_t>(batch[i].work.length);
    }
    return true;
  }

  BatchChunk chunk_of(const Pending& p) const {
    const Work& w = p.work;
    BatchChunk c;
    c.request = w.request;
    c.position = w.position;
    c.length = w.length;
    c.want_token = w.want_token && w.hop + 1 == static_cast<int>(w.route.size());
    c.decode = is_decode(w);
    c.sampling = &p.work.sampling;
    const auto* bytes = static_cast<const std::uint8_t*>(p.frame->data()) + p.offset;
    if (w.payload == Payload::Tokens) {
      c.tokens = {reinterpret_cast<const std::int32_t*>(bytes), static_cast<std::size_t>(w.length)};
    } else {
      c.hidden = {reinterpret_cast<const float*>(bytes), static_cast<std::size_t>(w.length) * w.hidden_size};
    }
    return c;
  }

  void forward(const Work& w, const BatchResult& result, std::size_t index, std::size_t row) {
    if (w.hop + 1 == static_cast<int>(w.route.size())) {
      if (result.tokens[index] >= 0) {
        send_control(Token{w.request, w.position + w.length, result.tokens[index], result.sampler_states[index]});
      }
      return;
    }
    Work next = w;
    next.hop = w.hop + 1;
    next.hidden_size = result.hidden_size;
    const auto width = static_cast<std::size_t>(result.hidden_size);
    zmq::message_t payload = hidden_payload(next, result.hidden, row * width, static_cast<std::size_t>(w.length) * width);
    const int to = next.route[static_cast<std::size_t>(next.hop)].node;
    zmq::socket_t* peer = peer_socket(to);
    if (!peer) return fail_request(w.request, fmt::format("node {} is not among this worker's peers", to));
    send(*peer, next, &payload);
  }

  // f16 when this worker is told to send it and every value fits, else float32
  // (zero-copy from the step's buffer); sets `next.payload` to match.
  zmq::message_t hidden_payload(Work& next, const std::shared_ptr<const std::vector<float>>& hidden, std::size_t first,
                                std::size_t count) {
    if (first + count > hidden->size()) {
      fail("hidden rows [{}, {}) outside a step's {} values", first, first + count, hidden->size());
    }
    if (!assign_.emulated && assign_.activations == ActivationDtype::F16) {
      if (auto halves = f16_payload(std::span<const float>(*hidden).subspan(first, count))) {
        next.payload = Payload::HiddenF16;
        ++sent_f16_;
        return std::move(*halves);
      }
    }
    next.payload = Payload::Hidden;
    ++sent_f32_;
    return payload_frame(hidden, first, count);
  }

  zmq::socket_t* peer_socket(int node) {
    auto it = peers_.find(node);
    if (it != peers_.end()) return &it->second;
    auto ep = peer_endpoints_.find(node);
    if (ep == peer_endpoints_.end()) return nullptr;
    zmq::socket_t s(context_, zmq::socket_type::push);
    s.set(zmq::sockopt::sndhwm, 0);
    s.set(zmq::sockopt::linger, 0);
    if (options_.keys) {
      const std::string& key = peer_keys_[node];
      if (key.empty()) return nullptr;  // the coordinator vouched for no key: do not talk to it
      security::make_curve_client(s, *options_.keys, key);
    }
    s.connect(ep->second);
    return &peers_.emplace(node, std::move(s)).first->second;
  }

  void fail_request(std::uint64_t request, const std::string& reason) {
    spdlog::warn("worker {}: request {} failed: {}", options_.node, request, reason);
    send_control(WorkFailed{request, reason});
  }

  void send_control(const Message& m) {
    std::lock_guard<std::mutex> lock(control_mutex_);
    send(control_, m);
  }

  void heartbeats() {
    while (looping_ && !stop_) {
      const auto queued = static_cast<std::int32_t>(pending_size_.load());
      if (!joined_) {  // re-joining: the coordinator would not know whose heartbeat it is
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      try {
        send_control(Heartbeat{queued, kv_used_.load(), kv_capacity_.load(), steps_.load(), tokens_.load(), busy_s_.load()});
      } catch (const std::exception& e) {  // the loop notices a lost coordinator by its silence
        spdlog::warn("worker {}: heartbeat not sent: {}", options_.node, e.what());
      }
      for (int i = 0; i < 10 && looping_ && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  WorkerOptions options_;
  const std::atomic<bool>& stop_;
  zmq::context_t context_;
  std::unique_ptr<security::Authenticator> auth_;  // CURVE: before the sockets, after the context
  zmq::socket_t control_, data_;
  std::string data_endpoint_;
  Assign assign_;
  std::uint64_t sent_f16_ = 0, sent_f32_ = 0;  // hidden-state messages sent to peers, by payload kind
  std::string runs_on_;  // where the loaded layers run: "cpu", "cuda:0", "emulated"
  std::unique_ptr<StageExecutor> executor_;
  std::map<int, std::string> peer_endpoints_;
  std::map<int, std::string> peer_keys_;  // CURVE: what the coordinator says each peer's key is
  std::map<int, zmq::socket_t> peers_;
  std::deque<Pending> pending_;
  std::unordered_set<std::uint64_t> released_set_;  // recently released requests, oldest first in released_order_
  std::deque<std::uint64_t> released_order_;
  double slowdown_ = 1;
  bool shutdown_ = false;
  Clock::time_point last_word_;
  std::optional<Clock::time_point> kv_blocked_since_;  // nothing could run for want of KV since then
  static constexpr double kKvWaitBeforePreempting = 2.0;  // the last message from the coordinator
  // control_ is shared with the heartbeat thread; these are what it reports.
  std::mutex control_mutex_;
  std::atomic<bool> looping_{false};
  std::atomic<double> busy_s_{0};
  std::atomic<std::uint64_t> steps_{0}, tokens_{0};
  std::atomic<std::size_t> pending_size_{0};
  std::atomic<std::int64_t> kv_used_{0};
  std::atomic<std::int64_t> kv_capacity_{0};
  std::atomic<bool> joined_{false};  // heartbeats only while joined
};

void validate(const WorkerOptions& o) {
  if (o.node.empty()) fail("worker: --node is required");
  if (o.engine != "real" && o.engine != "emulated") fail("worker: --engine must be real or emulated, not '{}'", o.engine);
  if (o.engine == "real" && o.model.empty()) fail("worker: --model is required for the real engine");
  if (!(o.slowdown >= 1.0)) fail("worker: --slowdown must be at least 1, not {}", o.slowdown);
  if (o.threads < 1) fail("worker: --threads must be at least 1");
  if (!o.coordinator.starts_with("tcp://")) fail("worker: --coordinator must be tcp://HOST:PORT, not '{}'", o.coordinator);
}

}  // namespace

void run_worker(const WorkerOptions& options, const std::atomic<bool>& stop) {
  validate(options);
  WorkerLoop loop(options, stop);
  loop.run();
}

}  // namespace helix::runtime
