// Elastic, fault-tolerant serving with a real trained model (stories260K, in
// data/models): worker processes killed with SIGKILL mid-generation, the only
// holder of some layers killed (re-plan and load), a node drained, a node
// restarted under its name. Every request must finish, with no error, and with
// exactly the text single-process `helix generate` gives (greedy, and seeded
// sampling: the sampler's state moves with the request).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/local_cluster.h"
#include "support/test_support.h"

namespace helix {
namespace {

using nlohmann::json;
using test::LocalCluster;
using test::Streamed;
using test::TempDir;
using Clock = std::chrono::steady_clock;

std::filesystem::path stories_model() { return test::source_dir() / "data" / "models" / "stories260K"; }

// Four equal CPU "machines" on loopback (and a fifth that the placement leaves out).
const std::string kClusterYaml = test::loopback_cluster_yaml("elastic5", {"a", "b", "c", "d", "e"});

// Two pipelines over the model's 5 layers: a or b for [0, 3), c or d for [3, 5); e holds nothing.
std::string redundant_placement() {
  return test::placement_json("elastic5", 5, {{"a", "cpu", 0, 3}, {"b", "cpu", 0, 3}, {"c", "cpu", 3, 5}, {"d", "cpu", 3, 5}, {"e", "cpu", 0, 0}});
}

struct Job {
  std::string prompt;
  double temperature = 0;
  std::uint64_t seed = 0;
  std::string expected;
};

constexpr int kMaxTokens = 96;

// 32 prompts, every other one sampled with its own seed; references from `helix generate`.
std::vector<Job> jobs() {
  static const std::vector<Job> cached = [] {
    const char* who[] = {"Tom", "Lily", "Ben", "Sue"};
    const char* what[] = {"saw a", "wanted to", "went to the", "had a big", "found a", "liked to", "did not", "made a"};
    std::vector<Job> out;
    for (const char* w : who) {
      for (const char* x : what) {
        Job j;
        j.prompt = fmt::format("{} {}", w, x);
        if (out.size() % 2 == 1) {
          j.temperature = 0.8;
          j.seed = 1000 + out.size();
        }
        j.expected = test::generate(stories_model(), j.prompt, kMaxTokens,
                                    fmt::format("--temperature {} --seed {}", j.temperature, j.seed))
                         .first;
        out.push_back(j);
      }
    }
    return out;
  }();
  return cached;
}

struct Wave {
  std::vector<Streamed> results;
  Clock::time_point event_at;  // when the test did what it did mid-stream
};

// Streams every job at once; when `threshold` chunks have arrived, runs `event`.
Wave run_wave(const LocalCluster& cluster, int threshold, const std::function<void()>& event) {
  const std::vector<Job> js = jobs();
  Wave w;
  w.results.resize(js.size());
  std::atomic<int> progress{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < js.size(); ++i) {
    threads.emplace_back([&, i] {
      json body = {{"model", cluster.model_id()}, {"prompt", js[i].prompt}, {"max_tokens", kMaxTokens},
                   {"temperature", js[i].temperature}, {"seed", js[i].seed}};
      w.results[i] = cluster.stream("/v1/completions", body, &progress);
    });
  }
  EXPECT_TRUE(test::wait_until(120, [&] { return progress >= threshold; })) << "only " << progress << " chunks arrived";
  w.event_at = Clock::now();
  event();
  for (auto& t : threads) t.join();
  return w;
}

// All finished, no error, every text equal to single-process generation; the
// recovery times (event -> next chunk) of the streams still running at the event.
std::vector<double> check_wave(const Wave& w, const std::string& log) {
  const std::vector<Job> js = jobs();
  std::vector<double> recovery;
  for (std::size_t i = 0; i < js.size(); ++i) {
    const Streamed& s = w.results[i];
    EXPECT_EQ(s.status, 200) << "request " << i;
    EXPECT_TRUE(s.done) << "request " << i;
    EXPECT_EQ(s.error, "") << "request " << i << "\n" << log;
    EXPECT_FALSE(s.finish_reason.empty()) << "request " << i;
    EXPECT_EQ(s.text, js[i].expected) << "request " << i << " (" << js[i].prompt << ", temperature " << js[i].temperature << ")";
    auto next = std::find_if(s.chunk_times.begin(), s.chunk_times.end(), [&](Clock::time_point t) { return t > w.event_at; });
    if (next != s.chunk_times.end()) recovery.push_back(std::chrono::duration<double>(*next - w.event_at).count());
  }
  return recovery;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

void print_recovery(const char* what, const std::vector<double>& r) {
  std::printf("%s: %zu streams were mid-generation; recovery (kill -> next token) p50 %.3f s, p99 %.3f s, max %.3f s\n",
              what, r.size(), quantile(r, 0.5), quantile(r, 0.99), r.empty() ? 0.0 : *std::max_element(r.begin(), r.end()));
}

class ElasticTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(stories_model() / "model.gguf")) << stories_model();
    jobs();  // the references first, so that the cluster's time is all serving
    const auto file = dir_.write("elastic5.yaml", kClusterYaml);
    cluster_ = std::make_unique<LocalCluster>(dir_, stories_model(), redundant_placement(),
                                              std::vector<std::string>{"a", "b", "c", "d"}, std::vector<std::string>{},
                                              file.string(), "stories");
    ASSERT_TRUE(cluster_->wait_healthy(60)) << cluster_->log();
  }
  std::string node_state(const std::string& name) {
    const json nodes = cluster_->nodes();
    for (const json& n : nodes["nodes"]) {
      if (n["name"] == name) return n["state"];
    }
    return "?";
  }
  TempDir dir_;
  std::unique_ptr<LocalCluster> cluster_;
};

