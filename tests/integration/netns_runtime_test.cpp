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
#include <map>
#include <thread>

#include <httplib.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "helix/engine/random_model.h"
#include "support/local_cluster.h"
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
  // The tag tells apart this process's TestHosts too: a deleted veth can linger a moment.
  TestHosts() : tag_(std::to_string(getpid() % 100000) + static_cast<char>('a' + instances_++ % 26)) {}
  ~TestHosts() {
    for (const auto& [index, out] : outer_) run_command("ip link del " + out);
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
    outer_[index] = out;
    return "";
  }
  std::string ns(int index) const { return "hx" + tag_ + "-" + std::to_string(index); }
  std::string outer_device(int index) const { return outer_.at(index); }

 private:
  static inline int instances_ = 0;
  std::string tag_;
  std::vector<std::string> namespaces_;
  std::map<int, std::string> outer_;  // by host index
};

// A coordinator in this namespace and workers "near" on host 1 (or beside the
// coordinator, on loopback: its traffic to "far" then crosses only far's veth) and
// "far" on host 2, over a cluster file's two nodes; stopped by the destructor.
class TwoHostCluster {
 public:
  TwoHostCluster(const TestHosts& hosts, const TempDir& dir, const std::filesystem::path& cluster,
                 const std::filesystem::path& model, const std::vector<std::string>& serve_args, bool near_on_host = true)
      : dir_(dir), http_(test::free_tcp_port()) {
    const int control = test::free_tcp_port();
    std::vector<std::string> serve = {HELIX_BINARY, "serve", "--cluster", cluster.string(), "--model", model.string(),
                                      "--listen", fmt::format("127.0.0.1:{}", http_), "--control",
                                      fmt::format("tcp://0.0.0.0:{}", control), "--model-id", "tiny",
                                      "--insecure"};  // private test namespaces: no keys needed
    serve.insert(serve.end(), serve_args.begin(), serve_args.end());
    serve_ = std::make_unique<ChildProcess>(serve, dir.path() / "serve.log");
    const char* names[] = {"near", "far"};
    for (int h = 1; h <= 2; ++h) {
      const bool on_host = h == 2 || near_on_host;
      std::vector<std::string> argv = {HELIX_BINARY, "worker", "--coordinator",
                                       fmt::format("tcp://{}:{}", on_host ? fmt::format("10.231.{}.1", h) : "127.0.0.1", control),
                                       "--node", names[h - 1], "--listen",
                                       on_host ? fmt::format("10.231.{}.2", h) : "127.0.0.1", "--model", model.string(),
                                       "--insecure"};
      if (on_host) argv.insert(argv.begin(), {"/usr/sbin/ip", "netns", "exec", hosts.ns(h)});
      workers_.push_back(std::make_unique<ChildProcess>(argv, dir.path() / (std::string(names[h - 1]) + ".log")));
    }
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", http_);
    c.set_read_timeout(120, 0);
    return c;
  }

  bool wait_healthy() const {
    httplib::Client c = client();
    for (int i = 0; i < 600; ++i) {
      auto res = c.Get("/health");
      if (res && res->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  std::string logs() const { return test::read_file(dir_.path() / "serve.log") + test::read_file(dir_.path() / "far.log"); }

 private:
  const TempDir& dir_;
  int http_ = 0;
  std::unique_ptr<ChildProcess> serve_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
};

// Bytes a device's root qdisc has sent ("Sent <bytes> bytes ..."; no std::regex:
// GCC 12 warns inside it under the sanitizer build), or -1.
long long qdisc_sent_bytes(const std::string& device) {
  const auto tc = run_command("tc -s qdisc show dev " + device);
  const auto at = tc.out.find("Sent ");
  return at == std::string::npos ? -1 : std::stoll(tc.out.substr(at + 5));
}

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
  TwoHostCluster run(hosts, dir, cluster, dir.path() / "tiny", {"--plan"});
  ASSERT_TRUE(run.wait_healthy()) << run.logs();
  httplib::Client client = run.client();

  // 40 requests, 8 at a time.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c = run.client();
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
  const long long sent_bytes = qdisc_sent_bytes(hosts.outer_device(2));
  EXPECT_GT(sent_bytes, 1000);
  std::printf("far link: planned %.0f of %.0f tokens/s (share %.3f), routed %.0f of %.0f tokens (share %.3f); shaped qdisc sent %s bytes\n",
              plan_far, plan_near + plan_far, planned_share, sent_far, sent_near + sent_far, actual_share, std::to_string(sent_bytes).c_str());
}

// --activations f16 on a real link: a pipeline near [0, 4) -> far [4, 8) whose
// hidden states cross the shaped veth into "far" (near runs beside the
// coordinator, so that it needs no route between hosts); the same requests send about
// half the bytes through its qdisc with f16 as with f32, and give the same text.
TEST(NetnsRuntime, F16ActivationsHalveTheBytesThatCrossALinkBetweenWorkers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for ip netns and tc";
  TestHosts hosts;
  if (std::string e = hosts.add(2, "20mbit"); !e.empty()) GTEST_SKIP() << "cannot shape a link here: " << e;

  TempDir dir;
  RandomModelOptions mo;
  mo.config = random_model_preset("small");  // 512 values a hidden state: the payload dominates a message
  write_random_model(mo, dir.path() / "small");
  const auto cluster = dir.write("two-hosts.yaml", test::loopback_cluster_yaml("two-hosts", {"near", "far"}));
  const auto placement = dir.write(
      "pipeline.json", test::placement_json("two-hosts", 8, {{"near", "cpu", 0, 4}, {"far", "cpu", 4, 8}}));
  std::map<std::string, std::pair<long long, std::string>> bytes_and_text;
  for (const std::string activations : {"f32", "f16"}) {
    TwoHostCluster run(hosts, dir, cluster, dir.path() / "small",
                       {"--placement", placement.string(), "--activations", activations}, false);
    ASSERT_TRUE(run.wait_healthy()) << run.logs();
    const long long before = qdisc_sent_bytes(hosts.outer_device(2));
    std::string text;
    httplib::Client c = run.client();
    for (int i = 0; i < 6; ++i) {  // one at a time: the same messages in both runs
      json body = {{"model", "tiny"}, {"prompt", fmt::format("request {} of a test of the wire's activation type", i)},
                   {"max_tokens", 12}, {"temperature", 0}, {"ignore_eos", true}};
      auto res = c.Post("/v1/completions", body.dump(), "application/json");
      ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no response") << run.logs();
      text += json::parse(res->body)["choices"][0]["text"].get<std::string>() + "|";
    }
    bytes_and_text[activations] = {qdisc_sent_bytes(hosts.outer_device(2)) - before, text};
  }
  const auto& [f32_bytes, f32_text] = bytes_and_text["f32"];
  const auto& [f16_bytes, f16_text] = bytes_and_text["f16"];
  std::printf("bytes into far for 6 requests: f32 activations %lld, f16 %lld (%.3f)\n", f32_bytes, f16_bytes,
              static_cast<double>(f16_bytes) / static_cast<double>(f32_bytes));
  ASSERT_GT(f32_bytes, 6 * 12 * 2048) << "each decode step sends at least 512 floats";
  EXPECT_LT(static_cast<double>(f16_bytes), 0.62 * static_cast<double>(f32_bytes));
  EXPECT_GT(static_cast<double>(f16_bytes), 0.45 * static_cast<double>(f32_bytes));
  EXPECT_EQ(f16_text, f32_text);
}

}  // namespace
}  // namespace helix
