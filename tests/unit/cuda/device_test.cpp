// CUDA device discovery and argument checks: these run on every machine, a GPU or
// not (what a machine without one reports is part of the contract).
#include "helix/cuda/device.h"

#include <gtest/gtest.h>

#include <string>

#include "helix/core/error.h"
#include "helix/cuda/attention.h"
#include "helix/cuda/elementwise.h"

namespace helix {
namespace {

TEST(CudaDevices, EachHasANameAndMemoryOrThereIsAReasonForNone) {
  const CudaDevices found = cuda_devices();
  if (found.devices.empty()) {
    EXPECT_NE(found.why_none.find("cudaGetDeviceCount"), std::string::npos) << found.why_none;
    return;
  }
  EXPECT_TRUE(found.why_none.empty()) << found.why_none;
  for (std::size_t i = 0; i < found.devices.size(); ++i) {
    const CudaDevice& d = found.devices[i];
    EXPECT_EQ(d.index, static_cast<int>(i));
    EXPECT_FALSE(d.name.empty());
    EXPECT_GT(d.memory_bytes, std::size_t{0});
    EXPECT_GE(d.compute_major * 10 + d.compute_minor, 75) << d.name << ": older than the oldest architecture built";
  }
}

TEST(CudaDevices, ADeviceThatIsNotThereIsNamed) {
  const CudaDevices found = cuda_devices();
  const int missing = static_cast<int>(found.devices.size());
  try {
    use_cuda_device(missing);
    FAIL() << "use_cuda_device(" << missing << ") returned";
  } catch (const Error& e) {
    const std::string expected = found.devices.empty() ? "cudaGetDeviceCount" : "cuda:" + std::to_string(missing);
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

// Bad arguments are refused before anything reaches a device.
TEST(CudaElementwise, BadArgumentsAreNamed) {
  auto message = [](auto call) {
    try {
      call();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  float value = 0.0f;
  EXPECT_EQ(message([] { cuda::rms_norm_rows(nullptr, nullptr, 1e-5f, 2, -1, nullptr); }),
            "cuda rms_norm_rows: n must be >= 0, got -1");
  EXPECT_EQ(message([&] { cuda::rms_norm_rows(&value, nullptr, 1e-5f, 1, 4, &value); }),
            "cuda rms_norm_rows: weight is null");
  EXPECT_EQ(message([&] { cuda::rms_norm_rows(&value, &value, -1.0f, 1, 4, &value); }),
            "cuda rms_norm_rows: eps must be >= 0, got -1");
  EXPECT_EQ(message([] { cuda::silu_mul(nullptr, nullptr, -3, nullptr); }), "cuda silu_mul: n must be >= 0, got -3");
  EXPECT_EQ(message([&] { cuda::add(&value, nullptr, 1); }), "cuda add: y is null");
  std::int32_t slot = 0;
  EXPECT_EQ(message([&] { cuda::rotate_and_cache(&value, &value, &value, 1, 1, 1, 7, true, &value, &value, &slot,
                                                 &value, &value, false); }),
            "cuda rotate_and_cache: 1 tokens of 1 heads and 1 KV heads of 7 values is not a step (head_dim even)");
  // Nothing to do is not an error, and touches no device.
  EXPECT_EQ(message([] { cuda::silu_mul(nullptr, nullptr, 0, nullptr); }), "(no error)");
  EXPECT_EQ(message([] {
              cuda::rotate_and_cache(nullptr, nullptr, nullptr, 0, 4, 2, 8, false, nullptr, nullptr, nullptr, nullptr,
                                     nullptr, false);
            }),
            "(no error)");
}

}  // namespace
}  // namespace helix
