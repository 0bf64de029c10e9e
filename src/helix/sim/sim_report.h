// SimReport: what one simulation measured, and its versioned JSON form
// ("helix-sim-report" v1, docs/formats.md). Definitions follow the paper's
// scripts (simulator spec §10) so the numbers compare one to one:
//  * decode throughput = decode iterations gathered at the coordinator inside the
//    window [window_start, window_end] / window length (tokens/s);
//  * latency of an iteration = arrival at the coordinator - issue time, so a
//    prompt's latency includes its wait at the coordinator and a decode's is the
//    time per output token; percentiles are sorted[int(n q)] over the iterations
//    finished inside the window.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace helix::sim {

inline constexpr int kSimReportVersion = 1;

struct LatencyStats {
  std::int64_t count = 0;
  double mean_s = 0;
  double p5_s = 0, p25_s = 0, p50_s = 0, p75_s = 0, p95_s = 0, p99_s = 0, max_s = 0;
};
// sorted[int(n q)] percentiles (no interpolation, as the paper prints them).
LatencyStats latency_stats(std::vector<double> samples);

struct NodeReport {
  std::string name;
  std::string gpu;
  int first_layer = 0, end_layer = 0;   // [first, end)
  double busy_share = 0;                // share of the window spent executing
  double kv_peak_share = 0;             // peak real KV use / capacity, whole run
  double kv_capacity = 0;               // token x layer slots
  std::int64_t layer_batches = 0;       // executed (layer, batch) pairs, whole run
  // Where a token's time goes, over iterations that finish here inside the window:
  // mean time from reaching the node to leaving its last layer (queueing included).
  double mean_decode_stay_s = 0, mean_prompt_stay_s = 0;
  std::int64_t decode_visits = 0, prompt_visits = 0;
  double mean_decode_batch = 0;         // decodes per layer batch in the window
  double prompt_batch_share = 0;        // share of the window's layer batches that hold a prompt
};

struct LinkReport {
  std::string from, to;
  double bandwidth_Bps = 0;
  double flow_tps = 0;        // the link's max-flow flow (what Helix routes by)
  double busy_share = 0;      // share of the window with a transmission in its sending phase
  double bytes_in_window = 0;
  std::int64_t transmissions = 0;  // whole run
  // Decode iterations delivered inside the window: mean time from joining the
  // sender's outbound list to delivery (waiting for the link, sending, latency).
  double mean_decode_hop_s = 0;
  std::int64_t decode_hops = 0;
};

// Finished iterations, kept for plots and custom analysis.
struct FinishedSamples {
  std::vector<double> prompt_finish_s, prompt_latency_s, prompt_tokens;
  std::vector<double> decode_finish_s, decode_latency_s;
};

struct SimReport {
  nlohmann::json settings = nlohmann::json::object();  // scheduler, mode, workload, cluster, ...
  double model_loading_end_s = 0;
  double window_start_s = 0, window_end_s = 0;
  double max_flow_tps = 0;              // simulator-semantics max flow of the placement
  double offered_tps = 0;               // online: Σ(input+output) of the trace / duration
  double decode_tps = 0;                // decode tokens/s in the window (the paper's headline)
  double prompt_tps = 0;                // prompt tokens/s finished in the window
  std::int64_t decodes_in_window = 0, prompts_in_window = 0;
  LatencyStats prompt_latency, decode_latency;
  double total_time_s = 0;              // last finish time (the readme's "total time usage")
  double total_tps = 0;                 // all finished tokens since t = 0 / total_time_s
  std::int64_t queries_created = 0, queries_finished = 0, queries_rejected = 0;
  std::int64_t queries_deferred = 0;    // online: routed later because no node had room
  std::int64_t kv_overflows = 0;        // layer executions that overfilled a node's real KV
  std::int64_t preemptions = 0;         // helix runtime: requests a worker gave up for KV (recomputed)
  std::int64_t events = 0;
  double end_time_s = 0;                // simulated time at the end of the run
  std::vector<NodeReport> nodes;
  std::vector<LinkReport> links;
  FinishedSamples samples;
};

// Fills the window figures of `r` (throughputs, latency statistics, totals) from
// r.samples, for the window [r.window_start_s, r.window_end_s].
void summarise_samples(SimReport& r);

// The JSON report; samples are left out unless `with_samples`.
nlohmann::json report_to_json(const SimReport& report, bool with_samples = false);
void save_report(const SimReport& report, const std::filesystem::path& path, bool with_samples = false);

}  // namespace helix::sim
