#include "helix/kernels/vector_ops.h"

#include <gtest/gtest.h>

#include <bit>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "helix/core/error.h"
#include "helix/weights/dtype.h"
#include "kernel_isa_scope.h"

namespace helix {
namespace {

using test::KernelIsaScope;

constexpr std::int64_t kLengths[] = {0, 1, 7, 8, 9, 31, 33, 100, 1001};

std::vector<float> random_vector(std::int64_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> value(0.0f, scale);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = value(rng);
  return v;
}

// |a - b| <= tol * max(1, |b|) element-wise.
void expect_close(const std::vector<float>& a, const std::vector<double>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_LE(std::fabs(a[i] - b[i]), tol * std::max(1.0, std::fabs(b[i]))) << what << " i=" << i;
}

class VectorOps : public ::testing::TestWithParam<std::string> {
 protected:
  KernelIsaScope scope_{GetParam()};
};

TEST_P(VectorOps, DotMatchesDouble) {
  for (std::int64_t n : kLengths) {
    std::vector<float> a = random_vector(n, 1), b = random_vector(n, 2);
    double ref = 0.0, magnitude = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      ref += static_cast<double>(a[i]) * b[i];
      magnitude += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    EXPECT_NEAR(dot(a.data(), b.data(), n), ref, 1e-6 * std::max(1.0, magnitude)) << "n=" << n;
  }
}

TEST_P(VectorOps, AxpyAndAdd) {
  for (std::int64_t n : kLengths) {
    std::vector<float> x = random_vector(n, 3), y = random_vector(n, 4), z = y;
    axpy(0.75f, x.data(), y.data(), n);
    add(x.data(), z.data(), n);
    std::vector<double> ref_axpy(x.size()), ref_add(x.size());
    std::vector<float> y0 = random_vector(n, 4);
    for (std::size_t i = 0; i < x.size(); ++i) {
      ref_axpy[i] = y0[i] + 0.75 * x[i];
      ref_add[i] = y0[i] + static_cast<double>(x[i]);
    }
    expect_close(y, ref_axpy, 1e-6, "axpy n=" + std::to_string(n));
    expect_close(z, ref_add, 1e-6, "add n=" + std::to_string(n));
  }
}

// Attention's row loops: rows `stride` apart (as in the KV cache), head sizes with
// and without a multiple of 16; the results match double, and splitting the rows
// into consecutive calls (as the engine does at cache-block boundaries) gives the
// same bits: a row's arithmetic must not depend on the call it is in.
TEST_P(VectorOps, DotRowsAndAxpyRowsMatchDoubleAndDoNotDependOnTheSplit) {
  for (std::int64_t n : {16, 100, 128}) {
    const std::int64_t stride = n + 13, count = 23;
    const std::vector<float> q = random_vector(n, 31), rows = random_vector(stride * count, 32);
    const std::vector<float> weights = random_vector(count, 33);
    const std::string what = GetParam() + " n=" + std::to_string(n);
    std::vector<float> scores(count), split_scores(count);
    dot_rows(q.data(), rows.data(), stride, count, n, 0.5f, scores.data());
    dot_rows(q.data(), rows.data(), stride, 5, n, 0.5f, split_scores.data());
    dot_rows(q.data(), rows.data() + 5 * stride, stride, count - 5, n, 0.5f, split_scores.data() + 5);
    std::vector<double> expected_scores(count);
    for (std::int64_t j = 0; j < count; ++j) {
      for (std::int64_t k = 0; k < n; ++k) expected_scores[j] += 0.5 * q[k] * rows[j * stride + k];
    }
    expect_close(scores, expected_scores, 1e-5, what + " dot_rows");
    EXPECT_EQ(scores, split_scores) << what;

    std::vector<float> out(n, 1.0f), split_out(n, 1.0f);
    axpy_rows(weights.data(), rows.data(), stride, count, n, out.data());
    axpy_rows(weights.data(), rows.data(), stride, 9, n, split_out.data());
    axpy_rows(weights.data() + 9, rows.data() + 9 * stride, stride, count - 9, n, split_out.data());
    std::vector<double> expected_out(n, 1.0);
    for (std::int64_t j = 0; j < count; ++j) {
      for (std::int64_t k = 0; k < n; ++k) expected_out[k] += static_cast<double>(weights[j]) * rows[j * stride + k];
    }
    expect_close(out, expected_out, 1e-5, what + " axpy_rows");
    EXPECT_EQ(out, split_out) << what;
  }
}

TEST_P(VectorOps, RmsNormMatchesDoubleAndWorksInPlace) {
  for (std::int64_t n : kLengths) {
    if (n == 0) continue;
    std::vector<float> x = random_vector(n, 5, 3.0f), weight = random_vector(n, 6), out(x.size());
    double mean_square = 0.0;
    for (float v : x) mean_square += static_cast<double>(v) * v;
    mean_square /= static_cast<double>(n);
    double inv = 1.0 / std::sqrt(mean_square + 1e-5);
    std::vector<double> ref(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) ref[i] = x[i] * inv * weight[i];
    rms_norm(x.data(), weight.data(), 1e-5f, n, out.data());
    expect_close(out, ref, 2e-6, "rms_norm n=" + std::to_string(n));
    rms_norm(x.data(), weight.data(), 1e-5f, n, x.data());
    EXPECT_EQ(x, out) << "in place, n=" << n;
  }
  float x = 1.0f, w = 1.0f, out = 0.0f;
  EXPECT_THROW(rms_norm(&x, &w, -1.0f, 1, &out), Error);
}

TEST_P(VectorOps, SiluMulMatchesDoubleIncludingLargeInputs) {
  for (std::int64_t n : kLengths) {
    std::vector<float> gate = random_vector(n, 7, 4.0f), up = random_vector(n, 8), out(gate.size());
    if (n >= 9) gate[3] = 100.0f, gate[4] = -100.0f, gate[5] = 88.5f, gate[6] = -90.0f, gate[8] = 0.0f;
    std::vector<double> ref(gate.size());
    for (std::size_t i = 0; i < gate.size(); ++i)
      ref[i] = gate[i] / (1.0 + std::exp(-static_cast<double>(gate[i]))) * up[i];
    silu_mul(gate.data(), up.data(), n, out.data());
    expect_close(out, ref, 1e-6, "silu_mul n=" + std::to_string(n));
  }
}

TEST_P(VectorOps, SoftmaxSumsToOneAndIsStableForLargeInputs) {
  for (std::int64_t n : kLengths) {
    if (n == 0) continue;
    for (float offset : {0.0f, 1000.0f, -1000.0f}) {
      std::vector<float> x = random_vector(n, 9, 5.0f);
      for (float& v : x) v += offset;
      double max = -std::numeric_limits<double>::infinity();
      for (float v : x) max = std::max(max, static_cast<double>(v));
      std::vector<double> ref(x.size());
      double sum = 0.0;
      for (std::size_t i = 0; i < x.size(); ++i) sum += ref[i] = std::exp(x[i] - max);
      for (double& r : ref) r /= sum;
      softmax(x.data(), n);
      double total = 0.0;
      for (float v : x) {
        EXPECT_TRUE(std::isfinite(v));
        total += v;
      }
      EXPECT_NEAR(total, 1.0, 1e-5) << "n=" << n << " offset=" << offset;
      expect_close(x, ref, 2e-6, "softmax n=" + std::to_string(n));
    }
  }
}

TEST_P(VectorOps, SoftmaxGivesMaskedEntriesExactlyZero) {
  std::vector<float> x(19, 0.5f);
  for (std::size_t i = 10; i < x.size(); ++i) x[i] = -std::numeric_limits<float>::infinity();
  softmax(x.data(), static_cast<std::int64_t>(x.size()));
  for (std::size_t i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(x[i], 0.1f);
  for (std::size_t i = 10; i < x.size(); ++i) EXPECT_EQ(x[i], 0.0f) << i;
  EXPECT_NO_THROW(softmax(nullptr, 0));
}

// Attention's query blocks give each query the bits of dot_rows / axpy_rows alone
// (what keeps a prefilled token equal to the same token decoded by itself), on
// every level: the avx512 and amx levels have kernels of their own for n a multiple
// of 16 (8 queries x 2 rows per tile, the last row alone when count is odd; 32
// values of out per pass, a last 16 alone), the others loop over the queries.
TEST_P(VectorOps, QueryBlocksGiveEachQueryTheBitsItGetsAlone) {
  for (std::int64_t n : {16, 48, 64, 128, 40}) {
    for (int queries : {1, 3, kQueryBlock}) {
      for (std::int64_t count : {1, 2, 7, 34}) {
        const std::string what = GetParam() + " n=" + std::to_string(n) + " queries=" + std::to_string(queries) +
                                 " count=" + std::to_string(count);
        const std::int64_t stride = n + 5, q_stride = n + 3, out_stride = n + 7;
        const std::vector<float> q = random_vector(q_stride * kQueryBlock, 41);
        const std::vector<float> rows = random_vector(stride * count, 42);
        const std::vector<float> weights = random_vector(count * kQueryBlock, 43);
        std::vector<float> scores(static_cast<std::size_t>(count * kQueryBlock));
        dot_rows_block(q.data(), q_stride, queries, rows.data(), stride, count, n, 0.25f, scores.data());
        std::vector<float> out = random_vector(out_stride * kQueryBlock, 44), alone_out = out;
        axpy_rows_block(weights.data(), queries, rows.data(), stride, count, n, out.data(), out_stride);
        for (int i = 0; i < queries; ++i) {
          std::vector<float> alone(static_cast<std::size_t>(count)), column(alone.size());
          dot_rows(q.data() + i * q_stride, rows.data(), stride, count, n, 0.25f, alone.data());
          for (std::int64_t j = 0; j < count; ++j) {
            EXPECT_EQ(scores[static_cast<std::size_t>(j * kQueryBlock + i)], alone[static_cast<std::size_t>(j)])
                << what << " query " << i << " row " << j;
            column[static_cast<std::size_t>(j)] = weights[static_cast<std::size_t>(j * kQueryBlock + i)];
          }
          axpy_rows(column.data(), rows.data(), stride, count, n, alone_out.data() + i * out_stride);
        }
        EXPECT_EQ(out, alone_out) << what;  // rows of queries past `queries` untouched on both sides
      }
    }
  }
  float v = 0.0f;
  EXPECT_THROW(dot_rows_block(&v, 16, kQueryBlock + 1, &v, 16, 1, 16, 1.0f, &v), Error);
  EXPECT_THROW(axpy_rows_block(&v, 0, &v, 16, 1, 16, &v, 16), Error);
}

// The nearest f16 to x, worked out in double: IEEE's round to nearest, ties to even
// (nearbyint in the default mode), on the grid of x's binade (2^-24 below 2^-14),
// infinite past the largest finite half (65504).
double nearest_f16(float x) {
  const double v = x;
  if (v == 0.0 || std::isinf(v)) return v;
  const int binade = std::max(std::ilogb(v), -14);
  const double ulp = std::ldexp(1.0, binade - 10);
  const double r = std::nearbyint(v / ulp) * ulp;
  return std::fabs(r) > 65504.0 ? std::copysign(std::numeric_limits<double>::infinity(), v) : r;
}

// A KV cache's f16 storage: every value rounds to the nearest half (ties to even,
// subnormals, overflow to inf), and every half, widened, rounds back to itself.
TEST_P(VectorOps, F16StorageRoundsToTheNearestHalf) {
  std::vector<float> x;
  std::mt19937 rng(11);
  for (float scale : {1e-7f, 3e-5f, 1e-2f, 1.0f, 300.0f, 6e4f, 1e6f}) {
    std::normal_distribution<float> value(0.0f, scale);
    for (int i = 0; i < 200; ++i) x.push_back(value(rng));
  }
  for (std::uint32_t h = 0; h < 0x7BFFu; h += 97) {  // halfway between neighbouring finite halves: ties
    const float lo = f16_to_f32(static_cast<std::uint16_t>(h)), hi = f16_to_f32(static_cast<std::uint16_t>(h + 1));
    x.push_back(lo + (hi - lo) / 2);
    x.push_back(-(lo + (hi - lo) / 2));
  }
  for (float v : {0.0f, -0.0f, 65504.0f, 65519.0f, 65520.0f, -1e9f, std::numeric_limits<float>::infinity()})
    x.push_back(v);
  std::vector<std::uint16_t> halves(x.size());
  round_to_f16(x.data(), static_cast<std::int64_t>(x.size()), halves.data());
  std::vector<float> back(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) back[i] = f16_to_f32(halves[i]);
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(static_cast<double>(back[i]), nearest_f16(x[i])) << "x=" << x[i] << " i=" << i;
    EXPECT_EQ(std::signbit(back[i]), std::signbit(x[i])) << "x=" << x[i];
  }

  // Every non-NaN half rounds back to itself.
  std::vector<std::uint16_t> all;
  std::vector<float> values;
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    if ((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0) continue;  // NaN
    all.push_back(static_cast<std::uint16_t>(h));
    values.push_back(f16_to_f32(all.back()));
  }
  std::vector<std::uint16_t> again(values.size());
  round_to_f16(values.data(), static_cast<std::int64_t>(values.size()), again.data());
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(again[i], all[i]) << std::hex << all[i];
}

// Every f16 widens to the f32 f16_to_f32 gives, from any byte offset (a payload
// off the wire) and for lengths on and off the 8-value step; a NaN stays a NaN.
TEST_P(VectorOps, WidenF16GivesEveryHalfsExactValueFromAnyOffset) {
  std::vector<std::byte> bytes(2 * 0x10000 + 1);
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    bytes[1 + 2 * h] = static_cast<std::byte>(h & 0xFFu);  // little-endian, one byte off alignment
    bytes[2 + 2 * h] = static_cast<std::byte>(h >> 8);
  }
  for (std::int64_t n : {std::int64_t{0x10000}, std::int64_t{13}, std::int64_t{8}, std::int64_t{3}, std::int64_t{0}}) {
    std::vector<float> out(static_cast<std::size_t>(n) + 1, -7.0f);
    widen_f16(bytes.data() + 1, n, out.data());
    for (std::int64_t i = 0; i < n; ++i) {
      const float expected = f16_to_f32(static_cast<std::uint16_t>(i));
      const float got = out[static_cast<std::size_t>(i)];
      if (std::isnan(expected)) {
        ASSERT_TRUE(std::isnan(got)) << std::hex << i;
      } else {
        ASSERT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(expected)) << std::hex << i;
      }
    }
    EXPECT_EQ(out[static_cast<std::size_t>(n)], -7.0f) << "wrote past " << n;
  }
}

