#include "helix/perf/throughput_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string_view>

#include "helix/core/error.h"

namespace helix {
namespace {

constexpr int kFixedPointIterations = 10;  // §1.5 step 4: exactly 10, no convergence test
constexpr double kSmallClusterFactor = 1.2;  // §1.5 step 0

int class_rank(const std::string& name) {
  static constexpr std::array<std::string_view, 7> kOrder = {"A100", "V100", "L4",  "L4x2",
                                                             "T4",   "T4x2", "T4x4"};
  for (std::size_t i = 0; i < kOrder.size(); ++i) {
    if (kOrder[i] == name) return static_cast<int>(i);
  }
  return static_cast<int>(kOrder.size());
}

// Python's int(x) for a non-negative finite double that must fit an int.
int truncate_to_int(double x, const char* what) {
  if (!std::isfinite(x) || x < 0 || x > std::numeric_limits<int>::max()) {
    fail("throughput model: {} = {} is out of range", what, x);
  }
  return static_cast<int>(std::trunc(x));
}

// Python's round(x) (half to even) for a non-negative finite double.
int round_half_even(double x, const char* what) {
  return truncate_to_int(std::nearbyint(x), what);
}

// §1.5 step 1: the share of a request's round trip spent on `target` holding k layers.
double workload_ratio(int num_layers, const std::vector<MachineClass>& classes,
                      const std::vector<int>& typical_layers, const std::vector<double>& perf,
                      std::size_t target, int k) {
  double sum_time = 0;
  long long sum_layers = 0;
  for (std::size_t i = 0; i < classes.size(); ++i) {
    long long layers = static_cast<long long>(classes[i].count) * typical_layers[i];
    sum_time += static_cast<double>(layers) * (1 / perf[i]);
    sum_layers += layers;
  }
  double round_trip = (num_layers - k) * (sum_time / static_cast<double>(sum_layers));
  double batch_time = k * (1 / perf[target]);
  round_trip += batch_time;
  // Upstream asserts round_trip > batch_time, which fails for k = L; a node holding
  // the whole model simply has ratio 1 here.
  if (!(round_trip > 0) || !std::isfinite(round_trip)) {
    fail("throughput model: {} holding {} of {} layers has a non-positive round trip",
         classes[target].name, k, num_layers);
  }
  return batch_time / round_trip;
}

// §1.5 step 2: typical prompt/decode batch from the KV capacity.
void typical_statistics(TypicalBatch& b, long long kv_capacity, int k) {
  b.available_entries = static_cast<long long>(
      std::trunc(kKvCacheHwm * static_cast<double>(kv_capacity) / k));
  double requests = static_cast<double>(b.available_entries) / (kAvgInputLen + kAvgOutputLen) *
                    b.workload_ratio;
  b.prompt_typical_requests = requests / kAvgOutputLen;
  b.prompt_typical_tokens = round_half_even(b.prompt_typical_requests * kAvgInputLen, "ptt");
  b.decode_typical_tokens = round_half_even(requests, "dtt");
  if (b.prompt_typical_requests > 1) {  // the "linear region" cap
    b.prompt_typical_requests = 1;
    b.prompt_typical_tokens = kAvgInputLen;
    b.decode_typical_tokens = kAvgOutputLen;
  }
}

// §1.5 step 3: tokens/s of one ~750-token prompt plus ~240 decode steps.
double typical_throughput(const TypicalBatch& b, const GpuProfile& profile, int k) {
  int ptt = b.prompt_typical_tokens;
  int dtt = b.decode_typical_tokens;
  double ptr = b.prompt_typical_requests;
  if (ptr >= 1) {
    double total_time = k * (profile.prompt.at(ptt) + profile.decode.at(dtt));
    return total_time > 0 ? (ptt + dtt) / total_time : 0;
  }
  if (!(ptr > 0)) return 0;  // no request fits: upstream would divide by zero
  double rescaling = 1 / ptr;
  double total_tokens = rescaling * (ptt + dtt);
  double prompt_time = profile.prompt.at(truncate_to_int(ptt * rescaling, "int(ptt * r)"));
  double decode_time = profile.decode.at(dtt) * rescaling;
  double total_time = k * (prompt_time + decode_time);
  return total_time > 0 ? total_tokens / total_time : 0;
}

void validate_classes(int num_layers, const std::vector<MachineClass>& classes) {
  if (num_layers <= 0) fail("throughput model: the model must have layers, got {}", num_layers);
  if (classes.empty()) fail("throughput model: the cluster has no machine types");
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const MachineClass& c = classes[i];
    c.profile.validate();
    if (i > 0 && classes[i - 1].name == c.name) fail("throughput model: type '{}' twice", c.name);
    if (c.count < 1) fail("throughput model: type '{}' has {} machines", c.name, c.count);
    for (int typ : {c.typical_layers, c.typical_layers_small}) {
      if (typ < 1 || typ > c.profile.max_layers) {
        fail("throughput model: type '{}' typical layers {} outside 1..{}", c.name, typ,
             c.profile.max_layers);
      }
    }
    if (!(c.initial_perf > 0) || !std::isfinite(c.initial_perf)) {
      fail("throughput model: type '{}' initial perf {} must be > 0", c.name, c.initial_perf);
    }
  }
}

// §1.5 step 0: the larger dict when the cluster holds fewer than 1.2 L typical layers.
bool is_small_cluster(int num_layers, const std::vector<MachineClass>& classes) {
  long long capacity = 0;
  for (const auto& c : classes) capacity += static_cast<long long>(c.count) * c.typical_layers;
  return static_cast<double>(capacity) < num_layers * kSmallClusterFactor;
}

// §1.5 step 4: perf^{t+1}_m = T_m(typ_m; perf^t) * typ_m, Jacobi, 10 times.
std::vector<double> fixed_point(int num_layers, const std::vector<MachineClass>& classes,
                                const std::vector<int>& typical_layers) {
  std::vector<double> perf;
  for (const auto& c : classes) perf.push_back(c.initial_perf);
  for (int iteration = 0; iteration < kFixedPointIterations; ++iteration) {
    std::vector<double> next(classes.size());
    for (std::size_t i = 0; i < classes.size(); ++i) {
      TypicalBatch b = typical_batch(num_layers, classes, typical_layers, perf, i, typical_layers[i]);
      next[i] = b.throughput_tps * typical_layers[i];
      if (!(next[i] > 0) || !std::isfinite(next[i])) {
        fail("throughput model: type '{}' holding its typical {} layers fits no typical batch "
             "(KV cache too small), so its speed is undefined",
             classes[i].name, typical_layers[i]);
      }
    }
    perf = std::move(next);
  }
  return perf;
}

}  // namespace

