// Weights on the device, the projections through cuBLAS and the embedding lookup,
// against float64 on the host (the projections) and the CPU's conversions (the
// embedding). The GPU tests skip, saying why, where no GPU is visible; the checks
// of dtypes and arguments run everywhere.
#include "helix/cuda/projection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "helix/core/error.h"
#include "helix/cuda/conversion_kernels.h"
#include "helix/cuda/embedding.h"
#include "unit/cuda/gpu_test.h"

namespace helix {
namespace {

struct HostMatrix {
  std::vector<std::byte> bytes;
  WeightMatrix w;
};

HostMatrix random_matrix(DType dtype, std::int64_t rows, std::int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> f(static_cast<std::size_t>(rows * cols));
  for (float& v : f) v = normal(rng);
  HostMatrix m;
  m.bytes.resize(dtype_row_bytes(dtype, rows * cols));
  convert_from_f32(dtype, f.data(), rows * cols, m.bytes.data());
  m.w = WeightMatrix::make(dtype, rows, cols, m.bytes.data());
  return m;
}

std::vector<float> widened(const WeightMatrix& w) {
  std::vector<float> f(static_cast<std::size_t>(w.rows * w.cols));
  convert_to_f32(w.dtype, w.data, w.rows * w.cols, f.data());
  return f;
}

// x as the GPU multiplies it: rounded to bf16 for BF16 weights; as it is for F32
// and F16 (widened to F32 at upload).
float rounded(DType dtype, float x) { return dtype == DType::BF16 ? bf16_to_f32(f32_to_bf16(x)) : x; }

class CudaWeights : public test::GpuTest {};

TEST_F(CudaWeights, UploadKeepsBf16BytesAndWidensF16) {
  const HostMatrix m = random_matrix(DType::BF16, 7, 64, 1);
  const DeviceMatrix d = upload_matrix(m.w);
  EXPECT_EQ(d.rows, 7);
  EXPECT_EQ(d.cols, 64);
  EXPECT_EQ(d.dtype, DType::BF16);
  EXPECT_EQ(d.data.download(), m.bytes);

  const HostMatrix h = random_matrix(DType::F16, 7, 64, 1);
  const DeviceMatrix wide = upload_matrix(h.w);
  EXPECT_EQ(wide.dtype, DType::F32);
  const std::vector<float> expected = widened(h.w);
  const auto bytes = std::as_bytes(std::span<const float>(expected));
  EXPECT_EQ(wide.data.download(), std::vector<std::byte>(bytes.begin(), bytes.end()));
}

// The rounding kernel against the CPU's conversion, bit for bit: ties either way,
// subnormals, signed zeros, overflow past bf16's largest value.
TEST_F(CudaWeights, RoundingToBf16IsTheCpus) {
  const std::vector<float> x = {0.0f, -0.0f, 1.0f, 1.00390625f, 1.01171875f, -1.00390625f, 65504.0f, 65520.0f,
                                1e6f, -1e6f, 6e-8f, 3e-5f, 1e-40f, -1e-40f, 3.14159265f, 3.4e38f, -2.5e-3f};
  DeviceArray<float> dx{std::span<const float>(x)};
  DeviceArray<std::uint16_t> out(x.size());
  cuda_detail::launch_round_to_bf16(dx.data(), static_cast<std::int64_t>(x.size()), out.data());
  const std::vector<std::uint16_t> got = out.download();
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(got[i], f32_to_bf16(x[i])) << x[i];
}

// 37 x 300 weights (no multiple of a tile), 1 and 5 tokens: within f32 summation of
// the float64 product of the rounded x, |error| <= 2e-5 * sum |w x| per output (f32
// sums of 300 terms; x left unrounded, or truncated, would be off by about 1e-4).
TEST_F(CudaWeights, ProjectionsMatchFloat64OfTheRoundedX) {
  cuda::Cublas cublas;
  DeviceArray<std::uint16_t> x16;
  for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
    const std::int64_t rows = 37, cols = 300;
    const HostMatrix m = random_matrix(dtype, rows, cols, 2);
    const std::vector<float> w = widened(m.w);
    const DeviceMatrix d = upload_matrix(m.w);
    for (std::int64_t tokens : {1, 5}) {
      std::mt19937 rng(3);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> x(static_cast<std::size_t>(tokens * cols));
      for (float& v : x) v = normal(rng);
      DeviceArray<float> dx{std::span<const float>(x)}, dy(static_cast<std::size_t>(tokens * rows));
      cuda::project(cublas, d, dx.data(), tokens, dy.data(), x16);
      const std::vector<float> y = dy.download();
      for (std::int64_t t = 0; t < tokens; ++t)
        for (std::int64_t r = 0; r < rows; ++r) {
          double exact = 0.0, magnitude = 0.0;
          for (std::int64_t k = 0; k < cols; ++k) {
            const double p = double(w[r * cols + k]) * rounded(dtype, x[t * cols + k]);
            exact += p;
            magnitude += std::abs(p);
          }
          ASSERT_NEAR(y[t * rows + r], exact, 2e-5 * magnitude + 1e-6)
              << dtype_name(dtype) << " tokens " << tokens << " token " << t << " row " << r;
        }
    }
  }
}

TEST_F(CudaWeights, EmbeddingGivesTheStoredRowsExactly) {
  for (DType dtype : {DType::BF16, DType::F16, DType::F32}) {
    const HostMatrix m = random_matrix(dtype, 50, 300, 4);
    const std::vector<float> table = widened(m.w);
    const DeviceMatrix d = upload_matrix(m.w);
    const std::vector<std::int32_t> ids = {49, 0, 7, 7, 31};
    DeviceArray<std::int32_t> dids{std::span<const std::int32_t>(ids)};
    DeviceArray<float> out(ids.size() * 300);
    cuda::embed_rows(d, dids.data(), static_cast<std::int64_t>(ids.size()), out.data());
    const std::vector<float> got = out.download();
    for (std::size_t t = 0; t < ids.size(); ++t)
      for (std::size_t k = 0; k < 300; ++k)
        ASSERT_EQ(got[t * 300 + k], table[static_cast<std::size_t>(ids[t]) * 300 + k]) << dtype_name(dtype) << " token " << t;
  }
}

// What the GPU does not read yet is refused by name, before any device call.
TEST(CudaWeightsArguments, BlockTypesAreRefusedByName) {
  const HostMatrix m = random_matrix(DType::Q8_0, 4, 64, 5);
  try {
    upload_matrix(m.w);
    FAIL() << "a Q8_0 matrix was uploaded";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cuda: Q8_0 weights are not read on the GPU yet (F32, F16 and BF16 are)");
  }
  DeviceMatrix none;
  EXPECT_THROW(cuda::embed_rows(none, nullptr, -1, nullptr), Error);
  none.dtype = DType::Q8_0;
  std::int32_t id = 0;
  float out = 0.0f;
  try {
    cuda::embed_rows(none, &id, 1, &out);
    FAIL() << "a Q8_0 table was read";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cuda embed_rows: a Q8_0 table is not read on the GPU yet");
  }
}

}  // namespace
}  // namespace helix