// The chaos test of issue 13: SIGKILL a worker whose layers another also holds,
// then the only holder of some layers.
TEST_F(ElasticTest, KilledWorkersLoseNoRequestAndChangeNoToken) {
  Wave first = run_wave(*cluster_, 200, [&] { cluster_->worker(0).signal(SIGKILL); });  // a: b also has [0, 3)
  print_recovery("kill a (b also holds its layers)", check_wave(first, cluster_->log()));
  EXPECT_NE(cluster_->log().find("lost a"), std::string::npos) << cluster_->log();
  EXPECT_NE(cluster_->log().find("moves to a new route"), std::string::npos) << "no request was in flight on a";
  EXPECT_EQ(node_state("a"), "gone") << cluster_->nodes().dump(2);

  Wave second = run_wave(*cluster_, 200, [&] { cluster_->worker(1).signal(SIGKILL); });  // b: the last with [0, 3)
  print_recovery("kill b (the only holder of [0, 3): re-plan and load)", check_wave(second, cluster_->log()));
  const std::string log = cluster_->log();
  EXPECT_NE(log.find("re-planned (b lost)"), std::string::npos) << log;
  const json nodes = cluster_->nodes();
  int serving = 0;
  for (const json& n : nodes["nodes"]) serving += n["state"] == "ready" ? 1 : 0;
  EXPECT_EQ(serving, 2) << nodes.dump(2);
  EXPECT_EQ(cluster_->health(), 200);
}

