// Test helper: the kernel ISAs this CPU can run, and an RAII scope that forces one.
#pragma once

#include <string>
#include <vector>

#include "helix/kernels/cpu_features.h"

namespace helix::test {

// "scalar" always; "avx2", "avx512" and "amx" where the CPU has them.
inline std::vector<std::string> runnable_isas() {
  std::vector<std::string> isas{"scalar"};
  if (cpu_supports(KernelIsa::Avx2)) isas.push_back("avx2");
  if (cpu_supports(KernelIsa::Avx512)) isas.push_back("avx512");
  if (cpu_supports(KernelIsa::Amx)) isas.push_back("amx");
  return isas;
}

// Forces `isa` for its lifetime, then returns to the default choice.
class KernelIsaScope {
 public:
  explicit KernelIsaScope(const std::string& isa) { override_kernel_isa(isa); }
  ~KernelIsaScope() { override_kernel_isa(""); }
  KernelIsaScope(const KernelIsaScope&) = delete;
  KernelIsaScope& operator=(const KernelIsaScope&) = delete;
};

}  // namespace helix::test
