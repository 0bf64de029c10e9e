#include "helix/runtime/activation_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace helix::runtime {
namespace {

std::vector<float> floats_of(const zmq::message_t& frame) {
  std::vector<float> out(frame.size() / sizeof(float));
  std::memcpy(out.data(), frame.data(), frame.size());
  return out;
}

TEST(ActivationCodec, F16PayloadsAreHalfTheBytesAndWidenToTheNearestHalf) {
  // Exactly representable values come back bit for bit; others within half an f16 step.
  const std::vector<float> values = {0.0f, -0.0f, 1.0f, -2.5f, 0.099975586f, 65504.0f, -65504.0f, 6.1035156e-05f,
                                     5.9604645e-08f, 0.1f, 3.14159265f, -1234.567f, 1e-9f};
  const auto halves = f16_payload(values);
  ASSERT_TRUE(halves.has_value());
  EXPECT_EQ(halves->size(), values.size() * 2);
  const std::vector<float> back = floats_of(widened_payload(*halves));
  ASSERT_EQ(back.size(), values.size());
  for (std::size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(std::memcmp(&back[i], &values[i], sizeof(float)), 0) << "value " << values[i] << " is an f16";
  }
  for (std::size_t i = 9; i < values.size(); ++i) {
    const float v = values[i];
    // f16 keeps 11 significant bits: a relative error of at most 2^-11 (normal range),
    // and 2^-25 absolute below it.
    EXPECT_LE(std::abs(back[i] - v), std::max(std::abs(v) * 0x1p-11f, 0x1p-25f)) << v;
    EXPECT_NE(back[i], v) << v << " needs rounding: the test would not see it otherwise";
  }
}

TEST(ActivationCodec, AValueWithoutAFiniteHalfKeepsTheMessageInFloat32) {
  for (float bad : {65520.0f, -1e6f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    const std::vector<float> values = {1.0f, bad, 2.0f};
    EXPECT_FALSE(f16_payload(values).has_value()) << bad;
  }
  // 65519 rounds down to 65504, the largest half: still finite.
  EXPECT_TRUE(f16_payload(std::vector<float>{65519.0f}).has_value());
  EXPECT_TRUE(f16_payload(std::vector<float>{}).has_value());
}

}  // namespace
}  // namespace helix::runtime
