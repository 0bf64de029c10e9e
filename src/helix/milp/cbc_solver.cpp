#include "helix/milp/cbc_solver.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>

#include <CbcConfig.h>
#include <CbcEventHandler.hpp>
#include <CbcModel.hpp>
#include <CbcSolver.hpp>
#include <CoinError.hpp>
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>

#include <fmt/format.h>

#include "helix/core/error.h"

namespace helix {
namespace {

using Clock = std::chrono::steady_clock;

// CBC reports "no solution yet" as an objective of about 1e50 (deps.md §1).
constexpr double kNoObjective = 1e49;

// CBC's +-1e50 "none" values as infinities.
double from_coin(double value) {
  return std::abs(value) >= kNoObjective ? std::copysign(kMilpInfinity, value) : value;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// State shared by the caller and the event handler. CBC clones the handler (once
// per preprocessed model and per thread), so the handler keeps only a pointer.
struct SearchState {
  Clock::time_point started;
  const MilpOptions* options = nullptr;
  double sign = 1;  // model objective = sign * CBC's (CBC always minimises here)
  std::mutex mutex;
  double best_internal = kMilpInfinity;  // best objective seen, as CBC minimises it
  double time_to_best = 0;
  bool reported = false;
  bool stopped = false;

  // Records an incumbent if it improves on the best seen; calls the user's callback.
  void observe(double internal, double internal_bound) {
    if (internal >= kNoObjective) return;
    std::lock_guard lock(mutex);
    if (reported && internal >= best_internal - 1e-9 * std::max(1.0, std::abs(best_internal))) return;
    best_internal = internal;
    time_to_best = seconds_since(started);
    reported = true;
    if (options->on_incumbent) {
      options->on_incumbent({time_to_best, sign * internal, sign * from_coin(internal_bound)});
    }
  }
};

class SearchEvents final : public CbcEventHandler {
 public:
  explicit SearchEvents(SearchState* state) : state_(state) {}
  SearchEvents(const SearchEvents&) = default;
  SearchEvents& operator=(const SearchEvents&) = delete;

  CbcEventHandler* clone() const override { return new SearchEvents(*this); }

  // Every event: pick up a new incumbent, then honour the stop flag.
  CbcAction event(CbcEvent) override {
    if (model_ != nullptr) state_->observe(model_->getObjValue(), model_->getBestPossibleObjValue());
    const std::atomic<bool>* flag = state_->options->stop;
    if (flag == nullptr || !flag->load(std::memory_order_relaxed)) return noAction;
    std::lock_guard lock(state_->mutex);
    state_->stopped = true;
    return CbcEventHandler::stop;
  }

 private:
  SearchState* state_;
};

// The model as CBC wants it: a row-ordered matrix, minimisation, COIN infinities.
void load_problem(const MilpModel& model, OsiClpSolverInterface& solver) {
  const double inf = solver.getInfinity();
  auto coin = [inf](double v) { return std::isinf(v) ? (v > 0 ? inf : -inf) : v; };
  const double sign = model.maximize() ? -1.0 : 1.0;
  std::vector<double> col_lower, col_upper, objective, row_lower, row_upper, elements;
  std::vector<int> indices;
  std::vector<CoinBigIndex> starts{0};
  std::vector<int> lengths;
  for (const MilpColumn& c : model.columns()) {
    col_lower.push_back(coin(c.lower));
    col_upper.push_back(coin(c.upper));
    objective.push_back(sign * c.objective);
  }
  for (const MilpRow& r : model.rows()) {
    row_lower.push_back(coin(r.lower));
    row_upper.push_back(coin(r.upper));
    for (const MilpTerm& t : r.terms) {
      indices.push_back(t.column);
      elements.push_back(t.coefficient);
    }
    lengths.push_back(static_cast<int>(r.terms.size()));
    starts.push_back(static_cast<CoinBigIndex>(indices.size()));
  }
  const CoinPackedMatrix matrix(false, model.num_columns(), model.num_rows(),
                                static_cast<CoinBigIndex>(elements.size()), elements.data(),
                                indices.data(), starts.data(), lengths.data());
  solver.loadProblem(matrix, col_lower.data(), col_upper.data(), objective.data(), row_lower.data(),
                     row_upper.data());
  solver.setIntParam(OsiNameDiscipline, 2);  // keep names: the MIP start refers to them
  for (int j = 0; j < model.num_columns(); ++j) {
    solver.setColName(j, model.column(j).name);
    if (model.column(j).integer) solver.setInteger(j);
  }
  for (int r = 0; r < model.num_rows(); ++r) solver.setRowName(r, model.row(r).name);
}

void check_start(const MilpModel& model, const MilpOptions& options) {
  for (const auto& [name, value] : options.mip_start) {
    if (model.column_index(name) < 0) fail("MIP start: the model has no column '{}'", name);
    if (!std::isfinite(value)) fail("MIP start: value {} for '{}' is not finite", value, name);
  }
}

// Below this time limit CBC runs without preprocessing (see cbc_arguments).
constexpr double kShortSolveS = 2.0;

// The standalone CBC strategy, as its command line would run it (deps.md §1).
std::vector<std::string> cbc_arguments(const MilpOptions& options, double sign) {
  std::vector<std::string> args{"cbc", "-timeMode", "elapsed"};
  if (!std::isnan(options.cutoff)) args.insert(args.end(), {"-cutoff", fmt::format("{}", sign * options.cutoff)});
  if (!options.show_log) args.insert(args.end(), {"-log", "0", "-slog", "0"});
  if (options.time_limit_s > 0) args.insert(args.end(), {"-sec", fmt::format("{}", options.time_limit_s)});
  // CBC 2.10's CglPreProcess::postProcess dereferences null when the time limit
  // interrupts it before the root is solved (seen with limits of 0.3 s on a loaded
  // machine). Preprocessing buys nothing in such short solves, so skip it there.
  if (options.time_limit_s > 0 && options.time_limit_s < kShortSolveS) {
    args.insert(args.end(), {"-preprocess", "off"});
  }
  if (options.max_nodes > 0) args.insert(args.end(), {"-maxNodes", std::to_string(options.max_nodes)});
  if (options.threads > 1) args.insert(args.end(), {"-threads", std::to_string(options.threads)});
  args.insert(args.end(), {"-solve", "-quit"});
  return args;
}

int no_callback(CbcModel*, int) { return 0; }

// CbcMain1 keeps file-static state (its print buffer, the model being branched
// on), so two solves must not overlap; this lock is the only shared state here.
std::mutex& cbc_main_lock() {
  static std::mutex lock;
  return lock;
}

void run_cbc(CbcModel& cbc, const MilpOptions& options, SearchState& state) {
  std::lock_guard serial(cbc_main_lock());
  CbcSolverUsefulData data;
  data.noPrinting_ = !options.show_log;
  data.useSignalHandler_ = false;  // Ctrl-C belongs to the application (use the stop flag)
  CbcMain0(cbc, data);
  if (!options.mip_start.empty()) cbc.setMIPStart(options.mip_start);
  SearchEvents events(&state);
  cbc.passInEventHandler(&events);  // after CbcMain0, which would reset it (deps.md §1)
  const std::vector<std::string> args = cbc_arguments(options, state.sign);
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  CbcMain1(static_cast<int>(argv.size()), argv.data(), cbc, no_callback, data);
}

MilpStatus classify(const CbcModel& cbc, const SearchState& state, bool has_solution) {
  if (state.stopped) return MilpStatus::Stopped;
  if (cbc.isProvenOptimal() && has_solution) return MilpStatus::Optimal;
  if (cbc.isProvenInfeasible() || (cbc.isProvenOptimal() && !has_solution)) return MilpStatus::Infeasible;
  if (cbc.isContinuousUnbounded()) return MilpStatus::Unbounded;
  return has_solution ? MilpStatus::Feasible : MilpStatus::NoSolution;
}

void read_solution(const MilpModel& model, const CbcModel& cbc, SearchState& state, MilpResult& result) {
  const double* x = cbc.bestSolution();
  if (x == nullptr || cbc.getNumCols() != model.num_columns()) return;
  result.values.assign(x, x + model.num_columns());
  result.objective = model.objective_value(result.values);
  // A solution the handler never saw (found as the search ended) counts from now.
  state.observe(state.sign * result.objective, state.sign * result.best_bound);
  result.time_to_best_s = state.time_to_best;
}

}  // namespace

std::string cbc_version() { return std::string("CBC ") + CBC_VERSION; }

std::string to_string(MilpStatus status) {
  switch (status) {
    case MilpStatus::Optimal: return "optimal";
    case MilpStatus::Feasible: return "time limit";
    case MilpStatus::Infeasible: return "infeasible";
    case MilpStatus::Unbounded: return "unbounded";
    case MilpStatus::NoSolution: return "no solution found";
    case MilpStatus::Stopped: return "stopped";
  }
  return "unknown";
}

namespace {
MilpResult solve_once(const MilpModel& model, const MilpOptions& options);
}  // namespace

MilpResult solve_with_cbc(const MilpModel& model, const MilpOptions& options) {
  check_start(model, options);
  if (!options.mip_start.empty()) {
    // CBC 2.10's MIP-start code can throw CoinError ("Illegal index in
    // ClpModel::getColumnName") after preprocessing shrinks the model. A start is
    // only a hint: solve again without it rather than fail.
    try {
      return solve_once(model, options);
    } catch (const CoinError&) {
      MilpOptions without = options;
      without.mip_start.clear();
      return solve_once(model, without);
    }
  }
  try {
    return solve_once(model, options);
  } catch (const CoinError& e) {
    fail("CBC failed: {} ({})", e.message(), e.methodName());
  }
}

namespace {

MilpResult solve_once(const MilpModel& model, const MilpOptions& options) {
  SearchState state;
  state.started = Clock::now();
  state.options = &options;
  state.sign = model.maximize() ? -1.0 : 1.0;

  OsiClpSolverInterface solver;
  solver.messageHandler()->setLogLevel(options.show_log ? 1 : 0);
  load_problem(model, solver);
  CbcModel cbc(solver);
  if (!options.show_log) cbc.messageHandler()->setLogLevel(0);
  run_cbc(cbc, options, state);

  MilpResult result;
  result.best_bound = state.sign * from_coin(cbc.getBestPossibleObjValue());
  read_solution(model, cbc, state, result);
  result.status = classify(cbc, state, result.has_solution());
  result.nodes = cbc.getNodeCount();
  result.seconds = seconds_since(state.started);
  return result;
}

}  // namespace

}  // namespace helix
