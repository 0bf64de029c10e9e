// Heterogeneous links that are real: two worker hosts in their own network
// namespaces, joined to the coordinator's namespace by veth pairs, one of them
// shaped to 200 Kbit/s with a tbf qdisc. The cluster file declares that slow
// link, the planner's max flow gives it a small share, and the router must send
// it about that share of the traffic — which then really crosses the shaped link.
//
// Needs root (ip netns, tc); skipped with the reason otherwise. Every name and
// address is the test's own (10.231.x.y on veths it creates and deletes).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <thread>

#include <httplib.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "helix/engine/random_model.h"
#include "support/test_support.h"

namespace helix {
namespace {

using nlohmann::json;
using test::ChildProcess;
using test::run_command;
using test::TempDir;

// Two namespaces "hosts" with a veth each; torn down by the destructor.
class TestHosts {
 public:
  TestHosts() : tag_(std::to_string(getpid() % 100000)) {}
  ~TestHosts() {
    for (const std::string& ns : namespaces_) run_command("ip netns del " + ns);
  }
  // Host `index` (1, 2, ...) at 10.231.<index>.2, the coordinator side at .1.
  // Returns "" on success, else the failing command's error.
  std::string add(int index, const std::string& shape_rate) {
    const std::string ns = "hx" + tag_ + "-" + std::to_string(index);
    const std::string out = "hx" + tag_ + "o" + std::to_string(index);
    const std::string in = "hx" + tag_ + "i" + std::to_string(index);
    const std::string net = "10.231." + std::to_string(index);
    std::vector<std::string> steps = {
        "ip netns add " + ns,
        "ip link add " + out + " type veth peer name " + in,
        "ip link set " + in + " netns " + ns,
        "ip addr add " + net + ".1/24 dev " + out,
        "ip link set " + out + " up",
        "ip netns exec " + ns + " ip addr add " + net + ".2/24 dev " + in,
        "ip netns exec " + ns + " ip link set " + in + " up",
        "ip netns exec " + ns + " ip link set lo up",
    };
    if (!shape_rate.empty()) {
      // Both directions: the coordinator's side sends to the host, the host's side back.
      const std::string tbf = " root tbf rate " + shape_rate + " burst 2kb latency 400ms";
      steps.push_back("tc qdisc add dev " + out + tbf);
      steps.push_back("ip netns exec " + ns + " tc qdisc add dev " + in + tbf);
    }
    for (const std::string& s : steps) {
      auto r = run_command(s);
      if (s.starts_with("ip netns add") && r.exit_code == 0) namespaces_.push_back(ns);
      if (r.exit_code != 0) return s + ": " + r.err;
    }
    outer_.push_back(out);
    return "";
  }
  std::string ns(int index) const { return "hx" + tag_ + "-" + std::to_string(index); }
  std::string outer_device(int index) const { return outer_.at(static_cast<std::size_t>(index - 1)); }

 private:
  std::string tag_;
  std::vector<std::string> namespaces_, outer_;
};

double metric(const std::string& text, const std::string& name, const std::string& labels) {
  const std::string key = name + "{" + labels + "} ";
  const auto at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + key.size()));
}

