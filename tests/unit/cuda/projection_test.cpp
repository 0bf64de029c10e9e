// Weights on the device, the projections (matvec kernels and cuBLAS) and the embedding lookup,
// against float64 on the host (the projections) and the CPU's conversions (the
// embedding). The GPU tests skip, saying why, where no GPU is visible; the checks
// of dtypes and arguments run everywhere.
#include "helix/cuda/projection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "helix/core/error.h"
#include "helix/cuda/conversion_kernels.h"
#include "helix/cuda/dequant_gemm_kernels.h"
#include "helix/cuda/embedding.h"
#include "helix/weights/block_quants.h"
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

// Every dtype a stage's weights may come in; the block types of 32 values take
// multiples of 32 columns, the K-quants multiples of 256.
constexpr DType kEveryDtype[] = {DType::BF16, DType::F16,  DType::F32,  DType::Q8_0, DType::Q4_0, DType::Q4_1,
                                 DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};

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

std::vector<float> random_x(std::int64_t tokens, std::int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(tokens * cols));
  for (float& v : x) v = normal(rng);
  return x;
}

std::vector<float> project_on_gpu(const DeviceMatrix& d, const std::vector<float>& x, std::int64_t tokens) {
  cuda::Cublas cublas;
  cuda::ProjectionScratch scratch;
  DeviceArray<float> dx{std::span<const float>(x)}, dy(static_cast<std::size_t>(tokens * d.rows));
  cuda::project(cublas, d, dx.data(), tokens, dy.data(), scratch);
  return dy.download();
}

// 37 rows (no multiple of a block of rows) of 300 columns (no multiple of a lane's 8:
// the matvec kernels' scalar path) and of 320 (256 by vectors, 64 by the scalar
// tail; the blocks of 32 need multiples of 32) or 512 (the K-quants' two
// super-blocks), by 1, 5 and 8 tokens (the matvec kernels), 9, 33 and 64 (cuBLAS;
// for the block types from compute capability 8.0 the dequantizing GEMM, its k
// range split over 2 or 4 blocks, partial rows and tokens) and 65 (cuBLAS): within f32 summation of
// the float64 product of what the GPU multiplies (the block types' values as the
// CPU dequantizes them), |error| <= 2e-5 * sum |w x| per output. That is x rounded
// to bf16 for BF16 weights, and for the block types beyond 8 tokens x rounded and
// their values rounded to bf16; left unrounded, or truncated, they would be off by
// about 1e-4.
TEST_F(CudaWeights, ProjectionsMatchFloat64OfWhatTheGpuMultiplies) {
  struct Case {
    DType dtype;
    std::int64_t cols;
  };
  for (const Case c : {Case{DType::BF16, 300}, Case{DType::BF16, 320}, Case{DType::F16, 300}, Case{DType::F32, 300},
                       Case{DType::F32, 320}, Case{DType::Q8_0, 320}, Case{DType::Q4_0, 320},
                       Case{DType::Q4_1, 320}, Case{DType::Q5_0, 320}, Case{DType::Q5_1, 320}, Case{DType::Q4_K, 512},
                       Case{DType::Q5_K, 512}, Case{DType::Q6_K, 512}}) {
    const std::int64_t rows = 37, cols = c.cols;
    const HostMatrix m = random_matrix(c.dtype, rows, cols, 2);
    const std::vector<float> w = widened(m.w);
    const DeviceMatrix d = upload_matrix(m.w);
    for (std::int64_t tokens : {1, 5, 8, 9, 33, 64, 65}) {
      const bool cublas_path = tokens > 8;
      const bool blocks = is_block_quantized(c.dtype);
      const bool round_x = c.dtype == DType::BF16 || (blocks && cublas_path);
      const bool round_w = blocks && cublas_path;
      const std::vector<float> x = random_x(tokens, cols, 3);
      const std::vector<float> y = project_on_gpu(d, x, tokens);
      for (std::int64_t t = 0; t < tokens; ++t)
        for (std::int64_t r = 0; r < rows; ++r) {
          double exact = 0.0, magnitude = 0.0;
          for (std::int64_t k = 0; k < cols; ++k) {
            const float wk = w[r * cols + k], xk = x[t * cols + k];
            const double p = double(round_w ? bf16_to_f32(f32_to_bf16(wk)) : wk) *
                             (round_x ? bf16_to_f32(f32_to_bf16(xk)) : xk);
            exact += p;
            magnitude += std::abs(p);
          }
          ASSERT_NEAR(y[t * rows + r], exact, 2e-5 * magnitude + 1e-6)
              << dtype_name(c.dtype) << " cols " << cols << " tokens " << tokens << " token " << t << " row " << r;
        }
    }
  }
}

