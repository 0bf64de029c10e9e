// The tensor cores' mma.m16n8k16 through the operand registers tensor_core_mma.h
// places as the PTX ISA does: on a GPU this pins those places to the hardware (the
// tensor-core attention relies on them, and an error there would pass the
// emulator, which follows the same description); on the CUDA emulator it checks
// the emulator's mma against a plain product. Skips below compute capability 8.0.
#include "helix/cuda/tensor_core_tile.h"

#include <gtest/gtest.h>

#include <span>
#include <vector>

#include "helix/cuda/device_array.h"
#include "unit/cuda/gpu_test.h"

namespace helix {
namespace {

class CudaTensorCores : public test::GpuTest {};

TEST_F(CudaTensorCores, MmaOperandsAreWherePtxPlacesThem) {
  if (compute_major() < 8) GTEST_SKIP() << "mma.m16n8k16 needs compute capability 8.0, cuda:0 has " << compute_major();
  // Every element of a, b and c different (eighths, sixteenths and integers: f16
  // holds a and b exactly, and every sum is exact in f32), so that an element read
  // from another's place shows.
  std::vector<float> a(256), b(128), c(128);
  for (int i = 0; i < 256; ++i) a[static_cast<std::size_t>(i)] = static_cast<float>(i) / 8.0f - 16.0f;
  for (int i = 0; i < 128; ++i) {
    b[static_cast<std::size_t>(i)] = static_cast<float>(i) / 16.0f - 4.0f;
    c[static_cast<std::size_t>(i)] = static_cast<float>(i);
  }
  DeviceArray<float> da{std::span<const float>(a)}, db{std::span<const float>(b)}, dc{std::span<const float>(c)},
      dd(128);
  cuda::tensor_core_tile_product(da.data(), db.data(), dc.data(), dd.data());
  const std::vector<float> d = dd.download();
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 8; ++j) {
      float want = c[static_cast<std::size_t>(i * 8 + j)];
      for (int k = 0; k < 16; ++k) {
        want += a[static_cast<std::size_t>(i * 16 + k)] * b[static_cast<std::size_t>(k * 8 + j)];
      }
      EXPECT_EQ(d[static_cast<std::size_t>(i * 8 + j)], want) << "row " << i << ", column " << j;
    }
  }
}

}  // namespace
}  // namespace helix
