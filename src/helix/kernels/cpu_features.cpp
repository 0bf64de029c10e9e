#include "helix/kernels/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "helix/core/error.h"

namespace helix {
namespace {

// -1: not decided yet; otherwise a KernelIsa value.
std::atomic<int> g_isa{-1};

CpuFeatures ask_cpu() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
  f.avx512f = __builtin_cpu_supports("avx512f");
#endif
  return f;
}

bool has_avx2_path() {
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma && f.f16c;
}

// `name` as an ISA; `where` names the source of the name for the error message.
KernelIsa parse_isa(std::string_view name, std::string_view where) {
  if (name.empty() || name == "auto") return has_avx2_path() ? KernelIsa::Avx2 : KernelIsa::Scalar;
  if (name == "scalar") return KernelIsa::Scalar;
  if (name == "avx2") {
    if (!has_avx2_path()) fail("{}: 'avx2' asked for, but this CPU lacks AVX2, FMA or F16C", where);
    return KernelIsa::Avx2;
  }
  fail("{}: unknown kernel ISA '{}' (expected 'scalar', 'avx2' or 'auto')", where, name);
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = ask_cpu();
  return features;
}

KernelIsa active_kernel_isa() {
  int isa = g_isa.load(std::memory_order_relaxed);
  if (isa >= 0) return static_cast<KernelIsa>(isa);
  const char* env = std::getenv("HELIX_KERNELS");
  KernelIsa chosen = parse_isa(env ? std::string_view(env) : std::string_view(), "HELIX_KERNELS");
  g_isa.store(static_cast<int>(chosen), std::memory_order_relaxed);
  return chosen;
}

std::string_view kernel_isa() { return active_kernel_isa() == KernelIsa::Avx2 ? "avx2" : "scalar"; }

void override_kernel_isa(std::string_view isa) {
  if (isa.empty() || isa == "auto") {
    g_isa.store(-1, std::memory_order_relaxed);  // decided again from HELIX_KERNELS / the CPU
    return;
  }
  g_isa.store(static_cast<int>(parse_isa(isa, "override_kernel_isa")), std::memory_order_relaxed);
}

}  // namespace helix
