#include "helix/api/prometheus.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "helix/core/error.h"

namespace helix::api {
namespace {

TEST(Prometheus, CounterAndGaugeFamilies) {
  MetricsRegistry registry;
  registry.counter("requests_total", "Requests.", {{"code", "200"}}).inc();
  registry.counter("requests_total", "ignored", {{"code", "200"}}).inc(2);
  registry.counter("requests_total", "Requests.", {{"code", "500"}}).inc();
  Gauge& running = registry.gauge("running", "In flight.");
  running.inc(3);
  running.dec();
  EXPECT_EQ(registry.render(),
            "# HELP requests_total Requests.\n"
            "# TYPE requests_total counter\n"
            "requests_total{code=\"200\"} 3\n"
            "requests_total{code=\"500\"} 1\n"
            "# HELP running In flight.\n"
            "# TYPE running gauge\n"
            "running 2\n");
}

TEST(Prometheus, HistogramBucketsAreCumulativeWithInf) {
  MetricsRegistry registry;
  Histogram& h = registry.histogram("latency_seconds", "Latency.", {0.25, 1.0}, {{"path", "/x"}});
  h.observe(0.125);
  h.observe(0.25);  // bounds are inclusive
  h.observe(0.5);
  h.observe(7.0);
  h.observe(0.75, 2);
  EXPECT_EQ(registry.render(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{path=\"/x\",le=\"0.25\"} 2\n"
            "latency_seconds_bucket{path=\"/x\",le=\"1\"} 5\n"
            "latency_seconds_bucket{path=\"/x\",le=\"+Inf\"} 6\n"
            "latency_seconds_sum{path=\"/x\"} 9.375\n"
            "latency_seconds_count{path=\"/x\"} 6\n");
}

TEST(Prometheus, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  registry.counter("x_total", "a \\ b\nc \"q\"", {{"v", "back\\slash \"quote\"\nline"}}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP x_total a \\\\ b\\nc \"q\"\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"back\\\\slash \\\"quote\\\"\\nline\"} 1\n");
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(Prometheus, LabelOrderDoesNotMakeANewSample) {
  MetricsRegistry registry;
  registry.counter("c_total", "C.", {{"b", "2"}, {"a", "1"}}).inc();
  registry.counter("c_total", "C.", {{"a", "1"}, {"b", "2"}}).inc();
  EXPECT_NE(registry.render().find("c_total{a=\"1\",b=\"2\"} 2\n"), std::string::npos) << registry.render();
}

TEST(Prometheus, ValueFormatting) {
  EXPECT_EQ(format_metric_value(3.0), "3");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(INFINITY), "+Inf");
  EXPECT_EQ(format_metric_value(-INFINITY), "-Inf");
  EXPECT_EQ(format_metric_value(NAN), "NaN");
  EXPECT_EQ(exponential_buckets(0.001, 10, 3), (std::vector<double>{0.001, 0.01, 0.1}));
}

TEST(Prometheus, MisuseIsAnError) {
  MetricsRegistry registry;
  registry.counter("m_total", "M.");
  EXPECT_THROW(registry.gauge("m_total", "M."), Error);
  EXPECT_THROW(registry.counter("bad-name", "B."), Error);
  EXPECT_THROW(registry.counter("ok_total", "O.", {{"bad-label", "x"}}), Error);
  EXPECT_THROW(registry.histogram("h", "H.", {1.0}, {{"le", "x"}}), Error);
  EXPECT_THROW(registry.histogram("h2", "H.", {1.0, 1.0}), Error);
  EXPECT_THROW(registry.histogram("h3", "H.", {}), Error);
  registry.histogram("h4", "H.", {1.0, 2.0});
  EXPECT_THROW(registry.histogram("h4", "H.", {1.0, 3.0}), Error);
  EXPECT_THROW(registry.counter("m_total", "M.").inc(-1), Error);
}

TEST(Prometheus, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry, t] {
      for (int i = 0; i < 1000; ++i) {
        registry.counter("n_total", "N.", {{"t", std::to_string(t % 2)}}).inc();
        registry.histogram("d", "D.", {0.5}).observe(i % 2 == 0 ? 0.1 : 0.9);
        if (i % 100 == 0) registry.render();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_DOUBLE_EQ(registry.counter("n_total", "N.", {{"t", "0"}}).value(), 2000.0);
  Histogram::Snapshot snap = registry.histogram("d", "D.", {0.5}).snapshot();
  EXPECT_EQ(snap.count, 4000U);
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{2000, 4000}));
}

}  // namespace
}  // namespace helix::api