bool class_order_less(const std::string& a, const std::string& b) {
  int ra = class_rank(a);
  int rb = class_rank(b);
  return ra != rb ? ra < rb : a < b;
}

const ClassThroughput& ThroughputTables::find(const std::string& name) const {
  for (const auto& c : classes) {
    if (c.name == name) return c;
  }
  fail("throughput model: no machine type '{}' in this cluster", name);
}

TypicalBatch typical_batch(int num_layers, const std::vector<MachineClass>& classes,
                           const std::vector<int>& typical_layers,
                           const std::vector<double>& perf, std::size_t target, int k) {
  const GpuProfile& profile = classes.at(target).profile;
  TypicalBatch b;
  b.workload_ratio = workload_ratio(num_layers, classes, typical_layers, perf, target, k);
  typical_statistics(b, profile.kv_cache_capacity(k), k);
  b.throughput_tps = typical_throughput(b, profile, k);
  return b;
}

ThroughputTables compute_throughput(int num_layers, std::vector<MachineClass> classes) {
  std::sort(classes.begin(), classes.end(), [](const MachineClass& a, const MachineClass& b) {
    return class_order_less(a.name, b.name);
  });
  validate_classes(num_layers, classes);
  ThroughputTables tables;
  tables.small_cluster = is_small_cluster(num_layers, classes);
  std::vector<int> typical_layers;
  for (const auto& c : classes) {
    typical_layers.push_back(tables.small_cluster ? c.typical_layers_small : c.typical_layers);
  }
  std::vector<double> perf = fixed_point(num_layers, classes, typical_layers);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    ClassThroughput out;
    out.name = classes[i].name;
    out.typical_layers = typical_layers[i];
    out.normalized_perf = perf[i];
    for (int k = 1; k <= classes[i].profile.max_layers; ++k) {
      out.by_layers.push_back(typical_batch(num_layers, classes, typical_layers, perf, i, k));
    }
    tables.classes.push_back(std::move(out));
  }
  return tables;
}

}  // namespace helix
