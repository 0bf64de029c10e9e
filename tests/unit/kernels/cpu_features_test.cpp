#include "helix/kernels/cpu_features.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "helix/core/error.h"
#include "kernel_isa_scope.h"

namespace helix {
namespace {

// Sets an environment variable for its lifetime (restoring the previous value).
class EnvScope {
 public:
  EnvScope(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    setenv(name, value, 1);
  }
  ~EnvScope() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
    override_kernel_isa("");
  }
  EnvScope(const EnvScope&) = delete;
  EnvScope& operator=(const EnvScope&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

bool cpu_has_avx2_path() {
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma && f.f16c;
}

TEST(CpuFeatures, DefaultIsaFollowsTheCpu) {
  EnvScope env("HELIX_KERNELS", "auto");
  override_kernel_isa("");
  const char* best = cpu_supports(KernelIsa::Amx)      ? "amx"
                     : cpu_supports(KernelIsa::Avx512) ? "avx512"
                     : cpu_has_avx2_path()             ? "avx2"
                                                       : "scalar";
  EXPECT_EQ(kernel_isa(), best);
}

TEST(CpuFeatures, EnvironmentForcesScalar) {
  EnvScope env("HELIX_KERNELS", "scalar");
  override_kernel_isa("");  // re-read the environment
  EXPECT_EQ(kernel_isa(), "scalar");
  EXPECT_EQ(active_kernel_isa(), KernelIsa::Scalar);
}

TEST(CpuFeatures, OverrideWinsOverTheEnvironmentUntilReset) {
  if (!cpu_has_avx2_path()) GTEST_SKIP() << "no AVX2 on this CPU";
  EnvScope env("HELIX_KERNELS", "scalar");
  override_kernel_isa("avx2");
  EXPECT_EQ(kernel_isa(), "avx2");
  override_kernel_isa("");
  EXPECT_EQ(kernel_isa(), "scalar");
}

TEST(CpuFeatures, UnknownIsaNamesAreErrors) {
  {
    EnvScope env("HELIX_KERNELS", "sse9");
    override_kernel_isa("");
    try {
      kernel_isa();
      FAIL() << "expected an error";
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_NE(message.find("HELIX_KERNELS"), std::string::npos) << message;
      EXPECT_NE(message.find("sse9"), std::string::npos) << message;
      EXPECT_NE(message.find("'scalar'"), std::string::npos) << message;
    }
  }
  EXPECT_THROW(override_kernel_isa("avx9000"), Error);
  if (!cpu_has_avx2_path()) {
    EXPECT_THROW(override_kernel_isa("avx2"), Error);
  }
  if (!cpu_supports(KernelIsa::Avx512)) {
    EXPECT_THROW(override_kernel_isa("avx512"), Error);
  }
  if (!cpu_supports(KernelIsa::Amx)) {
    EXPECT_THROW(override_kernel_isa("amx"), Error);
  }
}

TEST(CpuFeatures, Avx512LevelNeedsItsFeaturesAndTheAvx2Level) {
  const CpuFeatures& f = cpu_features();
  EXPECT_EQ(cpu_supports(KernelIsa::Avx512),
            cpu_supports(KernelIsa::Avx2) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni);
  if (!cpu_supports(KernelIsa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  EnvScope env("HELIX_KERNELS", "avx512");
  override_kernel_isa("");
  EXPECT_EQ(kernel_isa(), "avx512");
  EXPECT_EQ(active_kernel_isa(), KernelIsa::Avx512);
}

TEST(CpuFeatures, AmxLevelNeedsTheAvx512LevelBf16AndTheGrantedTileUnit) {
  const CpuFeatures& f = cpu_features();
  EXPECT_EQ(cpu_supports(KernelIsa::Amx), cpu_supports(KernelIsa::Avx512) && f.avx512bf16 && f.amx_granted);
  EXPECT_TRUE(!f.amx_granted || (f.amx_tile && f.amx_bf16 && f.amx_int8));  // asked for only where the CPU has the unit
  if (!cpu_supports(KernelIsa::Amx)) GTEST_SKIP() << "no AMX on this CPU";
  EnvScope env("HELIX_KERNELS", "amx");
  override_kernel_isa("");
  EXPECT_EQ(kernel_isa(), "amx");
  EXPECT_EQ(active_kernel_isa(), KernelIsa::Amx);
}

TEST(CpuFeatures, Avx2ImpliesTheFeaturesItNeedsOnThisMachine) {
  const CpuFeatures& f = cpu_features();
  if (f.avx512f) {
    EXPECT_TRUE(f.avx2);  // every AVX-512 CPU has AVX2
  }
  EXPECT_EQ(&f, &cpu_features());      // asked once
}

}  // namespace
}  // namespace helix
