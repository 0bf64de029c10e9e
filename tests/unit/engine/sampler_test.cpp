#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "helix/core/error.h"
#include "helix/engine/sampler.h"

namespace helix {
namespace {

SamplingParams params(double temperature, int top_k = 0, double top_p = 1.0, std::uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.seed = seed;
  return p;
}

TEST(Sampler, GreedyTakesTheArgmaxAndTheLowestIdOnTies) {
  Sampler s(params(0));
  std::vector<float> l = {0.1f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(s.sample(l), 1);
  EXPECT_EQ(s.sample(l, 1), 0);  // only id 0 allowed
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  std::vector<float> l(50);
  for (std::size_t i = 0; i < l.size(); ++i) l[i] = static_cast<float>(std::sin(static_cast<double>(i)));
  auto draw = [&](std::uint64_t seed) {
    Sampler s(params(1.0, 0, 1.0, seed));
    std::vector<int> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(l));
    return out;
  };
  EXPECT_EQ(draw(5), draw(5));
  EXPECT_NE(draw(5), draw(6));
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  // Logits ln(1), ln(2), ln(3), ln(4) at temperature 1: probabilities 0.1 .. 0.4.
  std::vector<float> l = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  Sampler s(params(1.0, 0, 1.0, 42));
  std::map<int, int> count;
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++count[s.sample(l)];
  for (int id = 0; id < 4; ++id) EXPECT_NEAR(count[id] / double(n), (id + 1) / 10.0, 0.01) << id;
}

TEST(Sampler, TopKAndTopPRestrictTheCandidates) {
  std::vector<float> l = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  Sampler k2(params(1.0, 2, 1.0, 3));
  Sampler p(params(1.0, 0, 0.65, 3));  // 0.4 + 0.3 reaches 0.65: ids 3 and 2
  std::map<int, int> ck, cp;
  for (int i = 0; i < 20000; ++i) ++ck[k2.sample(l)], ++cp[p.sample(l)];
  EXPECT_EQ(ck.count(0) + ck.count(1), 0u);
  EXPECT_EQ(cp.count(0) + cp.count(1), 0u);
  EXPECT_NEAR(ck[3] / 20000.0, 4.0 / 7.0, 0.015);
  EXPECT_NEAR(cp[3] / 20000.0, 4.0 / 7.0, 0.015);
  Sampler k1(params(5.0, 1));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(k1.sample(l), 3);
}

TEST(Sampler, StopTokensAndInvalidParameters) {
  SamplingParams p = params(0);
  p.stop_tokens = {7, 9};
  Sampler s(p);
  EXPECT_TRUE(s.is_stop(9));
  EXPECT_FALSE(s.is_stop(8));
  auto message = [](SamplingParams bad) {
    try {
      Sampler x(bad);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(params(-1)).find("temperature"), std::string::npos);
  EXPECT_NE(message(params(1, 0, 0.0)).find("top_p"), std::string::npos);
  EXPECT_NE(message(params(1, -2)).find("top_k"), std::string::npos);
  SamplingParams m = params(0);
  m.max_tokens = -1;
  EXPECT_NE(message(m).find("max_tokens"), std::string::npos);
}

}  // namespace
}  // namespace helix
