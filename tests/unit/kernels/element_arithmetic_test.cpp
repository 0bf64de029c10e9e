// The per-element arithmetic the CPU's portable kernels and the CUDA kernels share
// (kernels/element_arithmetic.h), against float64 and against its own definitions.
#include "helix/kernels/element_arithmetic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace helix {
namespace {

TEST(ElementArithmetic, RmsScaleIsTheInverseRootOfTheMeanSquarePlusEps) {
  for (auto [sum, n, eps] : {std::tuple{4096.0f, 4096, 1e-5f}, {3.0f, 1, 0.0f}, {1e-3f, 1000, 1e-6f}}) {
    const double expected = 1.0 / std::sqrt(static_cast<double>(sum) / n + eps);
    EXPECT_NEAR(element::rms_scale(sum, n, eps), expected, 1e-6 * expected) << sum << " " << n;
  }
  EXPECT_FLOAT_EQ(element::rms_normed(2.0f, 0.5f, 3.0f), 3.0f);
}

TEST(ElementArithmetic, SiluMulIsGateTimesSigmoidGateTimesUp) {
  for (float gate : {-100.0f, -88.0f, -3.5f, -1e-4f, 0.0f, 1e-4f, 0.75f, 3.5f, 88.0f}) {
    const double g = gate, expected = g / (1.0 + std::exp(-g)) * 1.5;
    EXPECT_NEAR(element::silu_mul(gate, 1.5f), expected, 1e-6 * std::abs(expected) + 1e-30) << gate;
  }
}

TEST(ElementArithmetic, RopePairsCoverAHeadOnceInEitherLayout) {
  for (bool half_split : {true, false}) {
    std::set<int> seen;
    const int head_dim = 10, pairs = head_dim / 2;
    for (int i = 0; i < pairs; ++i) {
      const element::RopePair p = element::rope_pair(i, pairs, half_split);
      EXPECT_EQ(p.second - p.first, half_split ? pairs : 1);
      seen.insert(p.first);
      seen.insert(p.second);
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(head_dim));
    EXPECT_EQ(*seen.rbegin(), head_dim - 1);
  }
}

TEST(ElementArithmetic, RopeRotatesByTheAngleAndBackAgain) {
  const double angle = 0.7;
  const auto c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
  const element::Rotated unit = element::rope_rotate(1.0f, 0.0f, c, s);
  EXPECT_FLOAT_EQ(unit.first, c);
  EXPECT_FLOAT_EQ(unit.second, s);
  const element::Rotated there = element::rope_rotate(0.3f, -1.2f, c, s);
  const element::Rotated back = element::rope_rotate(there.first, there.second, c, -s);
  EXPECT_NEAR(back.first, 0.3f, 1e-6);
  EXPECT_NEAR(back.second, -1.2f, 1e-6);
  EXPECT_NEAR(std::hypot(there.first, there.second), std::hypot(0.3, -1.2), 1e-6);
}

}  // namespace
}  // namespace helix
