#include "helix/weights/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "weights_test_util.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;

// IEEE half decoded with plain arithmetic, independent of f16_to_f32's bit tricks.
double reference_f16(std::uint16_t h) {
  int sign = (h & 0x8000) != 0 ? -1 : 1;
  int exp = (h >> 10) & 0x1F;
  int mant = h & 0x3FF;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  if (exp == 31) return mant == 0 ? sign * std::numeric_limits<double>::infinity() : std::nan("");
  return sign * std::ldexp(1024 + mant, exp - 25);
}

TEST(DType, NamesParseCaseInsensitively) {
  EXPECT_EQ(dtype_name(DType::F32), "F32");
  EXPECT_EQ(dtype_name(DType::F16), "F16");
  EXPECT_EQ(dtype_name(DType::BF16), "BF16");
  EXPECT_EQ(dtype_name(DType::Q8_0), "Q8_0");
  EXPECT_EQ(parse_dtype("float32"), DType::F32);
  EXPECT_EQ(parse_dtype("F32"), DType::F32);
  EXPECT_EQ(parse_dtype("Float16"), DType::F16);
  EXPECT_EQ(parse_dtype("f16"), DType::F16);
  EXPECT_EQ(parse_dtype("BFloat16"), DType::BF16);
  EXPECT_EQ(parse_dtype("bf16"), DType::BF16);
  EXPECT_EQ(parse_dtype("Q8_0"), DType::Q8_0);
  EXPECT_EQ(parse_dtype("q8_0"), DType::Q8_0);
  EXPECT_EQ(parse_dtype("int8"), std::nullopt);
  EXPECT_EQ(parse_dtype(""), std::nullopt);
}

TEST(DType, RowBytes) {
  EXPECT_EQ(dtype_row_bytes(DType::F32, 10), 40u);
  EXPECT_EQ(dtype_row_bytes(DType::F16, 10), 20u);
  EXPECT_EQ(dtype_row_bytes(DType::BF16, 0), 0u);
  EXPECT_EQ(dtype_row_bytes(DType::Q8_0, 64), 68u);
  expect_contains(error_message([] { dtype_row_bytes(DType::Q8_0, 33); }), {"Q8_0", "multiple of 32", "33"});
  expect_contains(error_message([] { dtype_row_bytes(DType::F32, -1); }), {"negative", "-1"});
  expect_contains(error_message([] { dtype_row_bytes(DType::F32, std::numeric_limits<std::int64_t>::max()); }),
                  {"do not fit"});
}

TEST(F16, EveryBitPatternDecodesAndRoundTrips) {
  for (std::uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    auto h = static_cast<std::uint16_t>(bits);
    float f = f16_to_f32(h);
    double expected = reference_f16(h);
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << bits;
    } else {
      EXPECT_EQ(static_cast<double>(f), expected) << std::hex << bits;
      EXPECT_EQ(std::signbit(f), (bits & 0x8000) != 0) << std::hex << bits;
    }
    // NaN payloads survive too (the f32 mantissa holds the f16 one), so every pattern is exact.
    ASSERT_EQ(f32_to_f16(f), h) << std::hex << bits;
  }
}

TEST(F16, KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.5f), 0xC100);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(f32_to_f16(3.14159f), 0x4248);               // 3.140625
  EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(f32_to_f16(1e6f), 0x7C00);  // overflow
  EXPECT_EQ(f32_to_f16(1e-9f), 0x0000);  // underflow
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
}

TEST(F16, NanStaysNan) {
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::quiet_NaN()) & 0x7C00, 0x7C00);
  EXPECT_NE(f32_to_f16(std::numeric_limits<float>::quiet_NaN()) & 0x3FF, 0);
  // A payload only in the low 13 bits would be lost: the result must still be a NaN, not inf.
  std::uint16_t h = f32_to_f16(std::bit_cast<float>(0x7F800001u));
  EXPECT_TRUE(std::isnan(f16_to_f32(h))) << std::hex << h;
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::bit_cast<float>(0xFF800001u)))));
}

TEST(F16, RoundsTiesToEven) {
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // halfway 0x3C00/0x3C01 -> even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // halfway 0x3C01/0x3C02 -> even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.1f, -11)), 0x3C01);      // above halfway
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // halfway to 65536 -> even -> inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // subnormal halfway 0/1 -> 0
  EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);  // halfway 1/2 -> 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0001f, -25)), 0x0001);
  // Rounding up out of the subnormals into the smallest normal.
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)), 0x0400);
}

