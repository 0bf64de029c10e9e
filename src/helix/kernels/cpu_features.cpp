#include "helix/kernels/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <string>

#if defined(__linux__) && (defined(__x86_64__) || defined(__i386__))
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "helix/core/error.h"

namespace helix {
namespace {

// -1: not decided yet; otherwise a KernelIsa value.
std::atomic<int> g_isa{-1};

// Linux keeps the AMX tile data out of a thread's saved state until the process
// asks for it; without this, the first tile instruction faults (SIGILL).
bool request_amx_state() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023;  // arch_prctl code, asm/prctl.h
  constexpr long kXfeatureXtiledata = 18;     // the tile data state component
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

CpuFeatures ask_cpu() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
  f.amx_tile = __builtin_cpu_supports("amx-tile");
  f.amx_bf16 = __builtin_cpu_supports("amx-bf16");
  f.amx_int8 = __builtin_cpu_supports("amx-int8");
  f.amx_granted = f.amx_tile && f.amx_bf16 && f.amx_int8 && request_amx_state();
#endif
  return f;
}

// `name` as an ISA; `where` names the source of the name for the error message.
KernelIsa parse_isa(std::string_view name, std::string_view where) {
  if (name.empty() || name == "auto") {
    if (cpu_supports(KernelIsa::Amx)) return KernelIsa::Amx;
    if (cpu_supports(KernelIsa::Avx512)) return KernelIsa::Avx512;
    return cpu_supports(KernelIsa::Avx2) ? KernelIsa::Avx2 : KernelIsa::Scalar;
  }
  if (name == "scalar") return KernelIsa::Scalar;
  if (name == "avx2") {
    if (!cpu_supports(KernelIsa::Avx2)) fail("{}: 'avx2' asked for, but this CPU lacks AVX2, FMA or F16C", where);
    return KernelIsa::Avx2;
  }
  if (name == "avx512") {
    if (!cpu_supports(KernelIsa::Avx512)) {
      fail("{}: 'avx512' asked for, but this CPU lacks one of AVX2/FMA/F16C, AVX-512 F/BW/VL/DQ or VNNI", where);
    }
    return KernelIsa::Avx512;
  }
  if (name == "amx") {
    if (!cpu_supports(KernelIsa::Amx)) {
      fail("{}: 'amx' asked for, but this CPU lacks the avx512 level, AVX512_BF16 or AMX-TILE/BF16/INT8, or the OS "
           "did not grant the tile state",
           where);
    }
    return KernelIsa::Amx;
  }
  fail("{}: unknown kernel ISA '{}' (expected 'scalar', 'avx2', 'avx512', 'amx' or 'auto')", where, name);
}

}  // namespace

bool cpu_supports(KernelIsa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  switch (isa) {
    case KernelIsa::Scalar: return true;
    case KernelIsa::Avx2: return avx2;
    case KernelIsa::Avx512: return avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
    case KernelIsa::Amx: return cpu_supports(KernelIsa::Avx512) && f.avx512bf16 && f.amx_granted;
  }
  return false;
}

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

std::string_view kernel_isa() {
  switch (active_kernel_isa()) {
    case KernelIsa::Amx: return "amx";
    case KernelIsa::Avx512: return "avx512";
    case KernelIsa::Avx2: return "avx2";
    case KernelIsa::Scalar: return "scalar";
  }
  return "scalar";
}

void override_kernel_isa(std::string_view isa) {
  if (isa.empty() || isa == "auto") {
    g_isa.store(-1, std::memory_order_relaxed);  // decided again from HELIX_KERNELS / the CPU
    return;
  }
  g_isa.store(static_cast<int>(parse_isa(isa, "override_kernel_isa")), std::memory_order_relaxed);
}

}  // namespace helix
