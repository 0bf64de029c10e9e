#include "helix/served/served_estimate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "helix/flow/flow_network.h"
#include "helix/flow/networkx_flow.h"

namespace helix::served {
namespace {

// Stay of a decode at a node, fitted by least squares to the stays the paper's
// simulator measured on 665 nodes of 26 placements of the three 70B clusters (the
// paper's, the baselines', lane designs; docs/design.md): a fixed wait of about
// five one-layer decode steps per stage (the batch it missed, the platoon split
// at arrival), one and a half steps per layer held, and the wait behind prompt
// passes in proportion to how often they come. Time per token within 10% on
// average (28% at worst) over those placements.
// helix's runtime (fitted the same way on 26 placements of its model): a smaller
// wait per stage (workers gather a batch before they step), prompts as chunks.
struct StayModel {
  double stage_wait, decode_steps, prompt_wait;
};
constexpr StayModel kPaperStays{4.94, 1.53, 0.875};
constexpr StayModel kHelixStays{1.03, 1.25, 1.87};
constexpr int kTypicalBatch = 16;  // decodes per step in the simulated runs

double clamped(const LayerTimeTable& t, long long x) {
  const long long lo = t.points().front().tokens;
  return t.at(static_cast<int>(std::clamp<long long>(x, lo, t.max_tokens())));
}

}  // namespace

ServedEstimator::ServedEstimator(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
                                 const sim::LengthDataset& lengths, sched::KvParameters kv, double admission_mark,
                                 sim::Runtime runtime, int prefill_chunk)
    : cluster_(cluster), model_(model), perf_(perf), classes_(resolve_machine_classes(cluster, model)), kv_(kv),
      mark_(admission_mark), runtime_(runtime) {
  double out_sum = 0, weighted = 0;
  min_charge_ = std::numeric_limits<double>::infinity();
  for (const sim::LengthPair& p : lengths.pairs) {
    const double charge = std::floor(p.input_tokens + 240.0 * kv.expected_output_ratio);
    weighted += charge * p.output_tokens;
    out_sum += p.output_tokens;
    min_charge_ = std::min(min_charge_, charge);
  }
  charge_ = out_sum > 0 ? weighted / out_sum : 1;
  mean_input_ = lengths.mean_input();
  mean_output_ = lengths.mean_output();
  for (const MachineClass& c : classes_.classes) {
    decode_s_.push_back(clamped(c.profile.decode, kTypicalBatch));
    double sum = 0, sq = 0;
    std::size_t n = 0;
    // Every 16th input is plenty for a mean.
    for (std::size_t i = 0; i < lengths.pairs.size(); i += 16, ++n) {
      const int input = lengths.pairs[i].input_tokens;
      sum += clamped(c.profile.prompt, input);
      // helix's workers run a prompt as chunks of prefill_chunk tokens, one per step.
      const int chunk = runtime == sim::Runtime::Helix ? std::max(1, prefill_chunk) : input;
      for (int left = input; left > 0; left -= chunk) {
        const double t = clamped(c.profile.prompt, std::min(left, chunk));
        sq += t * t;
      }
    }
    prompt_s_.push_back(n > 0 ? sum / static_cast<double>(n) : 0);
    prompt_sq_s_.push_back(n > 0 ? sq / static_cast<double>(n) : 0);
  }
}

double ServedEstimator::stay_s(int node, int layers, double decode_rate, double prompt_rate) const {
  (void)decode_rate;
  const auto c = static_cast<std::size_t>(class_of(node));
  const double k = layers;
  const double factor = c < calibration_.stay_factor.size() ? calibration_.stay_factor[c] : 1.0;
  const StayModel& m = runtime_ == sim::Runtime::Paper ? kPaperStays : kHelixStays;
  return factor * (m.stage_wait * decode_s_[c] + m.decode_steps * k * decode_s_[c] +
                   m.prompt_wait * prompt_rate * k * k * prompt_sq_s_[c]);
}

double ServedEstimator::kv_per_layer_min(std::span<const LayerRange> ranges, const std::vector<char>* only) const {
  std::vector<double> per_layer(static_cast<std::size_t>(model_.num_layers), 0);
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const LayerRange& r = ranges[i];
    if (r.empty() || (only != nullptr && !(*only)[i])) continue;
    const NodePerf& p = perf_.node(static_cast<int>(i));
    const int k = std::min(r.size(), p.max_layers);
    if (k < 1) continue;
    const double slots = p.kv_capacity[static_cast<std::size_t>(k - 1)] / r.size();
    for (int l = r.start; l < r.end; ++l) per_layer[static_cast<std::size_t>(l)] += slots;
  }
  return *std::min_element(per_layer.begin(), per_layer.end());
}

