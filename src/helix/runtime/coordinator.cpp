// The coordinator's event loop: one thread owns the cluster's state, wakes for
// control messages (joins, heartbeats, tokens), requests from the HTTP threads and
// admin commands, and runs the periodic checks; plus shutdown and the public API
// (`Coordinator`), which hands work to that thread. What each message does lives
// in the file of its concern (see coordinator_impl.h).
#include "helix/runtime/coordinator_impl.h"

namespace helix::runtime {

Coordinator::Impl::Impl(sim::SimCluster s, CoordinatorOptions o, std::unique_ptr<Tokenizer> t)
    : serving(std::move(s)), options(std::move(o)), tokenizer(std::move(t)), control(context, zmq::socket_type::router),
      wake_in(context, zmq::socket_type::pull), wake_out(context, zmq::socket_type::push) {
  cluster = serving.cluster;
  model = serving.model;
  planned = serving.ranges;
  classes = resolve_machine_classes(cluster, model);
  const FlowSolution initial = flow_of(serving);
  if (!(initial.max_flow_tps > 0)) fail("the placement's max flow is 0: no pipeline covers all layers over the cluster's links");
  planned_max_flow = initial.max_flow_tps;
  move_penalty_tps = options.move_penalty_tps >= 0 ? options.move_penalty_tps : 0.01 * initial.max_flow_tps;
  nodes.resize(static_cast<std::size_t>(cluster.num_nodes()));
  worker_kv_tokens.assign(nodes.size(), 0);
  for (int i = 0; i < cluster.num_nodes(); ++i) node_index[cluster.nodes[static_cast<std::size_t>(i)].name] = i;
  control.set(zmq::sockopt::linger, 1000);  // so that Shutdown reaches the workers
  control.set(zmq::sockopt::router_mandatory, 1);
  // A restarted worker connects again under its node name before its old
  // connection is noticed as closed: the new connection takes the name over.
  control.set(zmq::sockopt::router_handover, 1);
  if (options.keys) {
    // The ZAP handler must exist before the first CURVE socket binds.
    auth = std::make_unique<security::Authenticator>(context, options.trusted_workers);
    security::make_curve_server(control, *options.keys);
  }
  wake_in.bind("inproc://coordinator-wake");
  wake_out.connect("inproc://coordinator-wake");
  start_time = Clock::now();
  effective_context = options.context_length;
  // Request ids differ between coordinator incarnations, so that a worker's late
  // message about a request of the previous one cannot touch a new request.
  next_id = (static_cast<std::uint64_t>(std::random_device{}()) << 32) | 1;
}

void Coordinator::Impl::loop() {
  while (!stopping) {
    try {
      iterate();
    } catch (const std::exception& e) {
      // A bug or an unexpected socket error must not take the server down
      // with requests open: log it and go on.
      spdlog::error("coordinator: {}", e.what());
    }
  }
  shutdown();
}

void Coordinator::Impl::iterate() {
  std::vector<zmq::pollitem_t> items = {{control.handle(), 0, ZMQ_POLLIN, 0}, {wake_in.handle(), 0, ZMQ_POLLIN, 0}};
  std::vector<int> monitored;
  for (auto& [node, link] : data_links) {
    items.push_back({link.monitor.handle(), 0, ZMQ_POLLIN, 0});
    monitored.push_back(node);
  }
  try {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;  // a signal only wakes us
  }
  for (std::size_t k = 0; k < monitored.size(); ++k) {
    if (items[k + 2].revents & ZMQ_POLLIN) check_monitor(monitored[k]);
  }
  drain_control();
  drain_wake();
  run_commands();
  take_inbox();
  // Liveness and deadlines need no more than a few checks a second; the loop
  // itself wakes for every token.
  const auto now = Clock::now();
  if (now - last_periodic_check >= std::chrono::milliseconds(100)) {
    last_periodic_check = now;
    check_timeouts();
    check_requests();
    check_drains();
  }
  check_replan();
  active_count = active.size();
  waiting_count = waiting.size();
}

void Coordinator::Impl::drain_control() {
  for (;;) {
    std::string identity;
    std::optional<Envelope> e;
    try {
      e = try_receive(control, true, &identity);
    } catch (const WireError& err) {
      corrupt(identity, err.what());
      continue;
    }
    if (!e) return;
    on_control(*e);
  }
}

void Coordinator::Impl::drain_wake() {
  zmq::message_t m;
  while (wake_in.recv(m, zmq::recv_flags::dontwait)) {
  }
}

void Coordinator::Impl::run_commands() {
  std::deque<std::function<void()>> todo;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex);
    todo.swap(commands);
  }
  for (auto& c : todo) c();
}

// A corrupt message drops the worker that sent it (its requests move to other
// routes); from an unknown peer it is only logged.
void Coordinator::Impl::corrupt(const std::string& identity, const std::string& what) {
  auto it = node_index.find(identity);
  if (it == node_index.end() || !connected(it->second)) {
    spdlog::warn("coordinator: dropped a corrupt message from unknown peer '{}': {}", identity, what);
    return;
  }
  spdlog::error("coordinator: dropping worker {}: it sent a corrupt message: {}", identity, what);
  shutdown_worker(it->second);
  node_lost(it->second, "it sent a corrupt message");
}

