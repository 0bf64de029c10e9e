// The distributed runtime end to end: a `helix serve` coordinator and three
// `helix worker` processes holding different layer ranges of a random-weight
// model, talking over real sockets (HTTP to the coordinator, ZeroMQ between
// everyone). Checks token-identical greedy output against `helix generate`,
// 64 concurrent streams, refusals of bad input, and corrupt worker messages.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "helix/engine/random_model.h"
#include "helix/runtime/transport.h"
#include "helix/runtime/wire.h"
#include "support/local_cluster.h"
#include "support/test_support.h"

namespace helix {
namespace {

using nlohmann::json;
using test::ChildProcess;
using test::LocalCluster;
using test::Streamed;
using test::TempDir;
using test::wait_until;


std::string placement_json(const std::vector<std::pair<int, int>>& ranges) {
  const char* names[] = {"fast", "mid", "slow"};
  const char* gpus[] = {"cpu-fast", "cpu-mid", "cpu-slow"};
  std::vector<test::PlacedNode> nodes;
  for (std::size_t i = 0; i < ranges.size(); ++i) nodes.push_back({names[i], gpus[i], ranges[i].first, ranges[i].second});
  return test::placement_json("local3", 4, nodes);
}

std::filesystem::path write_tiny_model(const TempDir& dir) {
  RandomModelOptions o;
  o.config = random_model_preset("tiny");
  o.seed = 7;
  write_random_model(o, dir.path() / "tiny");
  return dir.path() / "tiny";
}

using test::generate;

// Three workers, three different layer ranges: fast [0,2), mid [2,3), slow [3,4).
class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    model_ = write_tiny_model(*dir_);
    cluster_ = new LocalCluster(*dir_, model_, placement_json({{0, 2}, {2, 3}, {3, 4}}), {"fast", "mid", "slow"});
    ASSERT_TRUE(cluster_->wait_healthy(60)) << cluster_->log();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete dir_;
  }
  static TempDir* dir_;
  static std::filesystem::path model_;
  static LocalCluster* cluster_;
};
TempDir* PipelineTest::dir_ = nullptr;
std::filesystem::path PipelineTest::model_;
LocalCluster* PipelineTest::cluster_ = nullptr;

TEST_F(PipelineTest, GreedyOutputIsTokenIdenticalToSingleProcessGenerate) {
  for (const std::string prompt : {"The quick brown fox", "helix serves models", "a"}) {
    const auto [expected, tokens] = generate(model_, prompt, 24);
    int status = 0;
    json r = cluster_->complete({{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}}, &status);
    ASSERT_EQ(status, 200) << r.dump();
    EXPECT_EQ(r["choices"][0]["text"], expected) << prompt;
    EXPECT_EQ(r["usage"]["completion_tokens"], tokens) << prompt;
    EXPECT_EQ(r["choices"][0]["finish_reason"], tokens == 24 ? "length" : "stop");
    Streamed s = cluster_->stream("/v1/completions", {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}});
    EXPECT_EQ(s.status, 200);
    EXPECT_TRUE(s.done);
    EXPECT_EQ(s.text, expected) << prompt;
  }
}

TEST_F(PipelineTest, SixtyFourConcurrentStreamsAllFinishWithTheirOwnOutput) {
  // Eight prompts, each sent eight times at once: every copy must equal its
  // prompt's single-process output, whatever it was batched with.
  std::vector<std::string> prompts;
  std::vector<std::string> expected;
  for (int p = 0; p < 8; ++p) {
    prompts.push_back(fmt::format("request number {} says", p));
    expected.push_back(generate(model_, prompts.back(), 12).first);
  }
  constexpr int kRequests = 64;
  std::vector<Streamed> results(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] = cluster_->stream(
          "/v1/completions", {{"model", "tiny"}, {"prompt", prompts[static_cast<std::size_t>(i % 8)]}, {"max_tokens", 12}, {"temperature", 0}});
    });
  }
  for (auto& t : threads) t.join();
  int completed = 0, errors = 0, lost = 0;
  for (int i = 0; i < kRequests; ++i) {
    const Streamed& s = results[static_cast<std::size_t>(i)];
    if (s.status == 200 && s.done && !s.finish_reason.empty() && s.error.empty()) {
      ++completed;
      EXPECT_EQ(s.text, expected[static_cast<std::size_t>(i % 8)]) << "request " << i;
    } else if (!s.error.empty() || (s.status >= 400 && s.status < 600)) {
      ++errors;
    } else {
      ++lost;
    }
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(completed + errors, kRequests);
  EXPECT_EQ(completed, kRequests) << errors << " ended with an explicit error";
}