// Checks against the definition: the result is a nearest f16, and even on a tie.
TEST(F16, RandomValuesRoundToNearest) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    // Exponents spread over f16's range and around it.
    float x = std::ldexp(std::uniform_real_distribution<float>(1.0f, 2.0f)(rng),
                         std::uniform_int_distribution<int>(-27, 16)(rng));
    if (i % 2 == 1) x = -x;
    std::uint16_t h = f32_to_f16(x);
    double got = reference_f16(h);
    if (std::fabs(x) >= 65520.0f) {
      ASSERT_TRUE(std::isinf(got)) << x;
      continue;
    }
    std::uint16_t mag = h & 0x7FFF;
    std::uint16_t sign = h & 0x8000;
    double err = std::fabs(got - x);
    for (int step : {-1, 1}) {
      int other = mag + step;
      if (other < 0 || other > 0x7BFF) continue;
      double other_err = std::fabs(reference_f16(static_cast<std::uint16_t>(sign | other)) - x);
      ASSERT_LE(err, other_err) << x;
      if (err == other_err) {
        ASSERT_EQ(mag % 2, 0) << "tie not to even: " << x;
      }
    }
  }
}

TEST(BF16, EveryBitPatternRoundTrips) {
  for (std::uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    auto b = static_cast<std::uint16_t>(bits);
    float f = bf16_to_f32(b);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(f), bits << 16);
    ASSERT_EQ(f32_to_bf16(f), b) << std::hex << bits;
  }
}

TEST(BF16, KnownValuesTiesAndNan) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(-2.5f), 0xC020);
  EXPECT_EQ(f32_to_bf16(3.14159f), 0x4049);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);  // above the tie
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds to inf
  EXPECT_EQ(f32_to_bf16(std::ldexp(1.0f, -149)), 0x0000);            // tiny subnormal -> 0
  EXPECT_EQ(f32_to_bf16(std::ldexp(1.0f, -133)), 0x0001);            // smallest bf16 subnormal
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::bit_cast<float>(0x7F800001u)))));
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Convert, UnalignedF16AndBf16Sources) {
  std::vector<float> values = {1.0f, -2.5f, 0.125f, 65504.0f, -0.0f};
  for (DType dtype : {DType::F16, DType::BF16, DType::F32}) {
    std::vector<std::byte> buffer(1 + dtype_row_bytes(dtype, 5));
    convert_from_f32(dtype, values.data(), 5, buffer.data() + 1);  // odd address
    std::vector<float> back(5);
    convert_to_f32(dtype, buffer.data() + 1, 5, back.data());
    for (std::size_t i = 0; i < values.size(); ++i) {
      float expected = dtype == DType::BF16 ? bf16_to_f32(f32_to_bf16(values[i])) : values[i];
      EXPECT_EQ(back[i], expected) << dtype_name(dtype) << " " << i;
    }
  }
}

BlockQ8_0 quantize_block(const std::vector<float>& x) {
  BlockQ8_0 block{};
  convert_from_f32(DType::Q8_0, x.data(), kQ8BlockElements, reinterpret_cast<std::byte*>(&block));
  return block;
}

TEST(Q8_0, HandComputedBlock) {
  // max |x| = 127 so d = 1 exactly (f16 0x3C00) and q = round(x), halves away from zero.
  std::vector<float> x = {-127.0f, 127.0f, 0.5f, -0.5f, 1.49f, 2.5f, -2.5f, 100.2f, 0.0f, -0.0f, 3.0f};
  std::vector<int> q = {-127, 127, 1, -1, 1, 3, -3, 100, 0, 0, 3};
  for (int i = static_cast<int>(x.size()); i < kQ8BlockElements; ++i) {
    x.push_back(static_cast<float>(i) * 1.75f - 30.0f);
    q.push_back(static_cast<int>(std::round(static_cast<float>(i) * 1.75f - 30.0f)));
  }
  BlockQ8_0 block = quantize_block(x);
  EXPECT_EQ(block.d, 0x3C00);
  for (int i = 0; i < kQ8BlockElements; ++i) EXPECT_EQ(block.qs[i], q[static_cast<std::size_t>(i)]) << i;

  // A block with d = 0.5 (max |x| = 63.5): q = round(x / 0.5).
  std::vector<float> y(kQ8BlockElements, 0.0f);
  y[0] = 63.5f;
  y[1] = 1.25f;   // 2.5 -> 3
  y[2] = -0.2f;   // -0.4 -> 0
  y[3] = -10.0f;  // -20
  BlockQ8_0 half = quantize_block(y);
  EXPECT_EQ(half.d, 0x3800);
  EXPECT_EQ(half.qs[0], 127);
  EXPECT_EQ(half.qs[1], 3);
  EXPECT_EQ(half.qs[2], 0);
  EXPECT_EQ(half.qs[3], -20);

  std::vector<float> back(kQ8BlockElements);
  convert_to_f32(DType::Q8_0, reinterpret_cast<const std::byte*>(&half), kQ8BlockElements, back.data());
  EXPECT_EQ(back[0], 63.5f);
  EXPECT_EQ(back[1], 1.5f);
  EXPECT_EQ(back[3], -10.0f);
}