void Coordinator::Impl::on_control(const Envelope& e) {
  const auto it = node_index.find(e.identity);
  if (const auto* hello = std::get_if<Hello>(&e.message)) {
    if (options.keys && e.peer != hello->node) {
      return refuse(e.identity, fmt::format("its key is trusted as '{}', not as node '{}'", e.peer, hello->node));
    }
    return on_hello(e.identity, *hello);
  }
  if (it == node_index.end() || !connected(it->second)) {
    spdlog::debug("coordinator: ignored a {} message from '{}', which has not joined", message_name(e.message), e.identity);
    return;
  }
  const int node = it->second;
  {
    std::lock_guard<std::mutex> lock(stats_mutex);
    nodes[static_cast<std::size_t>(node)].last_seen_s = seconds_since(start_time);
  }
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Ready>) on_ready(node, m);
        else if constexpr (std::is_same_v<T, Token>) on_token(node, m);
        else if constexpr (std::is_same_v<T, Heartbeat>) on_heartbeat(node, m);
        else if constexpr (std::is_same_v<T, WorkFailed>) on_work_failed(node, m);
        else spdlog::warn("coordinator: ignored an unexpected {} message from {}", message_name(e.message), e.identity);
      },
      e.message);
}

void Coordinator::Impl::shutdown() {
  // Monitors are stopped before their sockets close (libzmq may otherwise stall the context).
  std::vector<int> linked;
  for (const auto& entry : data_links) linked.push_back(entry.first);
  for (int node : linked) close_data_link(node);
  for (auto& [id, r] : active) r.stream->push(error_event(unavailable("the server is shutting down")));
  active.clear();
  for (Request& r : waiting) r.stream->push(error_event(unavailable("the server is shutting down")));
  waiting.clear();
  std::deque<Request> late;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex);
    late.swap(inbox);
  }
  for (Request& r : late) r.stream->push(error_event(unavailable("the server is shutting down")));
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(stats_mutex);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].connected()) names.push_back(cluster.nodes[i].name);
    }
  }
  for (const std::string& name : names) {
    try {
      send(control, Shutdown{}, nullptr, &name);
    } catch (const zmq::error_t&) {  // gone already
    }
  }
}

// Runs `action` on the loop thread and waits for its answer (admin calls).
std::string Coordinator::Impl::on_loop(std::function<std::string()> action) {
  auto done = std::make_shared<std::promise<std::string>>();
  auto answer = done->get_future();
  {
    std::lock_guard<std::mutex> lock(inbox_mutex);
    if (stopping) return "the server is shutting down";
    commands.push_back([action = std::move(action), done] {
      try {
        done->set_value(action());
      } catch (const std::exception& e) {
        done->set_value(e.what());
      }
    });
    wake_out.send(zmq::str_buffer("c"), zmq::send_flags::dontwait);
  }
  if (answer.wait_for(std::chrono::seconds(120)) != std::future_status::ready) return "the coordinator did not answer";
  return answer.get();
}


Coordinator::Coordinator(sim::SimCluster serving, CoordinatorOptions options, std::unique_ptr<Tokenizer> tokenizer)
    : impl_(std::make_unique<Impl>(std::move(serving), std::move(options), std::move(tokenizer))) {}

Coordinator::~Coordinator() { stop(); }

void Coordinator::start() {
  bound_endpoint_ = bind_endpoint(impl_->control, impl_->options.control_endpoint);
  impl_->loop_thread = std::thread([this] { impl_->loop(); });
}

void Coordinator::stop() {
  if (!impl_ || !impl_->loop_thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->inbox_mutex);
    impl_->stopping = true;
    impl_->wake_out.send(zmq::str_buffer("s"), zmq::send_flags::dontwait);
  }
  impl_->loop_thread.join();
}

bool Coordinator::wait_ready(double timeout_s) const {
  std::unique_lock<std::mutex> lock(impl_->ready_mutex);
  return impl_->ready_cv.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return impl_->ready.load(); });
}

double Coordinator::max_flow_tps() const { return impl_->planned_max_flow.load(); }

std::vector<std::string> Coordinator::model_ids() const { return {impl_->options.model_id}; }

std::shared_ptr<api::GenerationStream> Coordinator::submit(const api::GenerationRequest& request) {
  return impl_->submit(request);
}

// Healthy while it can route (the ready nodes cover the model); a lost node
// that the others cover does not make it unhealthy.
bool Coordinator::healthy(std::string& detail_json) const {
  nlohmann::json d = {{"workers", impl_->readiness()}, {"max_flow_tokens_per_s", impl_->planned_max_flow.load()}};
  detail_json = d.dump();
  return impl_->ready && impl_->routing;
}

}  // namespace helix::runtime