// Drain: what is in flight on the node finishes, then nothing more goes there and
// it releases its layers. A killed node restarted under its name gets its layers back.
TEST_F(ElasticTest, DrainFinishesInFlightWorkAndARestartedNodeRejoins) {
  json answer;
  Wave w = run_wave(*cluster_, 150, [&] {
    auto res = cluster_->client().Post("/admin/nodes/c/drain", "", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  });
  check_wave(w, cluster_->log());
  ASSERT_TRUE(test::wait_until(30, [&] { return node_state("c") == "drained"; })) << cluster_->nodes().dump(2);
  // Tokens the coordinator routed into c (counted when it sends them).
  const auto routed_to_c = [&] {
    const json nodes = cluster_->nodes();
    for (const json& n : nodes["nodes"]) {
      if (n["name"] == "c") return n["routed_tokens"].get<double>();
    }
    return -1.0;
  };
  const double before = routed_to_c();
  EXPECT_GT(before, 0);
  const std::vector<Job> js = jobs();
  for (int i = 0; i < 4; ++i) {
    const Job& j = js[static_cast<std::size_t>(i)];
    json r = cluster_->complete({{"model", "stories"}, {"prompt", j.prompt}, {"max_tokens", kMaxTokens},
                                 {"temperature", j.temperature}, {"seed", j.seed}});
    EXPECT_EQ(r["choices"][0]["text"], j.expected) << r.dump();
  }
  EXPECT_EQ(routed_to_c(), before) << "a drained node got work";
  // d is now the only holder of [3, 5): kill it and start it again under its name.
  cluster_->worker(3).signal(SIGKILL);
  EXPECT_TRUE(test::wait_until(10, [&] { return node_state("d") == "gone" || node_state("d") == "loading"; }));
  cluster_->start_worker("d");
  ASSERT_TRUE(test::wait_until(60, [&] { return cluster_->health() == 200; })) << cluster_->log();
  json r = cluster_->complete({{"model", "stories"}, {"prompt", js[0].prompt}, {"max_tokens", kMaxTokens}, {"temperature", 0}});
  EXPECT_EQ(r["choices"][0]["text"], js[0].expected) << r.dump() << cluster_->log();
  EXPECT_NE(cluster_->log().find("d joined"), std::string::npos) << cluster_->log();
}

// The coordinator dies (SIGKILL) and a new one starts on the same port: the
// workers re-join it with the layers they hold, which it keeps (no reload), and
// serving resumes with the same texts.
TEST_F(ElasticTest, WorkersKeepTheirLayersAcrossACoordinatorRestart) {
  cluster_->kill_coordinator();
  cluster_->restart_coordinator();
  ASSERT_TRUE(cluster_->wait_healthy(60)) << cluster_->log();
  const std::vector<Job> js = jobs();
  for (std::size_t i = 0; i < 2; ++i) {
    json r = cluster_->complete({{"model", "stories"}, {"prompt", js[i].prompt}, {"max_tokens", kMaxTokens},
                                 {"temperature", js[i].temperature}, {"seed", js[i].seed}});
    EXPECT_EQ(r["choices"][0]["text"], js[i].expected) << r.dump();
  }
  const std::string log = cluster_->log();
  for (const char* node : {"a", "b", "c", "d"}) {
    EXPECT_NE(log.find(fmt::format("{} joined (real engine", node)), std::string::npos) << log;
    const std::string worker_log = test::read_file(dir_.path() / fmt::format("{}.log", node));
    EXPECT_NE(worker_log.find("re-joining"), std::string::npos) << worker_log;
    EXPECT_NE(worker_log.find("kept"), std::string::npos) << "layers reloaded on " << node << "\n" << worker_log;
  }
}

// A node the placement left out joins: the coordinator re-plans it in, warm from
// the current placement, and the planned max flow goes up.
TEST_F(ElasticTest, ANewNodeIsPlannedIn) {
  const double before = cluster_->nodes()["max_flow_tokens_per_s"].get<double>();
  cluster_->start_worker("e");
  ASSERT_TRUE(test::wait_until(60, [&] { return node_state("e") == "ready"; })) << cluster_->log();
  ASSERT_TRUE(test::wait_until(30, [&] { return cluster_->nodes()["max_flow_tokens_per_s"].get<double>() > before; }))
      << cluster_->nodes().dump(2);
  const std::string log = cluster_->log();
  EXPECT_NE(log.find("re-planned (e joined)"), std::string::npos) << log;
  const double with_e = cluster_->nodes()["max_flow_tokens_per_s"].get<double>();
  // A node no cluster file lists joins with its GPU type, and is planned in too.
  const std::size_t f = cluster_->start_worker("f", {"--gpu", "cpu"});
  ASSERT_TRUE(test::wait_until(60, [&] { return node_state("f") == "ready"; })) << cluster_->log();
  ASSERT_TRUE(test::wait_until(30, [&] { return cluster_->nodes()["max_flow_tokens_per_s"].get<double>() > with_e; }))
      << cluster_->nodes().dump(2);
  EXPECT_NE(cluster_->log().find("f added to the cluster as a cpu"), std::string::npos) << cluster_->log();
  Wave w = run_wave(*cluster_, 1, [] {});
  check_wave(w, cluster_->log());
  std::printf("e joined: max flow %.1f -> %.1f tokens/s; f (no cluster file entry) joined: -> %.1f tokens/s\n", before,
              with_e, cluster_->nodes()["max_flow_tokens_per_s"].get<double>());
  // A node of an unknown type is refused, with the reason.
  const std::size_t g = cluster_->start_worker("g", {"--gpu", "no-such-gpu"});
  EXPECT_EQ(cluster_->worker(g).wait(30), 1);
  EXPECT_NE(test::read_file(dir_.path() / "g.log").find("no-such-gpu"), std::string::npos) << test::read_file(dir_.path() / "g.log");
  (void)f;
}

// One emulated GPU slow enough that every step of LLaMA-2-7B takes ~2.7 s (13.5 GB
// of weights read at 5 GB/s), far past a 1 s --worker-timeout and the worker's 3 s
// coordinator-silence limit. Emulated steps sleep for the modelled time, so the
// step length does not depend on this machine.
constexpr const char* kSlowGpuYaml = R"(format: helix-cluster/1
name: slow1
gpu_types:
  slowgpu: {vram: 40 GB, memory_bandwidth: 5 GB/s, peak_flops: 100 GFLOP/s, nic: 10 Gbps, profile: none}
coordinator:
  nic: 10 Gbps
network:
  in_region: {bandwidth: 10 Gbps, latency: 0.05 ms}
nodes:
  - {name: slow, gpu: slowgpu}
)";