TEST(Q8_0, AllZeroBlock) {
  BlockQ8_0 block = quantize_block(std::vector<float>(kQ8BlockElements, 0.0f));
  EXPECT_EQ(block.d, 0);
  for (std::int8_t q : block.qs) EXPECT_EQ(q, 0);
  std::vector<float> back(kQ8BlockElements, 1.0f);
  convert_to_f32(DType::Q8_0, reinterpret_cast<const std::byte*>(&block), kQ8BlockElements, back.data());
  for (float v : back) EXPECT_EQ(v, 0.0f);
}

TEST(Q8_0, ErrorAtMostHalfTheScale) {
  const int blocks = 64;
  std::vector<float> x;
  for (int b = 0; b < blocks; ++b) {
    // Scales whose f16 scale is a normal number (max |x| / 127 >= 2^-14).
    float scale = std::ldexp(1.0f, b % 16 - 6) * (1.0f + static_cast<float>(b) / 7.0f);
    auto v = test::test_values(kQ8BlockElements, scale, static_cast<std::uint32_t>(b));
    x.insert(x.end(), v.begin(), v.end());
  }
  std::vector<BlockQ8_0> q(blocks);
  convert_from_f32(DType::Q8_0, x.data(), blocks * kQ8BlockElements, reinterpret_cast<std::byte*>(q.data()));
  std::vector<float> y(x.size());
  convert_to_f32(DType::Q8_0, reinterpret_cast<const std::byte*>(q.data()), blocks * kQ8BlockElements, y.data());
  for (int b = 0; b < blocks; ++b) {
    float amax = 0.0f;
    for (int i = 0; i < kQ8BlockElements; ++i) amax = std::max(amax, std::fabs(x[static_cast<std::size_t>(b * 32 + i)]));
    float d = f16_to_f32(q[static_cast<std::size_t>(b)].d);
    EXPECT_NEAR(d, amax / 127.0f, amax / 127.0f * 1e-3f) << b;  // the f16 scale
    for (int i = 0; i < kQ8BlockElements; ++i) {
      auto k = static_cast<std::size_t>(b * kQ8BlockElements + i);
      EXPECT_LE(std::fabs(x[k] - y[k]), d / 2 * 1.0001f) << "block " << b << " element " << i;
    }
  }
}

TEST(Q8_0, RefusesWhatItCannotRepresent) {
  std::vector<float> x(kQ8BlockElements, 1.0f);
  std::vector<std::byte> out(sizeof(BlockQ8_0) * 2);
  x[5] = std::numeric_limits<float>::infinity();
  expect_contains(error_message([&] { convert_from_f32(DType::Q8_0, x.data(), 32, out.data()); }),
                  {"Q8_0", "element 5", "inf"});
  x[5] = std::nanf("");
  expect_contains(error_message([&] { convert_from_f32(DType::Q8_0, x.data(), 32, out.data()); }), {"element 5"});
  x[5] = 1e10f;  // scale 7.9e7 overflows f16
  expect_contains(error_message([&] { convert_from_f32(DType::Q8_0, x.data(), 32, out.data()); }),
                  {"block 0", "overflows f16"});
  expect_contains(error_message([&] { convert_from_f32(DType::Q8_0, x.data(), 31, out.data()); }),
                  {"multiple of 32", "31"});
}

}  // namespace
}  // namespace helix
