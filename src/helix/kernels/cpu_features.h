// CPU features the kernels dispatch on, and which instruction set matmul and the
// vector ops use.
//
// Why run-time: the binary is built for baseline x86-64 (never -march=native), so
// it runs on any CI machine; the fast kernels are compiled for AVX2+FMA+F16C with
// function attributes and chosen here once the CPU has been asked. A scalar path
// always exists and gives the same results within float rounding.
//
// Choice of ISA, in order:
//  1. an override set with override_kernel_isa() (tests run both paths in one process);
//  2. the environment variable HELIX_KERNELS = "scalar" | "avx2" | "auto" (or unset);
//  3. "avx2" when the CPU has AVX2, FMA and F16C, else "scalar".
// Asking for "avx2" on a CPU without it is an error, not a silent fallback.
#pragma once

#include <string_view>

namespace helix {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, avx512f = false;
};

// What this CPU supports (asked once).
const CpuFeatures& cpu_features();

enum class KernelIsa { Scalar, Avx2 };

// The ISA matmul and the vector ops use now (see the order above). Throws Error
// if HELIX_KERNELS holds anything else, or asks for avx2 on a CPU without it.
KernelIsa active_kernel_isa();
// Its name: "avx2" or "scalar".
std::string_view kernel_isa();

// Forces an ISA for this process: "scalar", "avx2", or "" / "auto" to go back to
// the environment / CPU choice. Throws Error on another name or on "avx2" without
// CPU support. Not meant to be called while kernels run on other threads.
void override_kernel_isa(std::string_view isa);

}  // namespace helix
