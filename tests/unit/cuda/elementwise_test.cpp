// The CUDA element-wise kernels against the CPU's (vector_ops) on the same
// inputs. They need a GPU: without one each test skips and prints why.
#include "helix/cuda/elementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "helix/core/error.h"
#include "helix/cuda/device_array.h"
#include "helix/kernels/vector_ops.h"
#include "unit/cuda/gpu_test.h"

namespace helix {
namespace {

class CudaKernels : public test::GpuTest {};

std::vector<float> random_values(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// |gpu - cpu| within `relative` of the value (and a floor for values near zero).
void expect_close(const std::vector<float>& gpu, const std::vector<float>& cpu, float relative, const char* what) {
  ASSERT_EQ(gpu.size(), cpu.size());
  for (std::size_t i = 0; i < cpu.size(); ++i)
    ASSERT_NEAR(gpu[i], cpu[i], relative * std::abs(cpu[i]) + 1e-6f) << what << " at " << i;
}

// The residual add fused with the next norm gives the bits of the two kernels one
// after the other: x the same sums, out the same norm; out written over h too.
TEST_F(CudaKernels, AddAndNormInOnePassGiveTheBitsOfBoth) {
  for (std::int64_t n : {4096, 1000, 1}) {
    const std::int64_t rows = 3;
    const std::vector<float> x = random_values(static_cast<std::size_t>(rows * n), 12, 3.0f);
    const std::vector<float> h = random_values(x.size(), 13);
    const std::vector<float> weight = random_values(static_cast<std::size_t>(n), 14);
    DeviceArray<float> x1{std::span<const float>(x)}, x2{std::span<const float>(x)}, dh{std::span<const float>(h)},
        dh2{std::span<const float>(h)}, dw{std::span<const float>(weight)}, two(x.size());
    cuda::add(dh.data(), x1.data(), rows * n);
    cuda::rms_norm_rows(x1.data(), dw.data(), 1e-5f, rows, n, two.data());
    cuda::add_rms_norm_rows(dh2.data(), x2.data(), dw.data(), 1e-5f, rows, n, dh2.data());
    EXPECT_EQ(x2.download(), x1.download()) << n;
    EXPECT_EQ(dh2.download(), two.download()) << n;
  }
}

TEST_F(CudaKernels, ArraysGoThereAndBackAndRefuseTheWrongSize) {
  const std::vector<float> values = random_values(1000, 1);
  DeviceArray<float> array{std::span<const float>(values)};
  EXPECT_EQ(array.download(), values);
  const std::vector<float> shorter(999);
  EXPECT_THROW(array.upload(shorter), Error);
}

// Rows of 4096 (a multiple of the block), 1000 (not) and 1, into another array and
// in place; the row sums are added in another order than the CPU's, so within float
// rounding.
TEST_F(CudaKernels, RmsNormMatchesTheCpu) {
  for (std::int64_t n : {4096, 1000, 1}) {
    const std::int64_t rows = 3;
    const std::vector<float> x = random_values(static_cast<std::size_t>(rows * n), 2, 3.0f);
    const std::vector<float> weight = random_values(static_cast<std::size_t>(n), 3);
    std::vector<float> cpu(x.size());
    for (std::int64_t r = 0; r < rows; ++r) rms_norm(x.data() + r * n, weight.data(), 1e-5f, n, cpu.data() + r * n);
    DeviceArray<float> dx{std::span<const float>(x)}, dw{std::span<const float>(weight)}, dout(x.size());
    cuda::rms_norm_rows(dx.data(), dw.data(), 1e-5f, rows, n, dout.data());
    expect_close(dout.download(), cpu, 1e-5f, "rms_norm");
    cuda::rms_norm_rows(dx.data(), dw.data(), 1e-5f, rows, n, dx.data());
    expect_close(dx.download(), cpu, 1e-5f, "rms_norm in place");
  }
}

// 1.1 million values: more than the 4096 blocks of 256 threads the grid-stride
// kernels start, so every thread goes round at least twice.
TEST_F(CudaKernels, SiluMulAndAddMatchTheCpu) {
  const std::size_t n = 1'100'000;
  const std::vector<float> gate = random_values(n, 4, 4.0f), up = random_values(n, 5);
  std::vector<float> cpu(n);
  silu_mul(gate.data(), up.data(), static_cast<std::int64_t>(n), cpu.data());
  DeviceArray<float> dgate{std::span<const float>(gate)}, dup{std::span<const float>(up)};
  cuda::silu_mul(dgate.data(), dup.data(), static_cast<std::int64_t>(n), dgate.data());  // in place
  const std::vector<float> gpu = dgate.download();
  expect_close(gpu, cpu, 1e-6f, "silu_mul");

  std::vector<float> sum = up;  // both sides add the GPU's silu_mul
  add(gpu.data(), sum.data(), static_cast<std::int64_t>(n));
  cuda::add(dgate.data(), dup.data(), static_cast<std::int64_t>(n));
  expect_close(dup.download(), sum, 1e-6f, "add");
}

}  // namespace
}  // namespace helix
