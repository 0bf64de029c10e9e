// A small metrics registry that writes the Prometheus text exposition format
// 0.0.4 (what GET /metrics serves): counters, gauges and fixed-bucket histograms,
// grouped in families with # HELP / # TYPE, one sample per label set.
//
// Thread safety: the registry's maps are guarded by a mutex; the metric objects it
// hands out are themselves thread-safe and live as long as the registry, so hot
// paths keep a reference and update it without touching the registry again.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace helix::api {

// Label name/value pairs. Their order does not matter: a label set is kept
// sorted by name, so {a,b} and {b,a} are the same sample.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A value that only goes up (requests served, tokens generated).
class Counter {
 public:
  void inc(double amount = 1.0);  // amount >= 0
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (requests running).
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into fixed buckets (upper bounds, inclusive, increasing;
// +Inf is implied), plus their sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);

  // Records `value` `times` times (an inter-token gap shared by a multi-token
  // delta is recorded once per token).
  void observe(double value, std::uint64_t times = 1);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per upper bound, then +Inf (== count)
    double sum = 0.0;
    std::uint64_t count = 0;
  };
  // A consistent copy: the +Inf bucket always equals count.
  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
};

// `count` bounds start, start*factor, start*factor^2, ...
std::vector<double> exponential_buckets(double start, double factor, int count);

// Label values with \ " and newline escaped, as the text format requires.
std::string escape_label_value(std::string_view value);
// A sample value: shortest round-trip decimal, +Inf, -Inf or NaN.
std::string format_metric_value(double value);

class MetricsRegistry {
 public:
  // The metric of family `name` with `labels`, created on first use. Asking for
  // an existing name with another type (or a histogram with other buckets) is a
  // helix::Error, as are invalid metric or label names. `help` is taken from the
  // first call.
  Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& upper_bounds,
                       const MetricLabels& labels = {});

  // All families in registration order, samples sorted by label set.
  std::string render() const;

 private:
  enum class Type { Counter, Gauge, Histogram };
  struct Sample {
    MetricLabels labels;  // sorted by name
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type = Type::Counter;
    std::vector<double> upper_bounds;       // histograms
    std::map<std::string, Sample> samples;  // by rendered label set
  };

  Sample& sample(std::string_view name, std::string_view help, Type type, const std::vector<double>& upper_bounds,
                 const MetricLabels& labels);
  static void render_family(const Family& family, std::string& out);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family>> families_;  // registration order
};

}  // namespace helix::api
