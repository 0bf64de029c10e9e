// The GPU tests' fixture: where no CUDA device is visible (no GPU, no driver) each
// test skips and prints the runtime's reason; else it runs on cuda:0.
#pragma once

#include <gtest/gtest.h>

#include "helix/cuda/device.h"

namespace helix::test {

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const CudaDevices found = cuda_devices();
    if (found.devices.empty()) GTEST_SKIP() << "no CUDA device: " << found.why_none;
    use_cuda_device(0);
    compute_major_ = found.devices.front().compute_major;
  }
  int compute_major() const { return compute_major_; }

 private:
  int compute_major_ = 0;
};

}  // namespace helix::test