TEST_F(PipelineTest, ChatStreamsAndStopStringsAndSeededSampling) {
  Streamed chat = cluster_->stream("/v1/chat/completions",
                                   {{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", "hello"}}}}, {"max_tokens", 10}, {"temperature", 0}});
  EXPECT_EQ(chat.status, 200);
  EXPECT_TRUE(chat.done);
  EXPECT_FALSE(chat.text.empty());
  // A stop string cut from the greedy output ends the text right before it.
  const auto [full, n] = generate(model_, "The quick brown fox", 24);
  // Two ASCII letters past the start (a cut through a multi-byte character would not be valid JSON).
  std::size_t at = 2;
  while (at + 1 < full.size() && !(std::isalpha(static_cast<unsigned char>(full[at])) && std::isalpha(static_cast<unsigned char>(full[at + 1])))) ++at;
  ASSERT_LT(at + 1, full.size()) << full;
  const std::string stop = full.substr(at, 2);
  json r = cluster_->complete({{"model", "tiny"}, {"prompt", "The quick brown fox"}, {"max_tokens", 24}, {"temperature", 0}, {"stop", stop}});
  EXPECT_EQ(r["choices"][0]["text"], full.substr(0, full.find(stop))) << r.dump();
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  // The same seed gives the same sample, through different batches.
  json a = {{"model", "tiny"}, {"prompt", "seeded"}, {"max_tokens", 16}, {"temperature", 1.0}, {"top_p", 0.9}, {"seed", 42}};
  EXPECT_EQ(cluster_->complete(a)["choices"][0]["text"], cluster_->complete(a)["choices"][0]["text"]);
}

TEST_F(PipelineTest, BadInputGetsFourHundredsWithJsonErrors) {
  auto post = [&](const std::string& body, const std::string& key, int expect_status, const std::string& param) {
    httplib::Client c = cluster_->client();
    if (!key.empty()) c.set_bearer_token_auth(key);
    auto res = c.Post("/v1/completions", body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, expect_status) << body << " -> " << res->body;
    json j = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.contains("error")) << res->body;
    if (!param.empty()) {
      EXPECT_EQ(j["error"]["param"], param) << res->body;
    }
  };
  post("{\"model\": \"tiny\", \"prompt\": ", "", 400, "");
  post(json{{"model", "nope"}, {"prompt", "x"}}.dump(), "", 404, "model");
  post(json{{"model", "tiny"}, {"prompt", std::string(3000, 'x')}}.dump(), "", 400, "prompt");
  post(json{{"model", "tiny"}, {"prompt", "x"}, {"max_tokens", -5}}.dump(), "", 400, "max_tokens");
  post(json{{"model", "tiny"}, {"prompt", "x"}}.dump(), "wrong-key", 401, "");
  post(json{{"model", "tiny"}, {"prompt", "x"}, {"n", 2}}.dump(), "", 400, "n");
  EXPECT_EQ(cluster_->health(), 200);
}

TEST_F(PipelineTest, CorruptMessagesFromAnUnknownPeerAreLoggedAndIgnored) {
  zmq::context_t context;
  zmq::socket_t peer(context, zmq::socket_type::dealer);
  peer.set(zmq::sockopt::routing_id, "intruder");
  peer.set(zmq::sockopt::linger, 0);
  peer.connect(cluster_->control());
  peer.send(zmq::str_buffer("definitely not a helix message"), zmq::send_flags::none);
  std::vector<std::uint8_t> truncated = runtime::encode(runtime::Token{1, 2, 3, 0});
  truncated.resize(truncated.size() - 3);
  peer.send(zmq::buffer(truncated), zmq::send_flags::none);
  ASSERT_TRUE(wait_until(10, [&] { return cluster_->log().find("intruder") != std::string::npos; })) << cluster_->log();
  EXPECT_NE(cluster_->log().find("corrupt message from unknown peer 'intruder'"), std::string::npos);
  EXPECT_EQ(cluster_->health(), 200);
  json r = cluster_->complete({{"model", "tiny"}, {"prompt", "still here"}, {"max_tokens", 4}, {"temperature", 0}});
  EXPECT_EQ(r["usage"]["completion_tokens"], 4) << r.dump();
}

// A joined worker that sends garbage is dropped. It was the only holder of layer
// 3, so the coordinator re-plans the two real workers to cover all four layers,
// and the request it had in flight finishes there with the single-process text.
TEST(RuntimeWorkers, AWorkerSendingACorruptMessageIsDroppedAndItsRequestFinishesAfterAReplan) {
  TempDir dir;
  auto model = write_tiny_model(dir);
  LocalCluster cluster(dir, model, placement_json({{0, 2}, {2, 3}, {3, 4}}), {"fast", "mid"});
  // The test plays node "slow".
  zmq::context_t context;
  zmq::socket_t control(context, zmq::socket_type::dealer);
  control.set(zmq::sockopt::routing_id, "slow");
  control.set(zmq::sockopt::linger, 0);
  control.connect(cluster.control());
  zmq::socket_t data(context, zmq::socket_type::pull);
  const std::string endpoint = runtime::bind_endpoint(data, "tcp://127.0.0.1:0");
  runtime::send(control, runtime::Hello{"slow", "real", "", endpoint, {}});
  std::optional<runtime::Envelope> assign;
  ASSERT_TRUE(wait_until(30, [&] {
    assign = runtime::try_receive(control, false);
    return assign.has_value();
  })) << cluster.log();
  ASSERT_TRUE(std::holds_alternative<runtime::Assign>(assign->message));
  EXPECT_EQ(std::get<runtime::Assign>(assign->message).layers.start, 3);
  runtime::send(control, runtime::Ready{4096, 384, 64});
  ASSERT_TRUE(cluster.wait_healthy(30)) << cluster.log();
  const std::string expected = generate(model, "x", 4).first;
  // A request reaches us (the last stage) and waits for our token...
  std::thread client([&] {
    json r = cluster.complete({{"model", "tiny"}, {"prompt", "x"}, {"max_tokens", 4}, {"temperature", 0}});
    ASSERT_TRUE(r.contains("choices")) << r.dump();
    EXPECT_EQ(r["choices"][0]["text"], expected) << r.dump();
  });
  std::optional<runtime::Envelope> work;
  EXPECT_TRUE(wait_until(30, [&] {
    work = runtime::try_receive(data, false);
    return work.has_value();
  }));
  // ... and we answer with garbage.
  control.send(zmq::str_buffer("\x48\x4c\x58\x57\x01\x00\x06\x00garbage"), zmq::send_flags::none);
  client.join();
  const std::string log = cluster.log();
  EXPECT_NE(log.find("dropping worker slow"), std::string::npos) << log;
  EXPECT_NE(log.find("re-planned (slow lost)"), std::string::npos) << log;
  EXPECT_NE(log.find("moves to a new route"), std::string::npos) << log;
  EXPECT_EQ(cluster.health(), 200);
  EXPECT_TRUE(cluster.serve_running());
  auto models = cluster.client().Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
}

}  // namespace
}  // namespace helix

