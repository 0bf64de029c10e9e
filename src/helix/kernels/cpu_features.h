// CPU features the kernels dispatch on, and which instruction set matmul and the
// vector ops use.
//
// Why run-time: the binary is built for baseline x86-64 (never -march=native), so
// it runs on any CI machine; the fast kernels are compiled for AVX2+FMA+F16C and for
// AVX-512 with function attributes and chosen here once the CPU has been asked. A
// scalar path always exists.
//
// The levels:
//  * scalar: portable C++, f32 arithmetic throughout (the reference).
//  * avx2: AVX2+FMA+F16C; same arithmetic as scalar, within float rounding.
//  * avx512: AVX-512 F/BW/VL/DQ + VNNI on top of avx2. BF16 and F16 weights with
//    f32 fma (f32 activations); the int8 block types (Q8_0, Q4_K, Q6_K) multiply
//    int8 activations (quantized per 32 values for Q8_0, per 256 for the K-quants,
//    as llama.cpp does) with VNNI, so their results differ from scalar by that
//    rounding (matmul.h says how much); the other dtypes as avx2.
//  * amx: avx512 plus AVX512_BF16 and the AMX tile unit (AMX-TILE, AMX-BF16,
//    AMX-INT8), which the OS must grant (Linux: arch_prctl ARCH_REQ_XCOMP_PERM, asked
//    once here). BF16 weights multiply bf16 activations on the tile unit at every
//    batch size, the int8 block types from 16 tokens (the same bits as avx512's);
//    the other dtypes as avx512.
// Batch invariance: under avx512 and amx a row's result is the same bits whatever
// batch it comes in for BF16, F16, Q8_0, Q4_K and Q6_K (one arithmetic per row at
// every batch size), so a request recomputed after preemption continues as it
// began. scalar and avx2 switch to sgemm from 16-40 rows, which changes only the f32
// summation order (their activations are never rounded, so it stays at 1e-7); so do
// F32 and the other block types under avx512 and amx.
//
// Choice of ISA, in order:
//  1. an override set with override_kernel_isa() (tests run every path in one process);
//  2. the environment variable HELIX_KERNELS = "scalar" | "avx2" | "avx512" | "amx" | "auto" (or unset);
//  3. the best level this CPU has.
// Asking for a level the CPU lacks is an error, not a silent fallback.
#pragma once

#include <string_view>

namespace helix {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false,
       avx512bf16 = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;
  bool amx_granted = false;  // the OS let this process use the tile registers
};

// What this CPU supports (asked once).
const CpuFeatures& cpu_features();

enum class KernelIsa { Scalar, Avx2, Avx512, Amx };

// Whether `isa` includes the AVX-512 kernels (avx512 and amx do).
constexpr bool has_avx512_kernels(KernelIsa isa) { return isa == KernelIsa::Avx512 || isa == KernelIsa::Amx; }

// Whether this CPU can run `isa`.
bool cpu_supports(KernelIsa isa);

// The ISA matmul and the vector ops use now (see the order above). Throws Error
// if HELIX_KERNELS holds anything else, or asks for avx2 on a CPU without it.
KernelIsa active_kernel_isa();
// Its name: "amx", "avx512", "avx2" or "scalar".
std::string_view kernel_isa();

// Forces an ISA for this process: "scalar", "avx2", "avx512", "amx", or "" / "auto" to go
// back to the environment / CPU choice. Throws Error on another name or on a level
// the CPU lacks. Not meant to be called while kernels run on other threads.
void override_kernel_isa(std::string_view isa);

}  // namespace helix