ServedEstimate ServedEstimator::estimate(std::span<const LayerRange> ranges) const {
  return estimate_from_flow(ranges, solve_planner_flow(cluster_, model_, perf_, ranges));
}

ServedEstimate ServedEstimator::estimate_with_router_split(std::span<const LayerRange> ranges) const {
  const std::vector<LinkPair> links = select_pipeline_links(cluster_, ranges, model_.num_layers);
  return estimate_from_flow(ranges, solve_simulator_flow_networkx(cluster_, model_, perf_, ranges, links));
}

ServedEstimate ServedEstimator::estimate_from_flow(std::span<const LayerRange> ranges, const FlowSolution& flow) const {
  ServedEstimate e;
  e.max_flow_tps = flow.max_flow_tps;
  if (!(flow.max_flow_tps > 0)) return e;
  e.flow_cap_tps = flow.max_flow_tps * mean_output_ / (mean_input_ + mean_output_);
  // The router sends nothing through a node its max flow leaves idle, so only
  // the flowing nodes' KV takes queries (up to the router's mark), while the
  // feeder's mark counts every holder's.
  std::vector<char> flowing(ranges.size(), 0);
  for (const FlowArc& a : flow.arcs) {
    if (a.kind == ArcKind::Compute && a.flow_tps > 1e-6 * flow.max_flow_tps) flowing[static_cast<std::size_t>(a.node)] = 1;
  }
  const double admitted = std::min(mark_ * kv_per_layer_min(ranges, nullptr),
                                   kv_.expected_kv_hwm * kv_per_layer_min(ranges, &flowing));
  e.concurrency = calibration_.concurrency_factor * admitted / charge_;
  e.node_stay_s.assign(ranges.size(), 0);
  e.node_share.assign(ranges.size(), 0);
  e.class_time_s.assign(classes_.classes.size(), 0);
  // R depends on the load (prompt passes per second), which depends on R: a few
  // rounds of the fixed point settle it.
  const double activation = model_.token_size_bytes + model_.activation_bytes_per_token;
  double x = e.flow_cap_tps;
  for (int round = 0; round < 4; ++round) {
    double r = 0;
    std::fill(e.class_time_s.begin(), e.class_time_s.end(), 0.0);
    e.link_time_s = 0;
    for (const FlowArc& a : flow.arcs) {
      if (a.flow_tps <= 0) continue;
      const double share = a.flow_tps / flow.max_flow_tps;
      const double decodes = x * share;
      const double prompts = decodes / std::max(1.0, mean_output_);
      if (a.kind == ArcKind::Compute) {
        const double stay = stay_s(a.node, ranges[static_cast<std::size_t>(a.node)].size(), decodes, prompts);
        e.node_stay_s[static_cast<std::size_t>(a.node)] = stay;
        e.node_share[static_cast<std::size_t>(a.node)] = share;
        e.class_time_s[static_cast<std::size_t>(class_of(a.node))] += share * stay;
        r += share * stay;
      } else if (a.kind == ArcKind::Link) {
        const Link* link = cluster_.find_link(a.from, a.to);
        if (link == nullptr || !(link->bandwidth_Bps > 0)) continue;
        const double bytes = (a.from == kCoordinator || a.to == kCoordinator) ? model_.token_size_bytes : activation;
        const double send = bytes / link->bandwidth_Bps;
        // Decodes queue behind prompts' activations on the link (one at a time).
        const double busy = std::min(0.95, (decodes + prompts * mean_input_) * send);
        const double prompt_send = mean_input_ * send;
        const double hop = share * (link->latency_s + send + busy * prompt_send / (2 * (1 - busy)));
        e.link_time_s += hop;
        r += hop;
      }
    }
    e.time_per_token_s = r;
    x = std::min(e.flow_cap_tps, e.concurrency / std::max(r, 1e-9));
  }
  e.decode_tps = x;
  return e;
}

