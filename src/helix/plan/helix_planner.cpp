#include "helix/plan/helix_planner.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "helix/core/error.h"
#include "helix/plan/helix_bounds.h"
#include "helix/plan/helix_bridge.h"
#include "helix/plan/helix_interval_milp.h"
#include "helix/plan/helix_link_milp.h"
#include "helix/plan/helix_search.h"
#include "helix/plan/helix_sequences.h"

namespace helix {
namespace {

using Clock = std::chrono::steady_clock;

// Share of the time limit the interval MILP may use before local search takes
// over, and a cap: CBC notices the stop flag only between search nodes, so a long
// root phase would delay a Ctrl-C by up to this long.
constexpr double kIntervalShare = 0.15;
constexpr double kIntervalMaxSeconds = 20;
// The link-aware model is worth it only on networks with few twin groups (pruned
// ones); with one group it is the interval MILP, with many it grows like the
// paper's model.
constexpr std::size_t kMaxTwinGroups = 16;
// On the pruned 42-node cluster CBC needs ~3 s (LP and feasibility pump) for its
// first good placement; with a shorter share a 10 s run gets a weaker seed.
constexpr double kLinkShare = 0.35;

struct Seed {
  std::string name;
  std::vector<LayerRange> ranges;
};

// Builds whole pipelines one after another along links that exist: from the
// coordinator to a node with a link from it, then to a node the previous one has
// a link to, until the last layer, on a node with a link back. Each step takes the
// strongest free node at its full size. On pruned or sparse networks, where the
// baselines often have no complete path at all, this gives the search a start
// whose flow is not zero.
std::vector<LayerRange> link_following_chains(const PlanContext& ctx) {
  const int n = ctx.cluster.num_nodes();
  const int L = ctx.model.num_layers;
  std::vector<LayerRange> ranges(static_cast<std::size_t>(n));
  std::vector<bool> used(static_cast<std::size_t>(n), false);
  for (bool progress = true; progress;) {
    progress = false;
    std::vector<int> chain;
    int prev = kCoordinator;
    int pos = 0;
    while (pos < L) {
      int best = -1;
      double best_cap = -1;
      for (int j = 0; j < n; ++j) {
        if (used[static_cast<std::size_t>(j)] || ctx.cluster.find_link(prev, j) == nullptr) continue;
        int k = std::min(ctx.perf.node(j).max_layers, L - pos);
        if (k < 1 || (pos + k == L && ctx.cluster.find_link(j, kCoordinator) == nullptr)) continue;
        double cap = ctx.perf.capacity(j, k) * k;
        if (cap > best_cap) {
          best_cap = cap;
          best = j;
        }
      }
      if (best < 0) break;
      int k = std::min(ctx.perf.node(best).max_layers, L - pos);
      ranges[static_cast<std::size_t>(best)] = {pos, pos + k};
      used[static_cast<std::size_t>(best)] = true;
      chain.push_back(best);
      pos += k;
      prev = best;
    }
    if (pos == L) {
      progress = true;
    } else {
      for (int j : chain) ranges[static_cast<std::size_t>(j)] = {};  // incomplete: undo
    }
  }
  return ranges;
}

// The starting points: the placement to re-plan from, every baseline that
// applies to this cluster, and link-following chains (in a fixed order, for
// reproducibility).
std::vector<Seed> seeds(const PlanContext& ctx) {
  std::vector<Seed> out;
  if (ctx.start != nullptr) out.push_back({"start", ctx.start->ranges});
  for (const char* method : {"swarm", "petals", "homogeneous", "separate"}) {
    try {
      out.push_back({method, make_planner(method)->plan(ctx).ranges});
    } catch (const Error&) {
      // Not applicable to this cluster (e.g. no GPU type holds a whole copy).
    }
  }
  out.push_back({"link-following chains", link_following_chains(ctx)});
  PlacementEvaluator evaluator(ctx.cluster, ctx.model, ctx.perf);
  out.push_back({"bridges", lay_bridges(ctx.cluster, ctx.model, ctx.perf, evaluator,
                                        std::vector<LayerRange>(static_cast<std::size_t>(ctx.cluster.num_nodes())))
                                .first});
  return out;
}

// Moves per chain per epoch: ~0.2-0.5 s of work whatever the cluster size, fixed
// by the instance (not the clock) so that runs are reproducible.
long epoch_moves(const ClusterSpec& cluster) {
  long n = std::max(1, cluster.num_nodes());
  return std::clamp(100'000'000L / (n * n / 8 + 50 * n), 100L, 200'000L);
}

// Epochs without improvement before a chain jumps back to the global best: LAHC
// needs long undisturbed walks to cross plateaus.
constexpr int kPatienceEpochs = 5;

class Orchestrator {
 public:
  // With an evaluation budget (reproducible runs) the MILP phases stop on a node
  // budget instead of a share of the clock, so that a slow or loaded machine gets
  // the same seeds as a fast one; the time limit then only guards against hangs.
  Orchestrator(const PlanContext& ctx, long max_evaluations, long milp_nodes)
      : ctx_(ctx), max_evaluations_(max_evaluations), milp_nodes_(std::max(1L, milp_nodes)), t0_(Clock::now()),
        deadline_(t0_ + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(std::max(0.0, ctx.time_limit_s)))) {}

  Placement run() {
    const double supply = layer_supply_bound(ctx_.perf, ctx_.model.num_layers);
    const double cover = cover_count_bound(ctx_.perf, ctx_.model.num_layers);
    bound_ = std::min(supply, cover);
    bound_method_ = cover < supply
                        ? "cover-count bound (each layer needs one node of capacity >= F or ceil(F/c*) slower ones)"
                        : "layer-supply bound (sum over nodes of max_k k*min(cap(k), F) >= L*F)";
    std::vector<Seed> all = seeds(ctx_);
    chains_.push_back(std::make_unique<LocalSearch>(ctx_, ctx_.seed * 7919));
    for (const Seed& s : all) improve(chains_[0]->score(s.ranges), s.ranges, "start: " + s.name);
    // Where the link-aware model applies it supersedes the interval MILP and the
    // sequences, whose pipelines need links a sparse network does not have (CBC
    // finds nothing for the interval MILP there in its share of the time).
    if (link_model_applies()) {
      if (auto linked = link_model_seed()) all.push_back(std::move(*linked));
    } else {
      if (auto interval = interval_model_seed()) all.push_back(std::move(*interval));
      if (auto regional = region_sequence_seed()) all.push_back(std::move(*regional));
    }
    start_chains(all);
    long moves = epoch_moves(ctx_.cluster);
    int stalled_epochs = 0;
    while (!finished()) {
      run_epoch(moves);
      stalled_epochs = merge() ? 0 : stalled_epochs + 1;
      restart_stalled_chains(stalled_epochs);
    }
    return result();
  }

 private:
  // The interval MILP (helix_interval_milp.h) on a slice of the time: an upper
  // bound, and on fast networks often the optimum itself.
  std::optional<Seed> interval_model_seed() {
    if (finished()) return std::nullopt;
    IntervalMilpOptions options;
    options.time_limit_s = milp_seconds(kIntervalShare);
    options.max_nodes = milp_nodes();
    // Serial CBC: its parallel search is not reproducible, and CBC 2.10 leaks the
    // solver clones of its worker threads. The threads go to the local search.
    options.threads = 1;
    options.flow_cap = bound_;
    // No MIP start: CBC 2.10's start handling can throw from inside CbcMain1
    // (solve_with_cbc then retries without it, but the aborted attempt leaks).
    options.stop = ctx_.stop;
    IntervalMilpResult r = solve_interval_milp(ctx_.cluster, ctx_.perf, ctx_.model.num_layers, options);
    interval_status_ = to_string(r.status);
    if ((r.status == MilpStatus::Optimal || r.status == MilpStatus::Feasible ||
         r.status == MilpStatus::Infeasible) && r.bound < bound_) {
      bound_ = std::max(r.bound, 0.0);
      bound_method_ = r.status == MilpStatus::Optimal
                          ? "interval MILP solved to optimality by CBC (network-free relaxation)"
                          : "CBC bound on the interval MILP (network-free relaxation)";
    }
    if (r.ranges.empty()) return std::nullopt;
    improve(chains_[0]->score(r.ranges), r.ranges, "interval MILP");
    return Seed{"interval MILP", r.ranges};
  }

  // The link-aware interval MILP (helix_link_milp.h): on sparse networks the
  // interval MILP's pipelines need links that do not exist; this one only builds
  // pipelines along links.
  bool link_model_applies() const {
    const std::size_t groups = twin_groups(ctx_.cluster).size();
    return groups > 1 && groups <= kMaxTwinGroups;
  }

  std::optional<Seed> link_model_seed() {
    if (finished()) return std::nullopt;
    LinkMilpOptions options;
    options.time_limit_s = milp_seconds(kLinkShare);
    options.max_nodes = milp_nodes();
    options.flow_cap = bound_;
    options.stop = ctx_.stop;
    LinkMilpResult r = solve_link_milp(ctx_.cluster, ctx_.perf, ctx_.model.num_layers, options);
    if (r.ranges.empty()) return std::nullopt;
    improve(chains_[0]->score(r.ranges), r.ranges, "link-aware interval MILP");
    return Seed{"link-aware interval MILP", r.ranges};
  }

  // Region (or GPU-type) sequences (helix_sequences.h), on another share of the time.
  std::optional<Seed> region_sequence_seed() {
    std::optional<Seed> best;
    double best_score = -1;
    const auto phase_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(kIntervalShare * ctx_.time_limit_s));
    sequence_placements(
        ctx_, budget_mode() ? ctx_.time_limit_s : kIntervalShare * ctx_.time_limit_s, milp_nodes(),
        [&] { return !finished() && (budget_mode() || Clock::now() < phase_end); },
        [&](const std::vector<LayerRange>& ranges, const std::string& name) {
          double score = chains_[0]->score(ranges);
          improve(score, ranges, name);
          if (score > best_score) {
            best_score = score;
            best = Seed{name, ranges};
          }
        });
    return best;
  }