TEST(NetnsRuntime, TheRouterSendsASlowShapedLinkItsPlannedShareAndTheTrafficCrossesIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for ip netns and tc";
  TestHosts hosts;
  if (std::string e = hosts.add(1, ""); !e.empty()) GTEST_SKIP() << "cannot build test hosts here: " << e;
  if (std::string e = hosts.add(2, "200kbit"); !e.empty()) GTEST_SKIP() << "cannot shape a link here: " << e;

  TempDir dir;
  RandomModelOptions mo;
  mo.config = random_model_preset("tiny");
  write_random_model(mo, dir.path() / "tiny");
  // Same compute on both hosts; the declared links are what differ.
  const auto cluster = dir.write("two-hosts.yaml", R"(format: helix-cluster/1
name: two-hosts
gpu_types:
  cpu: {vram: 16 GB, memory_bandwidth: 20 GB/s, peak_flops: 400 GFLOP/s, nic: 10 Gbps, profile: none}
coordinator: {nic: 10 Gbps}
network:
  in_region: {bandwidth: 10 Gbps, latency: 0.05 ms}
  links:
    - {from: coordinator, to: far, bandwidth: 200 Kbps}
nodes:
  - {name: near, gpu: cpu}
  - {name: far, gpu: cpu}
)");
  const int http = test::free_tcp_port(), control = test::free_tcp_port();
  ChildProcess serve(std::vector<std::string>{HELIX_BINARY, "serve", "--cluster", cluster.string(), "--plan", "--model", (dir.path() / "tiny").string(),
                      "--listen", fmt::format("127.0.0.1:{}", http), "--control", fmt::format("tcp://0.0.0.0:{}", control),
                      "--model-id", "tiny", "--insecure"},  // private test namespaces: no keys needed
                     dir.path() / "serve.log");
  std::vector<std::unique_ptr<ChildProcess>> workers;
  const char* names[] = {"near", "far"};
  for (int h = 1; h <= 2; ++h) {
    workers.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/sbin/ip", "netns", "exec", hosts.ns(h), HELIX_BINARY, "worker", "--coordinator",
                                 fmt::format("tcp://10.231.{}.1:{}", h, control), "--node", names[h - 1], "--listen",
                                 fmt::format("10.231.{}.2", h), "--model", (dir.path() / "tiny").string(), "--insecure"},
        dir.path() / (std::string(names[h - 1]) + ".log")));
  }
  httplib::Client client("127.0.0.1", http);
  client.set_read_timeout(120, 0);
  bool up = false;
  for (int i = 0; i < 600 && !up; ++i) {
    auto res = client.Get("/health");
    up = res && res->status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << test::read_file(dir.path() / "serve.log") << test::read_file(dir.path() / "far.log");

  // 40 requests, 8 at a time.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", http);
      c.set_read_timeout(120, 0);
      for (int i = 0; i < 5; ++i) {
        json body = {{"model", "tiny"}, {"prompt", fmt::format("client {} request {}", t, i)}, {"max_tokens", 8},
                     {"temperature", 0}, {"ignore_eos", true}};
        auto res = c.Post("/v1/completions", body.dump(), "application/json");
        if (res && res->status == 200) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, 40);

  const std::string m = client.Get("/metrics")->body;
  const double plan_near = metric(m, "helix_edge_planned_flow_tokens_per_second", "from=\"coordinator\",to=\"near\"");
  const double plan_far = metric(m, "helix_edge_planned_flow_tokens_per_second", "from=\"coordinator\",to=\"far\"");
  const double sent_near = metric(m, "helix_edge_tokens_total", "from=\"coordinator\",to=\"near\"");
  const double sent_far = metric(m, "helix_edge_tokens_total", "from=\"coordinator\",to=\"far\"");
  ASSERT_GT(plan_near, 0) << m;
  ASSERT_GT(plan_far, 0) << m;
  // The plan knows the far link is slow: 200 Kbit/s carries 6,250 tokens/s of the
  // wire's four-byte (int32) token ids.
  EXPECT_NEAR(plan_far, 6250, 1);
  EXPECT_GT(plan_near, 4 * plan_far);
  // The router follows the plan: the far host gets about its planned share.
  const double planned_share = plan_far / (plan_near + plan_far);
  const double actual_share = sent_far / (sent_near + sent_far);
  EXPECT_GT(sent_far, 0) << m;
  EXPECT_NEAR(actual_share, planned_share, 0.08) << "planned " << planned_share << ", routed " << actual_share;
  // And that traffic really went through the shaped qdisc.
  auto tc = run_command("tc -s qdisc show dev " + hosts.outer_device(2));
  // "Sent <bytes> bytes ..." (no std::regex: GCC 12 warns inside it under the sanitizer build).
  const auto at = tc.out.find("Sent ");
  ASSERT_NE(at, std::string::npos) << tc.out;
  const long long sent_bytes = std::stoll(tc.out.substr(at + 5));
  EXPECT_GT(sent_bytes, 1000) << tc.out;
  std::printf("far link: planned %.0f of %.0f tokens/s (share %.3f), routed %.0f of %.0f tokens (share %.3f); shaped qdisc sent %s bytes\n",
              plan_far, plan_near + plan_far, planned_share, sent_far, sent_near + sent_far, actual_share, std::to_string(sent_bytes).c_str());
}

}  // namespace
}  // namespace helix