TEST(ElasticDetection, AStepLongerThanTheTimeoutsIsNoFailure) {
  TempDir dir;
  const auto cluster_file = dir.write("slow1.yaml", kSlowGpuYaml);
  LocalCluster cluster(dir, "llama2-7b", test::placement_json("slow1", 32, {{"slow", "slowgpu", 0, 32}}), {},
                       {"--engine", "emulated", "--worker-timeout", "1"}, cluster_file.string(), "m");
  cluster.start_worker("slow", {"--engine", "emulated"});
  ASSERT_TRUE(cluster.wait_healthy(60)) << cluster.log();
  int status = 0;
  const json answer = cluster.complete({{"model", "m"}, {"prompt", "Hello"}, {"max_tokens", 3}}, &status);
  ASSERT_EQ(status, 200) << answer.dump() << cluster.log();
  EXPECT_EQ(answer["usage"]["completion_tokens"], 3);
  const json nodes = cluster.nodes();
  EXPECT_EQ(nodes["nodes_lost"], 0) << cluster.log();
  EXPECT_EQ(nodes["requests_rerouted"], 0) << cluster.log();
  EXPECT_EQ(cluster.log().find("lost slow"), std::string::npos) << cluster.log();
  EXPECT_EQ(test::read_file(dir.path() / "slow.log").find("no word from the coordinator"), std::string::npos)
      << test::read_file(dir.path() / "slow.log");
}

// --max-requests: with one request open, the next is refused at once with a 503
// that says why (and counted), and the open one finishes untouched.
TEST(ElasticDetection, RequestsPastMaxRequestsAreRefusedAtTheDoor) {
  TempDir dir;
  const auto cluster_file = dir.write("slow1.yaml", kSlowGpuYaml);
  LocalCluster cluster(dir, "llama2-7b", test::placement_json("slow1", 32, {{"slow", "slowgpu", 0, 32}}), {},
                       {"--engine", "emulated", "--max-requests", "1"}, cluster_file.string(), "m");
  cluster.start_worker("slow", {"--engine", "emulated"});
  ASSERT_TRUE(cluster.wait_healthy(60)) << cluster.log();
  auto metric = [&](const std::string& line) {
    auto res = cluster.client().Get("/metrics");
    return res && res->body.find(line) != std::string::npos;
  };
  json first;
  int first_status = 0;
  std::thread open_one([&] { first = cluster.complete({{"model", "m"}, {"prompt", "Hello"}, {"max_tokens", 2}}, &first_status); });
  const bool opened = test::wait_until(30, [&] { return metric("\nhelix_requests_active 1\n"); });
  int status = 0;
  const json refused = opened ? cluster.complete({{"model", "m"}, {"prompt", "Hi"}, {"max_tokens", 2}}, &status) : json();
  open_one.join();
  ASSERT_TRUE(opened) << cluster.log();
  EXPECT_EQ(status, 503) << refused.dump();
  EXPECT_NE(refused.dump().find("overloaded"), std::string::npos) << refused.dump();
  EXPECT_TRUE(metric("\nhelix_requests_refused_overloaded_total 1\n"));
  EXPECT_EQ(first_status, 200) << first.dump() << cluster.log();
  EXPECT_EQ(first["usage"]["completion_tokens"], 2);
}

}  // namespace
}  // namespace helix
