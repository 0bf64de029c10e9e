// Device names: "cpu" and "cuda:N" read back to what they name; everything else
// (other spellings, signs, spaces, a missing or huge index) is refused.
#include "helix/core/device_name.h"

#include <gtest/gtest.h>

namespace helix {
namespace {

TEST(DeviceName, CpuAndCudaIndicesReadBack) {
  EXPECT_EQ(parse_device_name("cpu"), DeviceName{});
  EXPECT_EQ(parse_device_name("cuda:0"), (DeviceName{true, 0}));
  EXPECT_EQ(parse_device_name("cuda:7"), (DeviceName{true, 7}));
  EXPECT_EQ(parse_device_name("cuda:12")->name(), "cuda:12");
  EXPECT_EQ(DeviceName{}.name(), "cpu");
}

TEST(DeviceName, AnythingElseIsRefused) {
  for (const char* text : {"", "CPU", "gpu", "cuda", "cuda:", "cuda:-1", "cuda:+1", "cuda: 1", "cuda:1 ", "cuda:1x",
                           "cuda:99999999999", "cuda0", " cpu"}) {
    EXPECT_FALSE(parse_device_name(text).has_value()) << "'" << text << "'";
  }
}

}  // namespace
}  // namespace helix
