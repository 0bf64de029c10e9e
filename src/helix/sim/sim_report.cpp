#include "helix/sim/sim_report.h"

#include <algorithm>
#include <fstream>
#include <numeric>

#include "helix/core/error.h"

namespace helix::sim {
namespace {

double at_quantile(const std::vector<double>& sorted, double q) {
  auto i = static_cast<std::size_t>(static_cast<double>(sorted.size()) * q);
  return sorted[std::min(i, sorted.size() - 1)];
}

nlohmann::json stats_json(const LatencyStats& s) {
  return {{"count", s.count}, {"mean_s", s.mean_s}, {"p5_s", s.p5_s},   {"p25_s", s.p25_s},
          {"p50_s", s.p50_s}, {"p75_s", s.p75_s},   {"p95_s", s.p95_s}, {"p99_s", s.p99_s},
          {"max_s", s.max_s}};
}

}  // namespace

LatencyStats latency_stats(std::vector<double> samples) {
  LatencyStats s;
  s.count = static_cast<std::int64_t>(samples.size());
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.mean_s = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  s.p5_s = at_quantile(samples, 0.05);
  s.p25_s = at_quantile(samples, 0.25);
  s.p50_s = at_quantile(samples, 0.5);
  s.p75_s = at_quantile(samples, 0.75);
  s.p95_s = at_quantile(samples, 0.95);
  s.p99_s = at_quantile(samples, 0.99);
  s.max_s = samples.back();
  return s;
}

void summarise_samples(SimReport& r) {
  const double duration = r.window_end_s - r.window_start_s;
  const FinishedSamples& s = r.samples;
  std::vector<double> prompt_lat, decode_lat;
  double prompt_tokens = 0, all_tokens = 0, last = 0;
  auto inside = [&](double t) { return t >= r.window_start_s && t <= r.window_end_s; };
  for (std::size_t i = 0; i < s.prompt_finish_s.size(); ++i) {
    all_tokens += s.prompt_tokens[i];
    last = std::max(last, s.prompt_finish_s[i]);
    if (!inside(s.prompt_finish_s[i])) continue;
    prompt_lat.push_back(s.prompt_latency_s[i]);
    prompt_tokens += s.prompt_tokens[i];
  }
  for (std::size_t i = 0; i < s.decode_finish_s.size(); ++i) {
    all_tokens += 1;
    last = std::max(last, s.decode_finish_s[i]);
    if (inside(s.decode_finish_s[i])) decode_lat.push_back(s.decode_latency_s[i]);
  }
  r.prompts_in_window = static_cast<std::int64_t>(prompt_lat.size());
  r.decodes_in_window = static_cast<std::int64_t>(decode_lat.size());
  r.decode_tps = static_cast<double>(decode_lat.size()) / duration;
  r.prompt_tps = prompt_tokens / duration;
  r.prompt_latency = latency_stats(std::move(prompt_lat));
  r.decode_latency = latency_stats(std::move(decode_lat));
  r.total_time_s = last;
  r.total_tps = last > 0 ? all_tokens / last : 0;
}

nlohmann::json report_to_json(const SimReport& r, bool with_samples) {
  nlohmann::json j;
  j["format"] = "helix-sim-report";
  j["version"] = kSimReportVersion;
  j["settings"] = r.settings;
  j["model_loading_end_s"] = r.model_loading_end_s;
  j["window"] = {{"start_s", r.window_start_s}, {"end_s", r.window_end_s}};
  j["max_flow_tps"] = r.max_flow_tps;
  j["offered_tps"] = r.offered_tps;
  j["throughput"] = {{"decode_tps", r.decode_tps},
                     {"prompt_tps", r.prompt_tps},
                     {"decodes_in_window", r.decodes_in_window},
                     {"prompts_in_window", r.prompts_in_window},
                     {"total_time_s", r.total_time_s},
                     {"total_tps", r.total_tps}};
  j["latency"] = {{"prompt", stats_json(r.prompt_latency)}, {"decode", stats_json(r.decode_latency)}};
  j["queries"] = {{"created", r.queries_created},
                  {"finished", r.queries_finished},
                  {"rejected", r.queries_rejected},
                  {"deferred", r.queries_deferred}};
  j["kv_overflows"] = r.kv_overflows;
  j["preemptions"] = r.preemptions;
  j["events"] = r.events;
  j["end_time_s"] = r.end_time_s;
  nlohmann::json nodes = nlohmann::json::array();
  for (const NodeReport& n : r.nodes) {
    nodes.push_back({{"name", n.name},
                     {"gpu", n.gpu},
                     {"layers", {n.first_layer, n.end_layer}},
                     {"busy_share", n.busy_share},
                     {"kv_peak_share", n.kv_peak_share},
                     {"kv_capacity", n.kv_capacity},
                     {"layer_batches", n.layer_batches},
                     {"decode_visits", n.decode_visits},
                     {"mean_decode_stay_s", n.mean_decode_stay_s},
                     {"prompt_visits", n.prompt_visits},
                     {"mean_prompt_stay_s", n.mean_prompt_stay_s},
                     {"mean_decode_batch", n.mean_decode_batch},
                     {"prompt_batch_share", n.prompt_batch_share}});
  }
  j["nodes"] = nodes;
  nlohmann::json links = nlohmann::json::array();
  for (const LinkReport& l : r.links) {
    links.push_back({{"from", l.from},
                     {"to", l.to},
                     {"bandwidth_Bps", l.bandwidth_Bps},
                     {"flow_tps", l.flow_tps},
                     {"busy_share", l.busy_share},
                     {"bytes_in_window", l.bytes_in_window},
                     {"transmissions", l.transmissions},
                     {"decode_hops", l.decode_hops},
                     {"mean_decode_hop_s", l.mean_decode_hop_s}});
  }
  j["links"] = links;
  if (with_samples) {
    const FinishedSamples& s = r.samples;
    j["samples"] = {{"prompt_finish_s", s.prompt_finish_s},
                    {"prompt_latency_s", s.prompt_latency_s},
                    {"prompt_tokens", s.prompt_tokens},
                    {"decode_finish_s", s.decode_finish_s},
                    {"decode_latency_s", s.decode_latency_s}};
  }
  return j;
}

void save_report(const SimReport& report, const std::filesystem::path& path, bool with_samples) {
  std::ofstream out(path);
  if (!out) fail("{}: cannot write the report", path.string());
  out << report_to_json(report, with_samples).dump(2) << "\n";
  if (!out) fail("{}: writing the report failed", path.string());
}

}  // namespace helix::sim
