// The simulator's model of helix's own runtime (--runtime helix): exact timing
// of a lone request, determinism, KV preemption that loses nothing, and the
// worker's gather window.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "helix/cluster/cluster_yaml.h"
#include "helix/core/error.h"
#include "helix/model/model_spec.h"
#include "helix/sim/serving_setup.h"
#include "helix/sim/simulator.h"
#include "support/test_support.h"

namespace helix::sim {
namespace {

ClusterSpec h100_cluster() { return load_cluster(test::source_dir() / "examples/clusters/h100-a10g-llama3.yaml"); }

// LLaMA-3-8B on the example cluster: all 32 layers on h100-0, or split over
// h100-0 and h100-1.
SimCluster placed(const ClusterSpec& cluster, bool split) {
  const ModelSpec model = model_preset("llama3-8b");
  Placement p = empty_placement(cluster, model.name, model.num_layers, "test");
  const int a = cluster.node_index("h100-0"), b = cluster.node_index("h100-1");
  if (split) {
    p.ranges[static_cast<std::size_t>(a)] = {0, 16};
    p.ranges[static_cast<std::size_t>(b)] = {16, 32};
  } else {
    p.ranges[static_cast<std::size_t>(a)] = {0, 32};
  }
  return sim_cluster_from_placement(cluster, model, p, false);
}

SimConfig helix_online(const std::string& trace) {
  SimConfig c;
  c.runtime = Runtime::Helix;
  c.mode = Mode::Online;
  c.online.source = OnlineWorkload::Source::File;
  c.online.trace_file = trace;
  c.duration_s = 60;
  return c;
}

std::string trace_csv(double t_load, const std::vector<std::array<int, 2>>& queries, double spacing) {
  std::string csv = "query_index,arrival_time_s,input_tokens,output_tokens\n";
  for (std::size_t i = 0; i < queries.size(); ++i) {
    csv += std::to_string(i) + "," + std::to_string(t_load + 1 + spacing * static_cast<double>(i)) + "," +
           std::to_string(queries[i][0]) + "," + std::to_string(queries[i][1]) + "\n";
  }
  return csv;
}

TEST(HelixRuntimeModel, ALoneRequestTakesExactlyItsLinksGatherAndStageTimes) {
  const ClusterSpec cluster = h100_cluster();
  const SimCluster sim = placed(cluster, false);
  test::TempDir dir;
  const auto trace = dir.write("t.csv", trace_csv(model_loading_end_s(sim), {{100, 3}}, 0));
  SimConfig config = helix_online(trace.string());
  const SimReport r = simulate(sim, config);

  const ServingSetup setup(sim, true);
  const GpuProfile& gpu = setup.profile(cluster.node_index("h100-0"));
  const sched::ServingView& view = setup.view();
  double in_latency = 0, out_latency = 0, in_bw = 0, out_bw = 0;
  for (const sched::LinkView& l : view.links) {
    if (l.from == sched::kSource) in_latency = l.latency_s, in_bw = l.bandwidth_Bps;
    if (l.to == sched::kSink) out_latency = l.latency_s, out_bw = l.bandwidth_Bps;
  }
  const double token = sim.model.token_size_bytes;
  const double gather = config.helix_runtime.gather_s;
  const double back = token / out_bw + out_latency;
  const double prompt = 100 * token / in_bw + in_latency + gather + 32 * gpu.prompt.at(100) + back;
  // One decode: the x2 rule of a batch of one (the emulated executor's charge).
  const double decode = token / in_bw + in_latency + gather + 32 * 2 * gpu.decode.at(1) + back;

  ASSERT_EQ(r.prompt_latency.count, 1);
  EXPECT_NEAR(r.prompt_latency.mean_s, prompt, 1e-9);
  ASSERT_EQ(r.decode_latency.count, 3);
  EXPECT_NEAR(r.decode_latency.mean_s, decode, 1e-9);
  EXPECT_NEAR(r.decode_latency.max_s, decode, 1e-9);
  EXPECT_EQ(r.queries_finished, 1);
  EXPECT_EQ(r.preemptions, 0);
}

TEST(HelixRuntimeModel, SameInputsGiveByteIdenticalReports) {
  const SimCluster sim = placed(h100_cluster(), true);
  SimConfig c;
  c.runtime = Runtime::Helix;
  c.warm_up_s = 5;
  c.duration_s = 20;
  c.helix_runtime.clients = 40;
  const std::string a = report_to_json(simulate(sim, c), true).dump();
  const std::string b = report_to_json(simulate(sim, c), true).dump();
  EXPECT_EQ(a, b);
  const SimReport r = simulate(sim, c);
  EXPECT_GT(r.decode_tps, 0);
  for (const NodeReport& n : r.nodes) EXPECT_LE(n.busy_share, 1.0 + 1e-9);
}

TEST(HelixRuntimeModel, KvPressurePreemptsAndEveryQueryStillGetsAllItsTokens) {
  SimCluster sim = placed(h100_cluster(), true);
  // A KV cache of 40 blocks (640 tokens) per worker, and a ledger that expects
  // nearly no output: it admits four 150-token prompts whose outputs then outgrow it.
  for (double& kv : sim.kv_capacity) kv = kv > 0 ? 640.0 * 16 : 0;
  test::TempDir dir;
  const std::vector<std::array<int, 2>> queries = {{150, 200}, {150, 200}, {150, 200}, {150, 200}};
  SimConfig c = helix_online(dir.write("t.csv", trace_csv(model_loading_end_s(sim), queries, 0.01)).string());
  c.kv = sched::KvParameters{1.0, 0.01};
  c.duration_s = 600;
  const SimReport r = simulate(sim, c);
  EXPECT_GT(r.preemptions, 0);
  EXPECT_EQ(r.queries_finished, 4);
  EXPECT_EQ(r.queries_rejected, 0);
  EXPECT_EQ(r.prompt_latency.count, 4);     // one first token each
  EXPECT_EQ(r.decode_latency.count, 800);   // and every decode, none twice
}

TEST(HelixRuntimeModel, GatherKeepsABatchSentOnMessageByMessageTogether) {
  const SimCluster sim = placed(h100_cluster(), true);
  auto batch = [&](double gather) {
    SimConfig c;
    c.runtime = Runtime::Helix;
    c.warm_up_s = 5;
    c.duration_s = 20;
    c.helix_runtime.clients = 64;
    c.helix_runtime.gather_s = gather;
    const SimReport r = simulate(sim, c);
    double decodes = 0;
    for (const NodeReport& n : r.nodes) decodes += n.mean_decode_batch;
    return decodes / static_cast<double>(r.nodes.size());
  };
  // Without a gather window the second worker starts on the first message of
  // each batch the first one sends on, and runs the rest in a step of their own.
  EXPECT_GT(batch(0.001), 1.3 * batch(0.0));
}

TEST(HelixRuntimeModel, RefusesSchedulersTheRuntimeDoesNotHave) {
  const SimCluster sim = placed(h100_cluster(), false);
  SimConfig c;
  c.runtime = Runtime::Helix;
  c.scheduler = SchedulerKind::Swarm;
  EXPECT_THROW(simulate(sim, c), Error);
}

}  // namespace
}  // namespace helix::sim
