#include "helix/api/prometheus.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "helix/core/error.h"

namespace helix::api {
namespace {

bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void check_labels(std::string_view family, const MetricLabels& labels, bool histogram) {
  for (const auto& [name, value] : labels) {
    if (!valid_name(name, false) || name.starts_with("__")) fail("metric {}: invalid label name '{}'", family, name);
    // Histograms own `le` for their buckets.
    if (histogram && name == "le") fail("metric {}: label 'le' is reserved for histogram buckets", family);
  }
}

MetricLabels sorted(MetricLabels labels) {
  std::sort(labels.begin(), labels.end());
  for (std::size_t i = 1; i < labels.size(); ++i)
    if (labels[i].first == labels[i - 1].first) fail("metric label '{}' given twice", labels[i].first);
  return labels;
}

// `name="value",...` without braces; `le` (histogram buckets) goes last.
std::string label_text(const MetricLabels& labels, std::string_view le = {}) {
  std::string text;
  for (const auto& [name, value] : labels) {
    if (!text.empty()) text += ',';
    text += name + "=\"" + escape_label_value(value) + '"';
  }
  if (!le.empty()) {
    if (!text.empty()) text += ',';
    text += fmt::format("le=\"{}\"", le);
  }
  return text;
}

void write_sample(std::string& out, std::string_view name, const std::string& labels, double value) {
  out += name;
  if (!labels.empty()) out += '{' + labels + '}';
  out += ' ';
  out += format_metric_value(value);
  out += '\n';
}

// HELP text escapes only backslash and newline (quotes are fine there).
std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void check_bounds(std::string_view family, const std::vector<double>& bounds) {
  if (bounds.empty()) fail("histogram {}: needs at least one bucket", family);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) fail("histogram {}: bucket bounds must be finite (+Inf is implied)", family);
    if (i > 0 && !(bounds[i] > bounds[i - 1])) fail("histogram {}: bucket bounds must increase", family);
  }
}

}  // namespace

void Counter::inc(double amount) {
  if (!(amount >= 0.0)) fail("a counter cannot go down (inc by {})", amount);
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {
  check_bounds("(unnamed)", upper_bounds_);
}

void Histogram::observe(double value, std::uint64_t times) {
  // First bucket whose bound is >= value ("le" is inclusive); NaN lands in +Inf.
  auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  auto bucket = static_cast<std::size_t>(it - upper_bounds_.begin());
  std::lock_guard<std::mutex> lock(mutex_);
  counts_[bucket] += times;
  sum_ += value * static_cast<double>(times);
  count_ += times;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Snapshot snap;
  snap.cumulative.reserve(counts_.size());
  std::uint64_t running = 0;
  for (std::uint64_t c : counts_) {
    running += c;
    snap.cumulative.push_back(running);
  }
  snap.sum = sum_;
  snap.count = count_;
  return snap;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  if (!(start > 0.0) || !(factor > 1.0) || count < 1)
    fail("exponential buckets need start > 0, factor > 1, count >= 1 (got {}, {}, {})", start, factor, count);
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, const MetricLabels& labels) {
  return *sample(name, help, Type::Counter, {}, labels).counter;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, const MetricLabels& labels) {
  return *sample(name, help, Type::Gauge, {}, labels).gauge;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                      const std::vector<double>& upper_bounds, const MetricLabels& labels) {
  return *sample(name, help, Type::Histogram, upper_bounds, labels).histogram;
}

MetricsRegistry::Sample& MetricsRegistry::sample(std::string_view name, std::string_view help, Type type,
                                                 const std::vector<double>& upper_bounds, const MetricLabels& labels) {
  if (!valid_name(name, true)) fail("invalid metric name '{}'", name);
  check_labels(name, labels, type == Type::Histogram);
  if (type == Type::Histogram) check_bounds(name, upper_bounds);
  MetricLabels key_labels = sorted(labels);
  std::string key = label_text(key_labels);

  std::lock_guard<std::mutex> lock(mutex_);
  auto found = std::find_if(families_.begin(), families_.end(), [&](const auto& f) { return f->name == name; });
  Family* family = nullptr;
  if (found == families_.end()) {
    families_.push_back(std::make_unique<Family>(Family{.name = std::string(name),
                                                        .help = std::string(help),
                                                        .type = type,
                                                        .upper_bounds = upper_bounds,
                                                        .samples = {}}));
    family = families_.back().get();
  } else {
    family = found->get();
    if (family->type != type) fail("metric {} is already registered with another type", name);
    if (family->upper_bounds != upper_bounds) fail("histogram {} is already registered with other buckets", name);
  }

  auto [it, inserted] = family->samples.try_emplace(key);
  Sample& s = it->second;
  if (inserted) {
    s.labels = std::move(key_labels);
    if (type == Type::Counter) s.counter = std::make_unique<Counter>();
    if (type == Type::Gauge) s.gauge = std::make_unique<Gauge>();
    if (type == Type::Histogram) s.histogram = std::make_unique<Histogram>(upper_bounds);
  }
  return s;
}

void MetricsRegistry::render_family(const Family& family, std::string& out) {
  static constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};
  out += fmt::format("# HELP {} {}\n", family.name, escape_help(family.help));
  out += fmt::format("# TYPE {} {}\n", family.name, kTypeNames[static_cast<int>(family.type)]);
  for (const auto& [key, s] : family.samples) {
    if (s.counter) write_sample(out, family.name, key, s.counter->value());
    if (s.gauge) write_sample(out, family.name, key, s.gauge->value());
    if (!s.histogram) continue;
    Histogram::Snapshot snap = s.histogram->snapshot();
    const std::vector<double>& bounds = s.histogram->upper_bounds();
    std::string bucket_name = family.name + "_bucket";
    for (std::size_t i = 0; i < bounds.size(); ++i)
      write_sample(out, bucket_name, label_text(s.labels, format_metric_value(bounds[i])),
                   static_cast<double>(snap.cumulative[i]));
    write_sample(out, bucket_name, label_text(s.labels, "+Inf"), static_cast<double>(snap.count));
    write_sample(out, family.name + "_sum", key, snap.sum);
    write_sample(out, family.name + "_count", key, static_cast<double>(snap.count));
  }
}

std::string MetricsRegistry::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  for (const auto& family : families_) render_family(*family, out);
  return out;
}

}  // namespace helix::api
