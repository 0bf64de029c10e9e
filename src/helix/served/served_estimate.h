// ServedEstimator: what a placement serves in a closed loop, in closed form —
// microseconds per placement, for ranking thousands of candidates before the few
// best are simulated (served_planner.h). And real bounds on what it can serve.
//
// The estimate (docs/design.md, "Planning for what is served"):
//  * concurrency N: the router admits while the KV ledger has room, so the queries
//    in flight fill the tightest layer's KV cache to the admission mark:
//    N = mark x min over layers of (KV slots per layer of the nodes holding it) /
//    (the ledger's charge per query, averaged over queries in proportion to their
//    output: long queries stay longer, so they are over-represented in flight).
//    On the paper's clusters this is within a few % of what the simulator shows.
//  * time per token R: the flow-weighted mean over nodes of a node's stay (a few
//    decode steps' time, plus what prompts in the same batches cost) plus the
//    links' latency and transfer; coefficients fitted to the simulator.
//  * served decode tokens/s = min(N / R, the max flow's decode share).
// The stay model is approximate (about +-20% on R); the simulator has the last word.
#pragma once

#include <span>
#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/flow/flow_network.h"
#include "helix/model/model_spec.h"
#include "helix/perf/machine_classes.h"
#include "helix/perf/perf_model.h"
#include "helix/sched/kv_ledger.h"
#include "helix/sim/sim_config.h"
#include "helix/sim/workload.h"

namespace helix::served {

struct ServedEstimate {
  double decode_tps = 0;        // min(N / R, flow cap)
  std::vector<double> node_stay_s;      // per cluster node: its modelled stay (0: unused)
  std::vector<double> node_share;       // per cluster node: share of the decodes passing it
  std::vector<double> class_time_s;     // per machine class: its nodes' share x stay, summed
  double link_time_s = 0;               // the links' part of R
  double concurrency = 0;       // N: queries in flight
  double time_per_token_s = 0;  // R: mean time between a query's tokens
  double flow_cap_tps = 0;      // decode share of the planner-semantics max flow
  double max_flow_tps = 0;
};

// Real upper bounds on a placement's served decode tokens/s, and a real lower
// bound on the mean time between tokens (what the fastest possible pass takes).
struct ServedBounds {
  double decode_tps = 0;          // min of the two below
  double compute_decode_tps = 0;  // every layer's holders running decode-only at their best batch
  double kv_decode_tps = 0;       // most queries the ledger can admit / fastest time per token
  double time_per_token_s = 0;    // fastest route: its layers at batch 1 plus link latency
};

class ServedEstimator {
 public:
  // `admission_mark`: the share of the tightest layer's KV the queries in flight
  // fill (the paper's offline feeder stops at 0.8; helix's runtime fills to the
  // router's high-water mark). Keeps references: all must outlive it.
  // `runtime` picks the stay model fitted to that runtime's simulation;
  // `prefill_chunk` is helix's prompt chunk.
  ServedEstimator(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
                  const sim::LengthDataset& lengths, sched::KvParameters kv, double admission_mark,
                  sim::Runtime runtime = sim::Runtime::Paper, int prefill_chunk = 512);

  // With helix's own max flow (fast: for ranking thousands of candidates).
  ServedEstimate estimate(std::span<const LayerRange> ranges) const;
  // With the split the Helix router really uses (networkx's max flow over the
  // placement's pipeline links; slower), which decides what carries traffic.
  ServedEstimate estimate_with_router_split(std::span<const LayerRange> ranges) const;
  ServedBounds bounds(std::span<const LayerRange> ranges) const;

  // Calibration from simulations of this cluster (the planner's loop): the stay
  // of a node of machine class c is multiplied by stay_factor[c], the concurrency
  // by concurrency_factor. Fits come from fit_calibration().
  struct Calibration {
    std::vector<double> stay_factor;  // per machine class; empty: 1
    double concurrency_factor = 1;
  };
  void set_calibration(Calibration c) { calibration_ = std::move(c); }
  // Least squares over simulated placements: each sample is an estimate (with its
  // modelled stays) and what the simulator measured for the same placement.
  struct Sample {
    ServedEstimate estimate;          // uncalibrated
    std::vector<double> stay_s;       // measured, per cluster node (0: no decode passed)
    std::vector<double> share;        // measured decode share per node
    double concurrency = 0;           // measured
  };
  Calibration fit_calibration(const std::vector<Sample>& samples) const;
  // An uncalibrated estimate's decode tokens/s under a calibration (no new flow).
  static double calibrated_decode_tps(const ServedEstimate& raw, const Calibration& c);

 private:
  double stay_s(int node, int layers, double decode_rate, double prompt_rate) const;
  ServedEstimate estimate_from_flow(std::span<const LayerRange> ranges, const FlowSolution& flow) const;
  // The smallest over layers of the KV slots per layer of its holders (of those
  // marked in `only`, if given).
  double kv_per_layer_min(std::span<const LayerRange> ranges, const std::vector<char>* only) const;

  int class_of(int node) const { return classes_.node_class[static_cast<std::size_t>(node)]; }

  Calibration calibration_;
  const ClusterSpec& cluster_;
  const ModelSpec& model_;
  const PerfModel& perf_;
  ClusterClasses classes_;
  sched::KvParameters kv_;
  double mark_;
  sim::Runtime runtime_;
  double mean_input_ = 0, mean_output_ = 0;
  double charge_ = 0;      // the ledger's charge per query in flight (output-weighted)
  double min_charge_ = 0;  // the smallest charge any query of the dataset makes
  // Per machine class: per-layer decode time at a typical batch, mean prompt
  // time and mean squared prompt time over the dataset's inputs.
  std::vector<double> decode_s_, prompt_s_, prompt_sq_s_;
};

}  // namespace helix::served