namespace helix {
namespace {

// The paper's KV ledger charges an expected output length, not max_tokens, so
// it can admit more than the workers' KV holds. A worker that runs out then
// preempts a request; the coordinator re-queues it with its tokens so far
// (recompute), and every client still gets its whole greedy answer.
TEST(RuntimeWorkers, KvOverAdmittedByTheLedgerIsPreemptedAndRecomputedWithoutChangingAnswers) {
  TempDir dir;
  auto model = write_tiny_model(dir);
  LocalCluster cluster(dir, model, placement_json({{0, 2}, {2, 3}, {3, 4}}), {"fast", "mid", "slow"},
                       {"--kv-tokens", "96", "--kv-output-ratio", "0.01"});
  ASSERT_TRUE(cluster.wait_healthy(60)) << cluster.log();
  constexpr int kRequests = 12;
  std::vector<std::string> expected;
  for (int i = 0; i < kRequests; ++i) expected.push_back(generate(model, fmt::format("kv {}", i), 60).first);
  std::vector<Streamed> results(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] = cluster.stream(
          "/v1/completions", {{"model", "tiny"}, {"prompt", fmt::format("kv {}", i)}, {"max_tokens", 60}, {"temperature", 0}});
    });
  }
  for (auto& t : threads) t.join();
  int completed = 0, errors = 0;
  for (int i = 0; i < kRequests; ++i) {
    const Streamed& s = results[static_cast<std::size_t>(i)];
    if (s.status == 200 && s.done && s.error.empty() && !s.finish_reason.empty()) {
      ++completed;
      EXPECT_EQ(s.text, expected[static_cast<std::size_t>(i)]) << "request " << i;
    } else if (!s.error.empty() || s.status >= 400) {
      ++errors;
    }
  }
  EXPECT_EQ(completed + errors, kRequests) << cluster.log();
  EXPECT_EQ(completed, kRequests) << cluster.log();
  std::size_t preempted = 0;
  for (std::size_t at = 0; (at = cluster.log().find("preempted for KV", at)) != std::string::npos; ++at) ++preempted;
  EXPECT_GT(preempted, 0u) << "the test did not exercise preemption";
  std::printf("KV over-admission: %d of %d completed after %zu preemptions\n", completed, kRequests, preempted);
  EXPECT_EQ(cluster.health(), 200);
}

