// Requests: accepted from the HTTP threads, routed in arrival order, sent hop by
// hop as prompt chunks and decode steps, answered token by token (stop strings,
// streaming text), and ended -- finished, cancelled, or with an explicit error.
// A request through a lost node (or preempted for KV) is re-queued with its
// output and its sampler's state, so it continues where it was on a new route.
#include "helix/runtime/coordinator_impl.h"

namespace helix::runtime {

// Requests whose client left (or that wait too long for their next token or a
// route) end here instead of waiting for a token that may be minutes away or lost.
void Coordinator::Impl::check_requests() {
  const auto now = Clock::now();
  std::vector<std::uint64_t> cancelled, late;
  for (const auto& [id, r] : active) {
    if (r.stream->cancelled()) cancelled.push_back(id);
    else if (std::chrono::duration<double>(now - r.sent_at).count() > options.request_timeout_s) late.push_back(id);
  }
  // Clients that left while their request waited for a route, and requests that
  // waited longer than the request timeout (the cluster cannot serve them now).
  for (auto it = waiting.begin(); it != waiting.end();) {
    if (it->stream->cancelled()) {
      it->stream->push(finish_event("cancelled", *it));
      it = waiting.erase(it);
    } else if (std::chrono::duration<double>(now - it->accepted_at).count() > options.request_timeout_s) {
      it->stream->push(error_event(unavailable(fmt::format(
          "no route for {} s: the cluster cannot cover the model now ({})", options.request_timeout_s, readiness()))));
      it = waiting.erase(it);
    } else {
      ++it;
    }
  }
  for (std::uint64_t id : cancelled) finish(id, "cancelled");
  for (std::uint64_t id : late) {
    spdlog::warn("coordinator: request {} got no token for {} s; ending it", id, options.request_timeout_s);
    finish_with_error(id, unavailable(fmt::format("no token came back within {} s", options.request_timeout_s)));
  }
}

void Coordinator::Impl::reroute_requests_through(int node, const std::string& why) {
  std::vector<std::uint64_t> hit;
  for (const auto& [id, r] : active) {
    for (const RouteHop& h : r.hops) {
      if (h.node == node) {
        hit.push_back(id);
        break;
      }
    }
  }
  for (std::uint64_t id : hit) requeue(id, why, false);
}

void Coordinator::Impl::take_inbox() {
  std::deque<Request> fresh;
  {
    std::lock_guard<std::mutex> lock(inbox_mutex);
    fresh.swap(inbox);
  }
  for (Request& r : fresh) waiting.push_back(std::move(r));
  dispatch_waiting();
}

// Routes waiting prompts in arrival order while the router finds routes.
void Coordinator::Impl::dispatch_waiting() {
  if (!router) return;
  while (!waiting.empty()) {
    Request& r = waiting.front();
    if (r.stream->cancelled()) {
      r.stream->push(finish_event("cancelled", r));
      waiting.pop_front();
      continue;
    }
    sched::RouteFailure why;
    std::optional<sched::Route> route = router->route_prompt(routed_length(r), &why);
    if (!route) {
      // A prompt that no route could take even on an idle cluster is refused
      // now; otherwise it waits for running requests to free KV.
      if (r.preemptions > 0 && !routable_when_idle(routed_length(r))) {
        // Its prompt plus what it generated before preemption no longer fits any route.
        r.stream->push(error_event(unavailable(fmt::format(
            "the request was preempted for KV after {} tokens and its {} tokens no longer fit any route", r.generated,
            r.prompt.size()))));
        waiting.pop_front();
        continue;
      }
      if (active.empty() || !routable_when_idle(routed_length(r))) {
        r.stream->push(error_event(api::ApiError{400, "invalid_request_error",
                                                 fmt::format("the prompt of {} tokens cannot be served by this cluster: {}",
                                                             r.prompt.size(), why.describe(*view)),
                                                 "prompt"}));
        waiting.pop_front();
        continue;
      }
      return;  // wait for a request to finish
    }
    Request req = std::move(r);
    waiting.pop_front();
    start(std::move(req), std::move(*route));
  }
}

void Coordinator::Impl::start(Request r, sched::Route route) {
  r.route = std::move(route);
  for (const sched::Stage& s : r.route.stages) {
    if (s.node >= 0) r.hops.push_back({s.node, s.layers});
  }
  r.generation = router_generation;
  const std::uint64_t id = r.id;
  if (r.preemptions == 0 && r.reroutes == 0) prompt_tokens_routed += r.prompt.size();
  auto [it, inserted] = active.emplace(id, std::move(r));
  (void)inserted;
  it->second.sent_at = Clock::now();
  try {
    send_work(it->second, 0, std::vector<std::int32_t>(it->second.prompt.begin(), it->second.prompt.end()), true);
  } catch (const std::exception& e) {
    finish_with_error(id, unavailable(std::string("could not send the prompt to its first worker: ") + e.what()));
  }
}

void Coordinator::Impl::send_work(Request& r, int position, std::vector<std::int32_t> tokens, bool prompt) {
  Work w;
  w.prompt = prompt;
  w.request = r.id;
  w.position = position;
  w.length = static_cast<std::int32_t>(tokens.size());
  w.hop = 0;
  w.want_token = true;
  w.payload = Payload::Tokens;
  w.sampling = r.sampling;
  w.route = r.hops;
  zmq::message_t payload = payload_frame(std::move(tokens));
  auto link = data_links.find(r.hops.front().node);
  if (link == data_links.end()) throw Error("its first node is not connected");
  send(link->second.push, w, &payload);
  r.in_flight = true;
  r.sent_at = Clock::now();
  if (r.generation == router_generation) {
    for (const sched::Stage& s : r.route.stages) edge_tokens[static_cast<std::size_t>(s.link)] += w.length;
  }
  count_edges(r, w.length);
}

void Coordinator::Impl::on_token(int node, const Token& t) {
  auto it = active.find(t.request);
  if (it == active.end()) return;  // finished or failed meanwhile
  Request& r = it->second;
  if (r.hops.back().node != node) {
    spdlog::warn("coordinator: a token for request {} came from node {}, not the end of its route", t.request, node);
    return;
  }
  const int expected = static_cast<int>(r.prompt.size()) + r.generated - r.folded;
  if (!r.in_flight || t.position != expected) {
    spdlog::warn("coordinator: ignored a token for request {} at position {} (expected {}{})", t.request, t.position,
                 expected, r.in_flight ? "" : ", none in flight");
    return;
  }
  r.in_flight = false;
  r.sampler_state = t.sampler_state;
  // Every active request has work in flight, so a cancellation is seen here.
  if (r.stream->cancelled()) return finish(t.request, "cancelled");
  const bool stop_token = std::find(r.stop_tokens.begin(), r.stop_tokens.end(), t.token) != r.stop_tokens.end();
  if (stop_token && !r.api.ignore_eos) return finish(t.request, "stop");
  ++r.generated;
  r.output.push_back(t.token);
  ++tokens_generated;
  std::string text;
  try {
    text = r.stops->push(r.decoder->push(t.token));
  } catch (const Error& e) {
    return finish_with_error(t.request, api::ApiError{500, "server_error", e.what(), ""});
  }
  if (!text.empty()) r.stream->push(api::GenerationEvent{api::GenerationEvent::Kind::Text, text, 1, "", {}, {}});
  if (r.stops->stopped()) return finish(t.request, "stop");
  if (r.generated >= r.api.max_tokens || t.position + 1 >= effective_context) return finish(t.request, "length");
  if (r.generation == router_generation) router->on_decode(r.route);
  try {
    send_work(r, t.position, {t.token}, false);
  } catch (const std::exception& e) {  // its first node is gone: the request moves
    requeue(t.request, std::string("its first node is gone: ") + e.what(), false);
    dispatch_waiting();
  }
}

void Coordinator::Impl::on_work_failed(int node, const WorkFailed& f) {
  if (!active.count(f.request)) return;
  spdlog::warn("coordinator: request {} failed on {}: {}", f.request, name(node), f.reason);
  Request& r = active.at(f.request);
  r.in_flight = false;
  const bool kv = f.reason.starts_with(kKvFullReason);
  // Anything else is most likely a membership change racing the route (a peer
  // that left or changed its layers): it moves to a new route, a few times at most.
  if (!r.stream->cancelled() && (kv ? r.preemptions < kMaxPreemptions : r.reroutes < kMaxReroutes)) {
    requeue(f.request, f.reason, kv);
    return dispatch_waiting();
  }
  finish_with_error(f.request, unavailable("a worker could not run the request: " + f.reason));
}

void Coordinator::Impl::requeue(std::uint64_t id, const std::string& why, bool kv_preemption) {
  auto entry = active.extract(id);
  Request r = std::move(entry.mapped());
  release_route(r, id);
  if (router && r.generation == router_generation) router->on_query_finished(r.route, routed_length(r));
  r.prompt.insert(r.prompt.end(), r.output.begin() + r.folded, r.output.end());
  r.folded = static_cast<int>(r.output.size());
  r.route = {};
  r.hops.clear();
  r.in_flight = false;
  if (kv_preemption) ++r.preemptions;
  else ++r.reroutes, ++requests_rerouted;
  r.sampling.seed = r.sampler_state;
  r.id = next_id++;
  spdlog::info("coordinator: request {} {} ({} tokens so far: {}), re-queued as {}", id,
               kv_preemption ? "preempted for KV" : "moves to a new route", r.generated, why, r.id);
  waiting.push_front(std::move(r));
  if (router) {
    std::lock_guard<std::mutex> lock(stats_mutex);
    snapshot_ledger();
  }
}

api::GenerationEvent Coordinator::Impl::finish_event(const std::string& reason, const Request& r) const {
  api::GenerationEvent e;
  e.kind = api::GenerationEvent::Kind::Finish;
  e.finish_reason = reason;
  e.usage = {r.prompt_tokens, r.generated};
  return e;
}

api::GenerationEvent Coordinator::Impl::error_event(api::ApiError error) {
  api::GenerationEvent e;
  e.kind = api::GenerationEvent::Kind::Error;
  e.error = std::move(error);
  return e;
}

void Coordinator::Impl::finish(std::uint64_t id, const std::string& reason) {
  Request& r = active.at(id);
  std::string tail = r.stops->push(r.decoder->finish());
  tail += r.stops->flush();
  if (!tail.empty()) r.stream->push(api::GenerationEvent{api::GenerationEvent::Kind::Text, tail, 1, "", {}, {}});
  r.stream->push(finish_event(reason, r));
  close(id);
}

void Coordinator::Impl::finish_with_error(std::uint64_t id, api::ApiError error) {
  active.at(id).stream->push(error_event(std::move(error)));
  close(id);
}

// Frees the request everywhere: KV on its nodes, the ledger, then lets waiting prompts in.
// The request leaves `active` first, so that nothing below can leave it
// half-closed (its final event has been pushed already).
void Coordinator::Impl::close(std::uint64_t id) {
  auto entry = active.extract(id);
  Request& r = entry.mapped();
  release_route(r, id);
  if (router && r.generation == router_generation) {
    router->on_query_finished(r.route, routed_length(r));
    std::lock_guard<std::mutex> lock(stats_mutex);
    edge_snapshot = edge_tokens;
    snapshot_ledger();
  }
  dispatch_waiting();
}

// Best effort: a node that cannot be reached has nothing left to free.
void Coordinator::Impl::release_route(const Request& r, std::uint64_t id) {
  for (const RouteHop& h : r.hops) {
    auto link = data_links.find(h.node);
    if (link == data_links.end()) continue;
    try {
      send(link->second.push, Release{id});
    } catch (const std::exception& e) {
      spdlog::warn("coordinator: could not release request {} on node {}: {}", id, h.node, e.what());
    }
  }
}

// A model's own template writes the bos text itself (as transformers, the text
// is then encoded without adding one); the bos is turned into its id here so
// that tokenizers that do not parse special tokens in text (the SentencePiece
// library) see it too.
std::vector<int> Coordinator::Impl::encode_chat(const std::vector<api::ChatMessage>& messages) const {
  const std::string text = options.chat_prompt.render(messages);
  if (!options.chat_prompt.uses_model_template()) return tokenizer->encode_with_bos(text);
  const std::string& bos = options.chat_prompt.bos_token();
  if (!bos.empty() && tokenizer->bos_id() >= 0 && text.starts_with(bos)) {
    std::vector<int> ids = {tokenizer->bos_id()};
    const std::vector<int> rest = tokenizer->encode(std::string_view(text).substr(bos.size()));
    ids.insert(ids.end(), rest.begin(), rest.end());
    return ids;
  }
  return tokenizer->encode(text);
}

Request Coordinator::Impl::prepare(const api::GenerationRequest& q) const {
  Request r;
  r.api = q;
  if (!q.prompt_tokens.empty()) {
    for (std::int32_t t : q.prompt_tokens) {
      if (t < 0 || t >= tokenizer->vocab_size()) {
        throw api::ApiException(api::ApiError{400, "invalid_request_error",
                                              fmt::format("token id {} is outside the vocabulary of {}", t, tokenizer->vocab_size()),
                                              "prompt"});
      }
    }
    r.prompt.assign(q.prompt_tokens.begin(), q.prompt_tokens.end());
  } else {
    r.prompt = q.chat ? encode_chat(q.messages) : tokenizer->encode_with_bos(q.prompt);
  }
  const char* field = q.chat ? "messages" : "prompt";
  if (r.prompt.empty()) throw api::ApiException(api::ApiError{400, "invalid_request_error", "the prompt has no tokens", field});
  r.prompt_tokens = static_cast<int>(r.prompt.size());
  const long long total = static_cast<long long>(r.prompt.size()) + q.max_tokens;
  const long long limit = effective_context;
  if (total > limit) {
    throw api::ApiException(api::ApiError{
        400, "invalid_request_error",
        fmt::format("this model's maximum context length is {} tokens; the prompt has {} and max_tokens asks for {} more",
                    limit, r.prompt.size(), q.max_tokens),
        static_cast<long long>(r.prompt.size()) >= limit ? field : "max_tokens"});
  }
  r.sampling.temperature = q.temperature;
  r.sampling.top_p = q.top_p;
  r.sampling.seed = q.seed ? *q.seed : std::random_device{}();
  r.sampler_state = r.sampling.seed;
  r.sampling.allowed_vocab = tokenizer->vocab_size();
  r.stop_tokens = tokenizer->stop_ids();
  r.decoder = std::make_unique<StreamDecoder>(*tokenizer);
  r.stops = std::make_unique<StopStrings>(q.stop);
  return r;
}

std::shared_ptr<api::GenerationStream> Coordinator::Impl::submit(const api::GenerationRequest& q) {
  if (q.model != options.model_id) {
    throw api::ApiException(api::ApiError{404, "not_found_error", fmt::format("the model '{}' does not exist", q.model), "model"});
  }
  if (!ready) throw api::ApiException(unavailable("the cluster is not ready yet: " + readiness()));
  Request r = prepare(q);
  r.id = next_id++;
  r.stream = std::make_shared<api::GenerationStream>();
  r.accepted_at = Clock::now();
  auto stream = r.stream;
  std::lock_guard<std::mutex> lock(inbox_mutex);
  if (stopping) throw api::ApiException(unavailable("the server is shutting down"));
  if (static_cast<long long>(inbox.size() + waiting_count.load()) >= options.max_waiting) {
    throw api::ApiException(unavailable("too many requests are waiting for a route"));
  }
  const std::size_t open = inbox.size() + waiting_count.load() + active_count.load();
  if (options.max_requests > 0 && open >= static_cast<std::size_t>(options.max_requests)) {
    ++refused_overloaded;
    throw api::ApiException(unavailable(
        fmt::format("overloaded: {} requests are open (--max-requests {}); retry later", open, options.max_requests)));
  }
  inbox.push_back(std::move(r));
  wake_out.send(zmq::str_buffer("w"), zmq::send_flags::dontwait);
  return stream;
}

}  // namespace helix::runtime
