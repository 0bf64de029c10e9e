// Covering the model again. After a membership change the ready nodes may not
// hold every layer (or a new node could add capacity): re-plan warm from what the
// nodes hold (runtime/replan.h) on a thread of its own, then assign the changed
// ranges and let the router follow as nodes report Ready. A plan made for an
// older membership is made again, never applied.
#include "helix/runtime/coordinator_impl.h"

namespace helix::runtime {

// After a membership change: route over the ready nodes if they cover the
// model; else wait for nodes that are loading, or re-plan.
void Coordinator::Impl::reconcile(const std::string& reason) {
  if (!started) return;
  if (build_router(reason)) {
    dispatch_waiting();
    return;
  }
  bool loading = false;
  for (int i = 0; i < cluster.num_nodes(); ++i) loading = loading || state(i) == NodeState::Loading;
  if (loading) {
    spdlog::info("coordinator: no route until the loading nodes are ready ({}); {} requests wait", reason, waiting.size());
    return;
  }
  replan(reason, -1);
}

void Coordinator::Impl::replan(const std::string& reason, int joining) {
  if (pending_replan) {
    replan_again = {reason, joining};
    return;
  }
  const int n = cluster.num_nodes();
  PendingReplan job;
  job.reason = reason;
  job.joining = joining;
  job.usable.assign(static_cast<std::size_t>(n), 0);
  job.current.resize(static_cast<std::size_t>(n));
  {
    std::lock_guard<std::mutex> lock(stats_mutex);
    for (int i = 0; i < n; ++i) {
      const NodeStats& s = nodes[static_cast<std::size_t>(i)];
      job.usable[static_cast<std::size_t>(i)] = i == joining || s.state == NodeState::Ready || s.state == NodeState::Loading;
      job.current[static_cast<std::size_t>(i)] = s.loaded;
    }
  }
  ReplanOptions ro;
  ro.move_penalty_tps = move_penalty_tps;
  ro.max_evaluations = options.replan_evaluations;
  ro.time_limit_s = 30;
  job.started = Clock::now();
  job.epoch = membership_epoch;
  job.result = std::async(std::launch::async, [c = cluster, m = model, current = job.current, usable = job.usable, ro] {
    return runtime::replan(c, m, current, usable, ro);
  });
  spdlog::info("coordinator: re-planning ({}); {} requests wait meanwhile", reason, waiting.size());
  pending_replan = std::move(job);
}

void Coordinator::Impl::check_replan() {
  if (!pending_replan || pending_replan->result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  PendingReplan job = std::move(*pending_replan);
  pending_replan.reset();
  apply_replan(job);
  if (replan_again) {
    auto [reason, joining] = *replan_again;
    replan_again.reset();
    // A loss re-plans only while the ready nodes still do not cover the model.
    if (joining >= 0 || !routing) replan(reason, joining);
  }
}

void Coordinator::Impl::apply_replan(PendingReplan& job) {
  const int n = cluster.num_nodes();
  Replan p;
  try {
    p = job.result.get();
  } catch (const Error& e) {
    event(fmt::format("cannot re-plan ({}): {}; {} requests wait", job.reason, e.what(), waiting.size()));
    return;
  }
  if (static_cast<int>(p.ranges.size()) != n) {  // a node was added meanwhile: plan again with it
    replan_again = {job.reason, job.joining};
    return;
  }
  if (job.joining < 0 && routing) {
    event(fmt::format("re-plan ({}) not applied: the ready nodes cover the model again", job.reason));
    return;
  }
  if (job.epoch != membership_epoch) {
    event(fmt::format("re-plan ({}) not applied: the membership changed while it ran; planning again", job.reason));
    replan_again = {job.reason, job.joining};
    return;
  }
  ++replans;
  event(fmt::format("re-planned ({}) in {:.2f} s: {}; {} layers to load, {} released; max flow {:.1f} -> {:.1f} "
                    "tokens/s (planner semantics)",
                    job.reason, seconds_since(job.started), describe_moves(cluster, job.current, p.ranges), p.layers_loaded,
                    p.layers_released, p.max_flow_before_tps, p.max_flow_after_tps));
  std::vector<int> changed;
  for (int i = 0; i < n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    const NodeState st = state(i);
    // Nodes lost (or drained) while the planner ran keep what they have.
    const bool serving_now = st == NodeState::Ready || st == NodeState::Loading || (i == job.joining && st == NodeState::Drained);
    if (!job.usable[u] || !serving_now || p.ranges[u] == planned[u]) continue;
    set_planned(i, p.ranges[u]);
    changed.push_back(i);
  }
  for (int i : changed) reroute_requests_through(i, "node " + name(i) + " changes its layers");
  for (int i : changed) assign(i);
  reconcile_after_assign(job.reason);
}

// The nodes that keep their layers may already cover the model.
void Coordinator::Impl::reconcile_after_assign(const std::string& reason) {
  if (build_router(reason + ", while nodes load")) dispatch_waiting();
}

}  // namespace helix::runtime