ServedEstimator::Calibration ServedEstimator::fit_calibration(const std::vector<Sample>& samples) const {
  Calibration c;
  const std::size_t classes = classes_.classes.size();
  std::vector<double> num(classes, 0), den(classes, 0);
  std::vector<double> ratios;
  for (const Sample& s : samples) {
    // Stays divided by the calibration they were estimated under, if any: fit
    // against the raw model.
    for (std::size_t i = 0; i < s.stay_s.size() && i < s.estimate.node_stay_s.size(); ++i) {
      const double model = s.estimate.node_stay_s[i];
      if (!(model > 0) || !(s.stay_s[i] > 0) || i >= s.share.size()) continue;
      const auto k = static_cast<std::size_t>(class_of(static_cast<int>(i)));
      const double w = s.share[i];
      num[k] += w * model * s.stay_s[i];
      den[k] += w * model * model;
    }
    if (s.estimate.concurrency > 0 && s.concurrency > 0) ratios.push_back(s.concurrency / s.estimate.concurrency);
  }
  c.stay_factor.assign(classes, 1.0);
  for (std::size_t k = 0; k < classes; ++k) {
    if (den[k] > 0) c.stay_factor[k] = std::clamp(num[k] / den[k], 0.2, 5.0);
  }
  if (!ratios.empty()) {
    std::sort(ratios.begin(), ratios.end());
    c.concurrency_factor = std::clamp(ratios[ratios.size() / 2], 0.3, 3.0);
  }
  return c;
}

double ServedEstimator::calibrated_decode_tps(const ServedEstimate& raw, const Calibration& c) {
  double r = raw.link_time_s;
  for (std::size_t k = 0; k < raw.class_time_s.size(); ++k) {
    r += raw.class_time_s[k] * (k < c.stay_factor.size() ? c.stay_factor[k] : 1.0);
  }
  if (!(r > 0)) return 0;
  return std::min(raw.flow_cap_tps, c.concurrency_factor * raw.concurrency / r);
}

ServedBounds ServedEstimator::bounds(std::span<const LayerRange> ranges) const {
  ServedBounds b;
  const int L = model_.num_layers;
  // Compute: a decode token passes every layer once; a node holding k layers runs
  // at most max_D D / (k t_d(D)) of them per second, whatever else it does.
  std::vector<double> per_layer(static_cast<std::size_t>(L), 0);
  std::vector<double> fastest(static_cast<std::size_t>(L), std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const LayerRange& r = ranges[i];
    if (r.empty()) continue;
    const auto c = static_cast<std::size_t>(classes_.node_class[i]);
    const GpuProfile& p = classes_.classes[c].profile;
    const int k = std::min(r.size(), p.max_layers);
    const int d_max = std::max(1, p.limits(std::max(1, k)).decode_max_tokens);
    double best = 0;
    for (const auto& pt : p.decode.points()) {
      if (pt.tokens < 1 || pt.tokens > d_max || !(pt.seconds > 0)) continue;
      best = std::max(best, pt.tokens / (pt.seconds * (pt.tokens == 1 ? 2 : 1)));
    }
    // The quickest step with a decode in it: one decode (the x2 rule) or any batch.
    double one = clamped(p.decode, 1) * 2;
    for (const auto& pt : p.decode.points()) {
      if (pt.tokens >= 2) one = std::min(one, pt.seconds);
    }
    // Every route runs a node's whole range (no partial inference in planned
    // placements), so each of its tokens costs the node k layers.
    for (int l = r.start; l < r.end; ++l) {
      per_layer[static_cast<std::size_t>(l)] += best / r.size();
      fastest[static_cast<std::size_t>(l)] = std::min(fastest[static_cast<std::size_t>(l)], one);
    }
  }
  b.compute_decode_tps = *std::min_element(per_layer.begin(), per_layer.end());
  // Latency: no token is faster than the fastest holder of every layer at batch 1
  // (ignoring that one route may not reach them all: still a lower bound).
  double t = 0;
  for (double f : fastest) t += f;
  b.time_per_token_s = t;
  // KV: the ledger admits a query only below its mark, so at most
  // (mark x tightest layer + one more charge) / smallest charge are in flight.
  const double admitted = (kv_.expected_kv_hwm * kv_per_layer_min(ranges, nullptr) + std::floor(2048 + 240.0 * kv_.expected_output_ratio)) /
                          std::max(1.0, min_charge_);
  b.kv_decode_tps = t > 0 ? admitted / t : 0;
  b.decode_tps = std::min(b.compute_decode_tps, b.kv_decode_tps);
  return b;
}

}  // namespace helix::served
