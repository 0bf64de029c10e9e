#include "helix/core/python_random.h"

#include <gtest/gtest.h>

#include <numeric>

namespace helix {
namespace {

// Reference values printed by CPython 3.11's `random` module.
TEST(PythonRandom, MatchesCPythonRandom) {
  PythonRandom r(0);
  EXPECT_DOUBLE_EQ(r.random(), 0.8444218515250481);
  EXPECT_DOUBLE_EQ(r.random(), 0.7579544029403025);
}

TEST(PythonRandom, MatchesCPythonGetrandbits) {
  PythonRandom r(0);
  EXPECT_EQ(r.getrandbits(32), 3626764237U);
  EXPECT_EQ(r.getrandbits(32), 1654615998U);
  EXPECT_EQ(r.getrandbits(32), 3255389356U);
}

TEST(PythonRandom, MatchesCPythonShuffle) {
  PythonRandom r(0);
  std::vector<int> v(10);
  std::iota(v.begin(), v.end(), 0);
  r.shuffle(v);
  EXPECT_EQ(v, (std::vector<int>{7, 8, 1, 5, 3, 4, 2, 0, 9, 6}));
}

TEST(PythonRandom, MultiWordSeedAndRandrange) {
  PythonRandom big(12345678901ULL);
  EXPECT_DOUBLE_EQ(big.random(), 0.9460118159397316);
  PythonRandom r(7);
  std::vector<std::uint64_t> got;
  for (int i = 0; i < 5; ++i) got.push_back(r.randbelow(1000));
  EXPECT_EQ(got, (std::vector<std::uint64_t>{331, 970, 154, 404, 666}));
}

}  // namespace
}  // namespace helix
