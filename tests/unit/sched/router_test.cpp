// The schedulers on hand-made views: IWRR sequences worked out by hand, the Helix
// router's masks (flow share, prompt length, KV), its bandwidth shares and undo on
// failure, the KV ledger, and the baselines' choices.
#include <gtest/gtest.h>

#include <vector>

#include "helix/core/python_random.h"
#include "helix/sched/helix_router.h"
#include "helix/sched/hop_routers.h"
#include "helix/sched/iwrr.h"
#include "helix/sched/kv_ledger.h"

namespace helix::sched {
namespace {

std::vector<int> choices(Iwrr& iwrr, double work, int n) {
  std::vector<char> all(static_cast<std::size_t>(iwrr.size()), 1);
  std::vector<int> out;
  for (int i = 0; i < n; ++i) out.push_back(iwrr.choose(work, all));
  return out;
}

TEST(Iwrr, InterleavesInProportionToCapacity) {
  // caps 3 and 1, unit work: picks cost 1/3 on link 0 and 1 on link 1. The third
  // pick is a tie (1 vs 1) and goes to index 0; the fourth costs 4/3 vs 1 -> 1.
  Iwrr iwrr({3, 1});
  EXPECT_EQ(choices(iwrr, 1, 8), (std::vector<int>{0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_DOUBLE_EQ(iwrr.load(0), 2.0);
  EXPECT_DOUBLE_EQ(iwrr.load(1), 2.0);
}

TEST(Iwrr, TiesGoToTheLowestIndex) {
  Iwrr iwrr({2, 2, 2});
  EXPECT_EQ(choices(iwrr, 1, 6), (std::vector<int>{0, 1, 2, 0, 1, 2}));
}

TEST(Iwrr, HonoursTheMaskAndZeroCapacities) {
  Iwrr iwrr({5, 0, 1});
  std::vector<char> mask = {0, 1, 1};
  EXPECT_EQ(iwrr.choose(1, mask), 2);  // index 1 has no capacity, index 0 is masked
  std::vector<char> none = {0, 1, 0};
  EXPECT_EQ(iwrr.choose(1, none), -1);
  EXPECT_DOUBLE_EQ(iwrr.load(2), 1.0);
  iwrr.restore(1, 2);
  EXPECT_DOUBLE_EQ(iwrr.load(2), 0.0);
}

TEST(Iwrr, WorkScalesTheStep) {
  Iwrr iwrr({100, 50});
  std::vector<char> all = {1, 1};
  EXPECT_EQ(iwrr.choose(100, all), 0);  // 0 + 1 vs 0 + 2
  EXPECT_EQ(iwrr.choose(100, all), 0);  // 1 + 1 vs 0 + 2: a tie, the lower index wins
  EXPECT_EQ(iwrr.choose(100, all), 1);  // 2 + 1 vs 0 + 2
}

// source -> A, source -> B (A, B hold layers 0-3), A -> C, B -> C (C holds 4-7),
// C -> sink. Flows: source->A 30, source->B 10, A->C 30, B->C 10, C->sink 40.
ServingView diamond() {
  ServingView v;
  v.num_layers = 8;
  v.coordinator_out_Bps = 1000;
  v.coordinator_in_Bps = 1000;
  v.nodes = {NodeView{"A", {0, 4}, 2048, 10000, 1000, 1000},
             NodeView{"B", {0, 4}, 512, 10000, 1000, 1000},
             NodeView{"C", {4, 8}, 4096, 40000, 1000, 1000}};
  v.links = {LinkView{kSource, 0, 100, 0, 30, 50}, LinkView{kSource, 1, 100, 0, 10, 50},
             LinkView{0, 2, 200, 0, 30, 60},       LinkView{1, 2, 200, 0, 10, 60},
             LinkView{2, kSink, 400, 0, 40, 80}};
  v.index();
  return v;
}

TEST(HelixRouter, RoutesInProportionToTheFlow) {
  ServingView v = diamond();
  HelixRouter router(v, HelixRouterOptions{KvParameters{1.0, 0.0}, 0.05});
  int via_a = 0;
  for (int i = 0; i < 8; ++i) {
    auto route = router.route_prompt(100);
    ASSERT_TRUE(route.has_value());
    ASSERT_EQ(route->stages.size(), 3u);
    EXPECT_EQ(route->stages[2].node, kSink);
    EXPECT_EQ(route->stages[1].node, 2);
    EXPECT_EQ(route->stages[1].layers, (LayerRange{4, 8}));
    if (route->stages[0].node == 0) ++via_a;
  }
  EXPECT_EQ(via_a, 6);  // 30:10 flow -> 3:1
}

TEST(HelixRouter, ReservesFlowProportionalBandwidth) {
  ServingView v = diamond();
  HelixRouter router(v, HelixRouterOptions{KvParameters{1.0, 0.0}, 0.05});
  auto route = router.route_prompt(10);
  ASSERT_TRUE(route.has_value());
  // source -> A: share = 100 * 30/50 = 60 of the source's 60 + 20 = 80;
  // min(link 100, NIC 1000 * 60/80 = 750, A's NIC-in 1000 * 60/60) = 100.
  EXPECT_DOUBLE_EQ(route->stages[0].bandwidth_Bps, 100);
  // A -> C: share 200 * 30/60 = 100; C's inbound shares 100 + 33.3: 1000 * 100/133.3 = 750 > 200.
  EXPECT_DOUBLE_EQ(route->stages[1].bandwidth_Bps, 200);
}

TEST(HelixRouter, MasksNodesThatCannotTakeThePromptLength) {
  ServingView v = diamond();
  for (NodeView& n : v.nodes) n.kv_capacity = 1e9;  // only the length may mask here
  HelixRouter router(v, HelixRouterOptions{KvParameters{1.0, 0.0}, 0.05});
  for (int i = 0; i < 5; ++i) {
    auto route = router.route_prompt(1000);  // B takes at most 512 tokens
    ASSERT_TRUE(route.has_value());
    EXPECT_EQ(route->stages[0].node, 0);
  }
  RouteFailure why;
  EXPECT_FALSE(router.route_prompt(5000, &why).has_value());  // nobody takes 5000 at the first hop
  EXPECT_EQ(why.at, kSource);
  EXPECT_EQ(why.masked_length, 2);
  EXPECT_NE(why.describe(v).find("prompt length"), std::string::npos);
}

TEST(HelixRouter, MasksLinksBelowFivePercentOfTheFlow) {
  ServingView v = diamond();
  v.links[1].flow_tps = 1;  // 1 of 31 < 5%
  v.links[0].flow_tps = 30;
  HelixRouter router(v, HelixRouterOptions{KvParameters{1.0, 0.0}, 0.05});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(router.route_prompt(10)->stages[0].node, 0);
}

TEST(HelixRouter, KvLedgerStopsAdmissionAndReleasesOnFinish) {
  ServingView v = diamond();
  // hwm 0.5, ratio 0: a 1000-token prompt needs 4000 of A's 10000 (4 layers); A and
  // B accept while avail - 4000 >= 5000.
  HelixRouter router(v, HelixRouterOptions{KvParameters{0.5, 0.0}, 0.05});
  std::vector<Route> routes;
  for (int i = 0; i < 2; ++i) {
    auto r = router.route_prompt(500);  // 2000 per node of the first stage, 2000 on C
    ASSERT_TRUE(r.has_value());
    routes.push_back(*r);
  }
  // Both of the first two went to A (its IWRR cost is lower) unless masked.
  EXPECT_EQ(routes[0].stages[0].node, 0);
  const double a_before = router.kv().available(0);
  RouteFailure why;
  int admitted = 2;
  while (router.route_prompt(500, &why)) ++admitted;
  EXPECT_GT(admitted, 2);
  EXPECT_GT(why.masked_kv, 0);
  EXPECT_LT(router.kv().available(0), a_before + 1);
  // Releasing one query makes room again.
  router.on_query_finished(routes[0], 500);
  EXPECT_TRUE(router.route_prompt(500).has_value());
}

// A router built anew (the runtime rebuilds it when nodes come and go) takes over
// the queries of the old one: its ledger is charged as if it had routed them.
TEST(HelixRouter, AdoptedQueriesChargeTheLedgerAsRoutedOnes) {
  ServingView v = diamond();
  HelixRouter first(v, HelixRouterOptions{KvParameters{0.5, 0.0}, 0.05});
  const auto route = first.route_prompt(500);
  ASSERT_TRUE(route.has_value());
  HelixRouter second(v, HelixRouterOptions{KvParameters{0.5, 0.0}, 0.05});
  std::vector<double> fresh;
  for (int node = 0; node < 3; ++node) fresh.push_back(second.kv().available(node));
  second.adopt(*route, 500);
  for (int node = 0; node < 3; ++node) EXPECT_DOUBLE_EQ(second.kv().available(node), first.kv().available(node)) << node;
  EXPECT_LT(second.kv().available(route->stages[0].node), fresh[static_cast<std::size_t>(route->stages[0].node)]);
  second.on_query_finished(*route, 500);
  for (int node = 0; node < 3; ++node) EXPECT_DOUBLE_EQ(second.kv().available(node), fresh[static_cast<std::size_t>(node)]) << node;
}

TEST(HelixRouter, FailedRouteLeavesLoadsUnchanged) {
  ServingView v = diamond();
  v.nodes[2].prompt_max_tokens = 100;  // C cannot take 500: fails at the second hop
  HelixRouter router(v, HelixRouterOptions{KvParameters{1.0, 0.0}, 0.05});
  const double before = router.iwrr(kSource).load(0) + router.iwrr(kSource).load(1);
  RouteFailure why;
  EXPECT_FALSE(router.route_prompt(500, &why).has_value());
  EXPECT_NE(why.at, kSource);
  EXPECT_DOUBLE_EQ(router.iwrr(kSource).load(0) + router.iwrr(kSource).load(1), before);
}

TEST(HelixRouter, DecodesAddOneTokenPerHop) {
  ServingView v = diamond();
  HelixRouter router(v, HelixRouterOptions{KvParameters{1.0, 0.0}, 0.05});
  auto route = router.route_prompt(30);
  ASSERT_TRUE(route.has_value());
  const double load = router.iwrr(kSource).load(0);
  router.on_decode(*route);
  EXPECT_DOUBLE_EQ(router.iwrr(kSource).load(0), load + 1.0 / 30);
}

TEST(KvLedger, ExpectedLengthTruncatesLikePython) {
  ServingView v = diamond();
  KvLedger ledger(v, KvParameters{0.9, 0.6});
  EXPECT_EQ(ledger.expected_len(100), 244);  // int(100 + 144.0)
  KvLedger ledger2(v, KvParameters{0.9, 0.55});
  EXPECT_EQ(ledger2.expected_len(100), 232);  // int(100 + 132.0)
}

TEST(KvLedger, BottleneckUsageIsTheFullestLayer) {
  ServingView v = diamond();
  KvLedger ledger(v, KvParameters{1.0, 0.0});
  EXPECT_DOUBLE_EQ(ledger.bottleneck_usage(), 0.0);
  ledger.add(1000, {KvCharge{2, 4}});  // C: 4000 of 40000
  // layers 4-7 are held by C alone: 10% used; layers 0-3 by A and B: 0%.
  EXPECT_DOUBLE_EQ(ledger.bottleneck_usage(), 0.1);
  ledger.add(1000, {KvCharge{0, 4}});  // A: 4000 of 10000 -> layers 0-3: 4000/20000
  EXPECT_DOUBLE_EQ(ledger.bottleneck_usage(), 0.2);
  ledger.remove(1000, {KvCharge{0, 4}});
  EXPECT_DOUBLE_EQ(ledger.bottleneck_usage(), 0.1);
}

TEST(SwarmRouter, PicksTheLowestPriorityAndLearnsDelays) {
  ServingView v = diamond();
  SwarmRouter swarm(v);
  // Both source links start at priority 0.05; ties go to the smaller link index.
  EXPECT_EQ(swarm.choose_link(kSource), 0);  // link 0 -> 0.10
  EXPECT_EQ(swarm.choose_link(kSource), 1);  // link 1 -> 0.10
  swarm.report(0, 1.0);                       // ema0 = 0.8 + 0.2 * 0.05 = 0.81
  EXPECT_DOUBLE_EQ(swarm.ema(0), 0.81);
  EXPECT_EQ(swarm.choose_link(kSource), 0);  // (0.10, 0) < (0.10, 1); now 0.91
  EXPECT_EQ(swarm.choose_link(kSource), 1);  // 0.10 -> 0.15
  EXPECT_EQ(swarm.choose_link(kSource), 1);  // 0.15 -> 0.20
}

TEST(RandomRouter, ChoosesAnUntakenIdleLinkReproducibly) {
  PythonRandom a(7), b(7);
  RandomRouter ra(a), rb(b);
  std::vector<int> idle = {0, 2, 3};
  std::vector<char> taken = {0, 0, 1, 0};
  for (int i = 0; i < 50; ++i) {
    const int x = ra.choose_link(idle, taken);
    EXPECT_TRUE(x == 0 || x == 3);
    EXPECT_EQ(x, rb.choose_link(idle, taken));
  }
  std::vector<char> all_taken = {1, 1, 1, 1};
  EXPECT_EQ(ra.choose_link(idle, all_taken), -1);
}

TEST(ShortestQueueRouter, PrefersShortQueuesAndStopsAtTheSink) {
  ServingView v = diamond();
  PythonRandom rng(0);
  ShortestQueueRouter sq(v, rng);
  std::vector<int> queued = {3, 1, 0};
  EXPECT_EQ(sq.shortest_links(kSource, queued), (std::vector<int>{1}));
  queued = {2, 2, 0};
  EXPECT_EQ(sq.shortest_links(kSource, queued), (std::vector<int>{0, 1}));
  EXPECT_EQ(sq.shortest_links(2, queued), (std::vector<int>{4}));
  std::vector<int> idle = {0};
  std::vector<char> taken(5, 0);
  EXPECT_EQ(sq.choose_link(kSource, queued, idle, taken), 0);
}

}  // namespace
}  // namespace helix::sched