// Rows of an f16 KV cache: each loop gives the bits the f32 loop gives on the rows
// widened (exactly) to f32, on every level, for widths on and off the kernels'
// steps of 16, counts on and off their groups, strided rows.
TEST_P(VectorOps, F16RowsGiveTheBitsOfTheirWidenedValues) {
  for (std::int64_t n : {16, 64, 128, 40, 7}) {
    for (std::int64_t count : {1, 3, 16, 33}) {
      const std::string what = GetParam() + " n=" + std::to_string(n) + " count=" + std::to_string(count);
      const std::int64_t stride = n + 9, q_stride = n + 3, out_stride = n + 5;
      const std::vector<float> values = random_vector(stride * count, 51, 2.0f);
      std::vector<std::uint16_t> halves(values.size());
      round_to_f16(values.data(), static_cast<std::int64_t>(values.size()), halves.data());
      std::vector<float> widened(values.size());
      for (std::size_t i = 0; i < halves.size(); ++i) widened[i] = f16_to_f32(halves[i]);
      const std::vector<float> q = random_vector(q_stride * kQueryBlock, 52);
      const std::vector<float> weights = random_vector(count * kQueryBlock, 53);
      std::vector<float> a(static_cast<std::size_t>(count * kQueryBlock)), b(a.size());
      dot_rows(q.data(), halves.data(), stride, count, n, 0.5f, a.data());
      dot_rows(q.data(), widened.data(), stride, count, n, 0.5f, b.data());
      EXPECT_EQ(a, b) << what << " dot_rows";
      std::vector<float> out_a = random_vector(out_stride * kQueryBlock, 54), out_b = out_a;
      axpy_rows(weights.data(), halves.data(), stride, count, n, out_a.data());
      axpy_rows(weights.data(), widened.data(), stride, count, n, out_b.data());
      EXPECT_EQ(out_a, out_b) << what << " axpy_rows";
      dot_rows_block(q.data(), q_stride, kQueryBlock, halves.data(), stride, count, n, 0.5f, a.data());
      dot_rows_block(q.data(), q_stride, kQueryBlock, widened.data(), stride, count, n, 0.5f, b.data());
      EXPECT_EQ(a, b) << what << " dot_rows_block";
      axpy_rows_block(weights.data(), kQueryBlock, halves.data(), stride, count, n, out_a.data(), out_stride);
      axpy_rows_block(weights.data(), kQueryBlock, widened.data(), stride, count, n, out_b.data(), out_stride);
      EXPECT_EQ(out_a, out_b) << what << " axpy_rows_block";
    }
  }
}

TEST_P(VectorOps, NegativeLengthsAreErrors) {
  float v = 0.0f;
  try {
    add(&v, &v, -3);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add: length n must be >= 0, got -3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dot(&v, &v, -1), Error);
  EXPECT_THROW(softmax(&v, -1), Error);
}

INSTANTIATE_TEST_SUITE_P(Isa, VectorOps, ::testing::ValuesIn(test::runnable_isas()),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace helix