// Up to 8 tokens each token's outputs are summed alone: a token gets the same bits
// whether it comes alone or with 7 others, whatever its place among them.
TEST_F(CudaWeights, AFewTokensGetTheSameBitsAloneAndTogether) {
  for (DType dtype : kEveryDtype) {
    const HostMatrix m = random_matrix(dtype, 70, 4096, 6);
    const DeviceMatrix d = upload_matrix(m.w);
    const std::vector<float> x = random_x(8, 4096, 7);
    const std::vector<float> together = project_on_gpu(d, x, 8);
    for (std::int64_t t = 0; t < 8; ++t) {
      const std::vector<float> one(x.begin() + t * 4096, x.begin() + (t + 1) * 4096);
      const std::vector<float> alone = project_on_gpu(d, one, 1);
      for (std::int64_t r = 0; r < 70; ++r)
        ASSERT_EQ(alone[static_cast<std::size_t>(r)], together[static_cast<std::size_t>(t * 70 + r)])
            << dtype_name(dtype) << " token " << t << " row " << r;
    }
  }
}

// Matrices of one input projected together (one launch per kind, up to three) give
// each the bits it gets alone: q, k and v of different heights, and a BF16 and an
// F32 matrix side by side (two launches), at 3 tokens (the matvec kernels) and 12
// (cuBLAS, x rounded once for all); then Q4_K q and k beside a Q6_K v, as a Q4_K_M
// file mixes them.
TEST_F(CudaWeights, MatricesOfOneInputTogetherGiveTheirOwnBits) {
  const HostMatrix a = random_matrix(DType::BF16, 37, 256, 20), b = random_matrix(DType::BF16, 70, 256, 21),
                   c = random_matrix(DType::BF16, 5, 256, 22), d = random_matrix(DType::F32, 9, 256, 23);
  const DeviceMatrix da = upload_matrix(a.w), db = upload_matrix(b.w), dc = upload_matrix(c.w), dd = upload_matrix(d.w);
  for (std::int64_t tokens : {3, 12}) {
    const std::vector<float> x = random_x(tokens, 256, 24);
    cuda::Cublas cublas;
    cuda::ProjectionScratch scratch;
    DeviceArray<float> dx{std::span<const float>(x)};
    std::vector<DeviceArray<float>> ys;
    for (const DeviceMatrix* m : {&da, &db, &dc, &dd}) ys.emplace_back(static_cast<std::size_t>(tokens * m->rows));
    cuda::project(cublas, {{&da, ys[0].data()}, {&db, ys[1].data()}, {&dc, ys[2].data()}, {&dd, ys[3].data()}},
                  dx.data(), tokens, scratch);
    int i = 0;
    for (const DeviceMatrix* m : {&da, &db, &dc, &dd}) {
      EXPECT_EQ(ys[static_cast<std::size_t>(i)].download(), project_on_gpu(*m, x, tokens)) << "matrix " << i << ", " << tokens << " tokens";
      ++i;
    }
  }
  const HostMatrix q = random_matrix(DType::Q4_K, 40, 512, 25), k = random_matrix(DType::Q4_K, 9, 512, 26),
                   v = random_matrix(DType::Q6_K, 9, 512, 27);
  const DeviceMatrix dq = upload_matrix(q.w), dk = upload_matrix(k.w), dv = upload_matrix(v.w);
  for (std::int64_t tokens : {3, 12}) {
    const std::vector<float> x = random_x(tokens, 512, 28);
    cuda::Cublas cublas;
    cuda::ProjectionScratch scratch;
    DeviceArray<float> dx{std::span<const float>(x)}, yq(static_cast<std::size_t>(tokens * 40)),
        yk(static_cast<std::size_t>(tokens * 9)), yv(static_cast<std::size_t>(tokens * 9));
    cuda::project(cublas, {{&dq, yq.data()}, {&dk, yk.data()}, {&dv, yv.data()}}, dx.data(), tokens, scratch);
    EXPECT_EQ(yq.download(), project_on_gpu(dq, x, tokens)) << "Q4_K q, " << tokens << " tokens";
    EXPECT_EQ(yk.download(), project_on_gpu(dk, x, tokens)) << "Q4_K k, " << tokens << " tokens";
    EXPECT_EQ(yv.download(), project_on_gpu(dv, x, tokens)) << "Q6_K v, " << tokens << " tokens";
  }
}