  // Reproducible runs: work budgets everywhere, the clock only as a hang guard.
  bool budget_mode() const { return max_evaluations_ > 0; }
  long milp_nodes() const { return budget_mode() ? milp_nodes_ : 0; }
  double milp_seconds(double share) const {
    return budget_mode() ? ctx_.time_limit_s : std::clamp(share * ctx_.time_limit_s, 0.1, kIntervalMaxSeconds);
  }

  void start_chains(const std::vector<Seed>& all) {
    int threads = std::max(1, ctx_.threads);
    for (int t = 1; t < threads; ++t) {
      chains_.push_back(std::make_unique<LocalSearch>(ctx_, ctx_.seed * 7919 + static_cast<std::uint64_t>(t)));
    }
    // Chain t starts from the t-th best seed (cyclically).
    std::vector<std::pair<double, std::size_t>> ranked;
    for (std::size_t s = 0; s < all.size(); ++s) {
      ranked.emplace_back(-chains_[0]->score(all[s].ranges), s);
    }
    std::stable_sort(ranked.begin(), ranked.end());
    for (int t = 0; t < threads; ++t) {
      chains_[static_cast<std::size_t>(t)]->reset(all[ranked[static_cast<std::size_t>(t) % ranked.size()].second].ranges);
    }
    last_chain_best_.assign(chains_.size(), -1);
    stalled_count_.assign(chains_.size(), 0);
  }