double metric_value(const std::string& text, const std::string& key) {
  const auto at = text.find(key + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size() + 1));
}

// local3 declares three machines of 1x, 1/2x and 1/4x speed; the planner gives
// each a full replica and the max flow weights them accordingly. With workers
// really slowed down by 1, 2 and 4, the router must still split the traffic by
// the plan's flows.
TEST(RuntimeWorkers, SlowedDownReplicasGetTrafficInProportionToTheirPlannedFlow) {
  TempDir dir;
  auto model = write_tiny_model(dir);
  LocalCluster cluster(dir, model, placement_json({{0, 4}, {0, 4}, {0, 4}}), {"fast", "mid:2", "slow:4"});
  ASSERT_TRUE(cluster.wait_healthy(60)) << cluster.log();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        json r = cluster.complete({{"model", "tiny"}, {"prompt", fmt::format("{} {}", t, i)}, {"max_tokens", 8},
                                   {"temperature", 0}, {"ignore_eos", true}});
        if (r.contains("usage")) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, 60);
  const std::string m = cluster.client().Get("/metrics")->body;
  double planned[3], routed[3], planned_sum = 0, routed_sum = 0;
  const char* names[] = {"fast", "mid", "slow"};
  for (int i = 0; i < 3; ++i) {
    const std::string labels = fmt::format("{{from=\"coordinator\",to=\"{}\"}}", names[i]);
    planned[i] = metric_value(m, "helix_edge_planned_flow_tokens_per_second" + labels);
    routed[i] = metric_value(m, "helix_edge_tokens_total" + labels);
    planned_sum += planned[i];
    routed_sum += routed[i];
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(routed[i] / routed_sum, planned[i] / planned_sum, 0.07) << names[i] << "\n" << m;
  }
  EXPECT_GT(planned[0], 1.8 * planned[1]);
  EXPECT_GT(planned[1], 1.8 * planned[2]);
  std::printf("routed shares fast/mid/slow %.3f/%.3f/%.3f, planned %.3f/%.3f/%.3f\n", routed[0] / routed_sum,
              routed[1] / routed_sum, routed[2] / routed_sum, planned[0] / planned_sum, planned[1] / planned_sum,
              planned[2] / planned_sum);
}

// Workers notice a coordinator that died without a word (SIGKILL) and exit with
// an error instead of holding their KV forever.
TEST(RuntimeWorkers, WorkersExitWhenTheCoordinatorIsGone) {
  TempDir dir;
  auto model = write_tiny_model(dir);
  LocalCluster cluster(dir, model, placement_json({{0, 2}, {2, 3}, {3, 4}}), {"fast", "mid", "slow"});
  ASSERT_TRUE(cluster.wait_healthy(60)) << cluster.log();
  cluster.kill_coordinator();
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(cluster.worker(i).wait(20), 1) << "worker " << i;
  const std::string log = test::read_file(dir.path() / "fast.log");
  EXPECT_NE(log.find("no word from the coordinator"), std::string::npos) << log;
}

// `helix up` starts a coordinator and one worker process per placed node, answers
// its streamed prompt, serves, and on Ctrl-C (SIGINT) stops everything: exit 0 and
// no worker left behind.
TEST(RuntimeUp, StartsAWorkerPerNodeAnswersAndStopsEverythingOnCtrlC) {
  TempDir dir;
  auto model = write_tiny_model(dir);
  const int port = test::free_tcp_port();
  ChildProcess up({HELIX_BINARY, "up", "--model", model.string(), "--listen", fmt::format("127.0.0.1:{}", port),
                   "--prompt", "Once upon", "--max-tokens", "8", "--serve", "--slowdown", "slow=2"},
                  dir.path() / "up.log");
  httplib::Client client("127.0.0.1", port);
  ASSERT_TRUE(wait_until(60, [&] {
    auto res = client.Get("/health");
    return res && res->status == 200 && test::read_file(dir.path() / "up.log").find("serving at") != std::string::npos;
  })) << test::read_file(dir.path() / "up.log");
  auto workers = test::run_command("pgrep -f '[w]orker --coordinator .* --model " + model.string() + "'");
  EXPECT_EQ(std::count(workers.out.begin(), workers.out.end(), '\n'), 3) << workers.out;
  EXPECT_NE(test::read_file(dir.path() / "up.log").find("Once upon"), std::string::npos);
  up.signal(SIGINT);
  EXPECT_EQ(up.wait(30), 0) << test::read_file(dir.path() / "up.log");
  workers = test::run_command("pgrep -f '[w]orker --coordinator .* --model " + model.string() + "'");
  EXPECT_TRUE(workers.out.empty()) << workers.out;
}

}  // namespace
}  // namespace helix