TEST_F(CudaWeights, EmbeddingGivesTheStoredRowsExactly) {
  for (DType dtype : kEveryDtype) {
    const HostMatrix m = random_matrix(dtype, 50, 512, 4);
    const std::vector<float> table = widened(m.w);
    const DeviceMatrix d = upload_matrix(m.w);
    const std::vector<std::int32_t> ids = {49, 0, 7, 7, 31};
    DeviceArray<std::int32_t> dids{std::span<const std::int32_t>(ids)};
    DeviceArray<float> out(ids.size() * 512);
    cuda::embed_rows(d, dids.data(), static_cast<std::int64_t>(ids.size()), out.data());
    const std::vector<float> got = out.download();
    for (std::size_t t = 0; t < ids.size(); ++t)
      for (std::size_t k = 0; k < 512; ++k)
        ASSERT_EQ(got[t * 512 + k], table[static_cast<std::size_t>(ids[t]) * 512 + k]) << dtype_name(dtype) << " token " << t;
  }
}

// Q8_0's blocks split into the device's two planes: every quant and every scale in
// its place (no GPU needed: this is the host side of the upload).
TEST(CudaWeightsArguments, Q8_0BlocksSplitIntoQuantsAndScales) {
  const HostMatrix m = random_matrix(DType::Q8_0, 3, 96, 8);
  const Q8_0Planes p = q8_0_planes(m.w);
  ASSERT_EQ(p.quants.size(), 3u * 96u);
  ASSERT_EQ(p.scales.size(), 3u * 3u);
  for (std::int64_t r = 0; r < 3; ++r)
    for (std::int64_t b = 0; b < 3; ++b) {
      const auto& block = reinterpret_cast<const BlockQ8_0*>(m.w.row(r))[b];
      EXPECT_EQ(p.scales[static_cast<std::size_t>(r * 3 + b)], block.d);
      for (int i = 0; i < 32; ++i) EXPECT_EQ(p.quants[static_cast<std::size_t>(r * 96 + b * 32 + i)], block.qs[i]);
    }
  // q * d of the planes is the CPU's dequantization.
  const std::vector<float> wide = widened(m.w);
  for (std::size_t i = 0; i < wide.size(); ++i)
    ASSERT_EQ(static_cast<float>(p.quants[i]) * f16_to_f32(p.scales[i / 32]), wide[i]) << i;
  EXPECT_THROW(q8_0_planes(random_matrix(DType::BF16, 1, 32, 1).w), Error);
}