  bool finished() const {
    if (best_score_ >= bound_ * (1 - 1e-9)) return true;  // proven optimal
    if (Clock::now() >= deadline_) return true;
    if (ctx_.stop != nullptr && ctx_.stop->load()) return true;
    return max_evaluations_ > 0 && chains_.front()->evaluations() >= max_evaluations_;
  }

  void run_epoch(long moves) {
    if (max_evaluations_ > 0) moves = std::min(moves, max_evaluations_ - chains_.front()->evaluations());
    moves = std::max(moves, 1L);
    if (chains_.size() == 1) {
      chains_[0]->run(moves, deadline_, ctx_.stop);
      return;
    }
    std::vector<std::thread> workers;
    for (auto& chain : chains_) {
      workers.emplace_back([&chain, moves, this] { chain->run(moves, deadline_, ctx_.stop); });
    }
    for (auto& w : workers) w.join();
  }

  // Takes the best chain result; true if the global best improved.
  bool merge() {
    bool improved = false;
    for (std::size_t t = 0; t < chains_.size(); ++t) {
      improved |= improve(chains_[t]->best_score(), chains_[t]->best(), "local search");
    }
    return improved;
  }

  void restart_stalled_chains(int stalled_epochs) {
    for (std::size_t t = 0; t < chains_.size(); ++t) {
      double chain_best = chains_[t]->best_score();
      bool stalled = chain_best <= last_chain_best_[t];
      last_chain_best_[t] = chain_best;
      // Chain 0 keeps walking; the others jump back to the global best, further
      // the longer the search has been stuck.
      if (stalled) ++stalled_count_[t];
      else stalled_count_[t] = 0;
      if (stalled_count_[t] >= kPatienceEpochs && (t > 0 || stalled_epochs >= 2 * kPatienceEpochs)) {
        stalled_count_[t] = 0;
        chains_[t]->reset(best_);
        chains_[t]->perturb(2 + std::min(stalled_epochs, 10));
      }
    }
  }

