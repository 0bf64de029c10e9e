// Solving a MilpModel with COIN-OR CBC (2.10, the Debian package; deps.md §1).
//
// CBC runs its full standalone strategy (CbcMain0/CbcMain1: preprocessing, cuts,
// feasibility pump, dives), not a bare branchAndBound(), which finds far worse
// solutions. The time limit is wall clock ("-timeMode elapsed"; CBC counts CPU
// seconds by default). With threads <= 1 CBC runs its serial, deterministic search;
// more threads make results vary from run to run under a time limit.
//
// CBC's standalone driver is not reentrant, so solves are serialised process-wide:
// a second concurrent call waits for the first. CBC's own SIGINT handler is not
// installed (Ctrl-C stays the application's; use the stop flag).
//
// Cancellation: the stop flag is read by a CBC event handler, which fires on
// every node and every new solution; setting it aborts the search and keeps the
// incumbent. During long root phases (cuts, heuristics) events are rarer, so a stop
// may take a moment to be noticed.
#pragma once

#include <atomic>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "helix/milp/milp_model.h"

namespace helix {

enum class MilpStatus {
  Optimal,     // proven optimal (within CBC's default tolerances)
  Feasible,    // a limit was reached; the result is the best solution found
  Infeasible,  // proven to have no solution
  Unbounded,   // the LP relaxation is unbounded
  NoSolution,  // a limit was reached before any solution was found
  Stopped,     // the stop flag was set; the incumbent (if any) is kept
};

// "optimal", "time limit", "infeasible", "unbounded", "no solution found", "stopped".
std::string to_string(MilpStatus status);

// "CBC 2.10.8": the library version helix is linked against.
std::string cbc_version();

// A new best solution, as CBC reports it during the search.
struct MilpIncumbent {
  double seconds = 0;    // since solve_with_cbc was called (wall clock)
  double objective = 0;  // in the model's own sense (a maximum stays a maximum)
  double bound = 0;      // CBC's best possible objective at that moment
};

struct MilpOptions {
  double time_limit_s = 0;  // wall clock; <= 0: no limit
  int threads = 1;          // <= 1: serial and deterministic
  // Branch-and-bound nodes before CBC stops (<= 0: no limit). Unlike a time limit,
  // a node limit keeps a serial solve's result independent of the machine's speed.
  long max_nodes = 0;
  // Only solutions strictly better than this objective (in the model's sense) are
  // wanted; CBC prunes every node that cannot beat it. NaN: none. Cheaper and more
  // robust than a MIP start when the caller already has a solution of that value.
  double cutoff = std::numeric_limits<double>::quiet_NaN();
  // Optional MIP start: (column name, value). Columns left out are completed by
  // CBC (it fixes the given integer columns and solves for the rest). Unknown
  // names are an Error.
  std::vector<std::pair<std::string, double>> mip_start;
  std::function<void(const MilpIncumbent&)> on_incumbent;  // may be empty
  const std::atomic<bool>* stop = nullptr;                 // may be null
  bool show_log = false;  // print CBC's own log on stdout (quiet by default)
};

struct MilpResult {
  MilpStatus status = MilpStatus::NoSolution;
  double objective = 0;      // of `values`; meaningful only if has_solution()
  double best_bound = 0;     // CBC's best possible objective (model's sense); +-inf if none
  std::vector<double> values;  // one per column; empty without a solution
  double time_to_best_s = 0;   // when the returned solution was first seen
  double seconds = 0;          // total wall-clock time of the solve
  long nodes = 0;              // branch-and-bound nodes explored

  bool has_solution() const { return !values.empty(); }
};

// Throws Error for a malformed start (unknown column name); solver outcomes,
// including infeasibility, are reported in MilpResult::status.
MilpResult solve_with_cbc(const MilpModel& model, const MilpOptions& options = {});

}  // namespace helix