// Q6_K's super-blocks split into the device's four planes: every field of every
// block in its place (the host side of the upload).
TEST(CudaWeightsArguments, Q6_KBlocksSplitIntoPlanes) {
  const HostMatrix m = random_matrix(DType::Q6_K, 3, 512, 9);
  const Q6_KPlanes p = q6_k_planes(m.w);
  ASSERT_EQ(p.d.size(), 6u);
  ASSERT_EQ(p.ql.size(), 6u * 128u);
  ASSERT_EQ(p.qh.size(), 6u * 64u);
  ASSERT_EQ(p.scales.size(), 6u * 16u);
  for (std::int64_t r = 0; r < 3; ++r)
    for (std::int64_t b = 0; b < 2; ++b) {
      BlockQ6_K block;
      std::memcpy(&block, m.w.row(r) + b * 210, sizeof block);
      const auto at = static_cast<std::size_t>(r * 2 + b);
      EXPECT_EQ(p.d[at], block.d);
      EXPECT_EQ(0, std::memcmp(&p.ql[at * 128], block.ql, 128));
      EXPECT_EQ(0, std::memcmp(&p.qh[at * 64], block.qh, 64));
      EXPECT_EQ(0, std::memcmp(&p.scales[at * 16], block.scales, 16));
    }
  EXPECT_THROW(q6_k_planes(random_matrix(DType::Q4_K, 1, 256, 1).w), Error);
}

// The dequantizing GEMM's k splits: at least one, none empty, at least 4 steps
// each when split, more for fewer rows, and their partial sums within the bound a stage reserves.
TEST(CudaWeightsArguments, DequantGemmSplitsCoverTheStepsWithinTheirBound) {
  using cuda_detail::dequant_gemm_partial_values;
  using cuda_detail::dequant_gemm_splits;
  EXPECT_EQ(dequant_gemm_splits(37, 320), 2);  // 10 steps of 32, at least 4 a split
  EXPECT_EQ(dequant_gemm_splits(37, 512), 4);
  EXPECT_EQ(dequant_gemm_splits(128256, 4096), 1);  // a vocabulary's rows fill the GPU alone
  EXPECT_EQ(dequant_gemm_partial_values(128256, 4096, 64), 0);
  for (std::int64_t rows : {1, 37, 1024, 4096, 11008, 32000, 40000}) {
    for (std::int64_t cols : {32, 320, 512, 4096, 11008, 28672}) {
      const int splits = dequant_gemm_splits(rows, cols);
      const std::int64_t steps = cols / 32, per = (steps + splits - 1) / splits;
      EXPECT_GE(splits, 1) << rows << " x " << cols;
      EXPECT_GT(steps - (splits - 1) * per, 0) << rows << " x " << cols << ": the last split is empty";
      if (splits > 1) {
        EXPECT_GE(per, 4) << rows << " x " << cols;
      }
      EXPECT_LE(dequant_gemm_partial_values(rows, cols, 64), cuda_detail::kDequantGemmMostPartialValues)
          << rows << " x " << cols;
    }
    EXPECT_GE(dequant_gemm_splits(rows, 4096), dequant_gemm_splits(rows * 2, 4096)) << rows;
  }
}

// A device matrix never holds F16 (the upload widens it to F32): one that claims
// to is refused by name, before any device call.
TEST(CudaWeightsArguments, F16OnTheDeviceIsRefusedByName) {
  DeviceMatrix f16;
  f16.dtype = DType::F16;
  f16.rows = 4;
  f16.cols = 32;
  EXPECT_THROW(cuda::embed_rows(f16, nullptr, -1, nullptr), Error);
  std::int32_t id = 0;
  float out = 0.0f;
  try {
    cuda::embed_rows(f16, &id, 1, &out);
    FAIL() << "an F16 table was read";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cuda embed_rows: an F16 table on the device (the upload widens F16 to F32)");
  }
}

// The projection's own check, on a GPU (a cuBLAS handle needs one): an F16 matrix
// is refused by name.
TEST_F(CudaWeights, ProjectionRefusesWhatItCannotMultiplyByName) {
  DeviceMatrix f16;
  f16.dtype = DType::F16;
  f16.rows = 4;
  f16.cols = 32;
  cuda::Cublas cublas;
  cuda::ProjectionScratch scratch;
  DeviceArray<float> x(32), y(4);
  try {
    cuda::project(cublas, f16, x.data(), 1, y.data(), scratch);
    FAIL() << "an F16 matrix was projected";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cuda project: an F16 matrix on the device (the upload widens F16 to F32)");
  }
}

}  // namespace
}  // namespace helix