  bool improve(double score, const std::vector<LayerRange>& ranges, const std::string& source) {
    // A relative margin keeps rounding noise from counting as progress.
    if (!best_.empty() && score <= best_score_ * (1 + 1e-12) + 1e-12) return false;
    best_score_ = score;
    best_ = ranges;
    time_to_best_ = seconds();
    if (ctx_.on_progress) ctx_.on_progress({time_to_best_, score, bound_, source});
    return true;
  }

  double seconds() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }

  Placement result() const {
    Placement p = empty_placement(ctx_.cluster, ctx_.model.name, ctx_.model.num_layers, "helix");
    p.ranges = best_;
    long evaluations = 0;
    for (const auto& c : chains_) evaluations += c->evaluations();
    bool optimal = best_score_ >= bound_ * (1 - 1e-9);
    bool stopped = ctx_.stop != nullptr && ctx_.stop->load();
    p.details = {{"upper_bound_tps", bound_},
                 {"bound_method", bound_method_},
                 {"interval_milp", interval_status_},
                 {"gap", bound_ > 0 ? std::max(0.0, (bound_ - best_score_) / bound_) : 0.0},
                 {"time_to_best_s", time_to_best_},
                 {"seconds", seconds()},
                 {"evaluations", evaluations},
                 {"threads", chains_.size()},
                 {"status", optimal ? "optimal" : stopped ? "stopped" : "time limit"}};
    return p;
  }

  const PlanContext& ctx_;
  long max_evaluations_;
  long milp_nodes_;
  Clock::time_point t0_;
  Clock::time_point deadline_;
  double bound_ = 0;
  std::string bound_method_;
  std::string interval_status_ = "not run";
  std::vector<std::unique_ptr<LocalSearch>> chains_;
  std::vector<double> last_chain_best_;
  std::vector<int> stalled_count_;
  std::vector<LayerRange> best_;
  double best_score_ = 0;
  double time_to_best_ = 0;
};

}  // namespace

std::string HelixPlanner::description() const {
  return "helix: parallel local search on the exact max flow, seeded by every baseline, with a "
         "proven bound";
}

Placement HelixPlanner::plan(const PlanContext& ctx) const {
  return Orchestrator(ctx, max_evaluations_, milp_nodes_).run();
}

}  // namespace helix
