// Workloads for the simulator: request-length datasets, arrival patterns and
// traces (simulator spec §9, planner spec §4.5).
//
//  * A LengthDataset is a list of (input, output) token pairs; sampling picks one
//    row's index, so the two lengths stay paired (as upstream's LengthSampler).
//  * An ArrivalPattern is the paper's per-3-second request counts.
//  * A Trace is a list of queries with arrival times: from a CSV (the paper's
//    reference traces), generated exactly as upstream's TraceGenerator does
//    (CPython's MT19937, so the paper's traces are reproduced bit for bit), or
//    Poisson arrivals at a given offered token rate.
//
// Built-in datasets (compiled in from data/traces, the paper's artifact):
//   "azure-conv", "azure-code", "alpaca", "shared-gpt" (lengths) and
//   "azure-conv", "azure-code" (arrival patterns).
// Every loader error names the file (or dataset) and line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "helix/core/python_random.h"

namespace helix::sim {

struct LengthPair {
  int input_tokens = 0;
  int output_tokens = 0;
  bool operator==(const LengthPair&) const = default;
};

struct LengthDataset {
  std::string name;
  std::vector<LengthPair> pairs;
  double mean_input() const;
  double mean_output() const;
  // mean_input() + mean_output(): tokens per query (995.528 for azure-conv).
  double mean_total() const;
};

// CSV "index,input_tokens,output_tokens" (header required; index must count 0,1,2..;
// lengths >= 1). Throws Error naming file:line and the column.
LengthDataset load_length_dataset(const std::filesystem::path& csv);
// A built-in dataset by name (list above), or a path to a CSV file.
LengthDataset length_dataset(const std::string& name_or_path);
std::vector<std::string> builtin_length_datasets();

// Draws lengths as upstream's LengthSampler does: pairs[randbelow(size)] from the
// given generator (shared with other users of the same stream, as upstream's
// global `random`). With PythonRandom(0) the draws equal
// reference_traces/offline_length_sequence_seed0.csv.
class LengthSampler {
 public:
  LengthSampler(const LengthDataset& dataset, PythonRandom& rng);
  LengthPair next();

 private:
  const LengthDataset* dataset_;
  PythonRandom* rng_;
};

struct ArrivalPattern {
  std::string name;
  double interval_s = 3;          // length of one bucket
  std::vector<double> counts;     // requests per bucket
  double mean_count() const;
};

// CSV "interval_index,interval_start_s,num_arrivals". Throws Error naming file:line.
// interval_s is the spacing of interval_start_s (which must be even; 3 s for one row).
ArrivalPattern load_arrival_pattern(const std::filesystem::path& csv);
// A built-in pattern by name ("azure-conv", "azure-code") or a path to a CSV file.
ArrivalPattern arrival_pattern(const std::string& name_or_path);
std::vector<std::string> builtin_arrival_patterns();

struct QuerySpec {
  double arrival_s = 0;
  int input_tokens = 0;
  int output_tokens = 0;
  bool operator==(const QuerySpec&) const = default;  // exact: no tolerance on times
};

struct Trace {
  std::vector<QuerySpec> queries;  // sorted by arrival time
  // Σ (input + output) / duration: the offered token load upstream prints.
  double offered_tps(double duration_s) const;
  bool operator==(const Trace&) const = default;
};

// CSV "query_index,arrival_time_s,input_tokens,output_tokens" (the paper's
// reference_traces/online_*.csv). Arrival times must be finite, >= 0 and
// non-decreasing; lengths >= 1. Throws Error naming file:line.
Trace load_trace(const std::filesystem::path& csv);
void save_trace(const Trace& trace, const std::filesystem::path& csv);  // same format, %.17g

// Upstream's TraceGenerator + OnlineRequestFeeder trace, exactly (simulator spec
// §9.3): the pattern is rescaled so the mean request rate is
// avg_throughput_tps / dataset.mean_total(); for each of duration_s / interval_s
// buckets j: raw = scaled[randbelow(#counts)], n = round_half_even(raw + carry),
// carry = raw + carry - n, n arrival times start_s + interval*j + interval*random()
// sorted, then n length draws pairs[randbelow(size)]. rng = PythonRandom(seed).
// With the azure-conv dataset and pattern, seed 0, this reproduces
// reference_traces/online_tp<avg>_start<start>.csv bit for bit.
// Throws Error if avg_throughput_tps <= 0 or duration_s <= 0.
Trace generate_paper_trace(const LengthDataset& dataset, const ArrivalPattern& pattern,
                           double avg_throughput_tps, double start_s, double duration_s,
                           std::uint64_t seed);

// Poisson arrivals with mean rate avg_throughput_tps / dataset.mean_total()
// requests/s over [start_s, start_s + duration_s), lengths sampled uniformly from
// the dataset; deterministic for a seed. Throws Error if the rate or duration <= 0.
Trace generate_poisson_trace(const LengthDataset& dataset, double avg_throughput_tps,
                             double start_s, double duration_s, std::uint64_t seed);

}  // namespace helix::sim
