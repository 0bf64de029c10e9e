// The tensor cores' 16 x 8 x 16 product with f16 operands and f32 sums (PTX's
// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32, compute capability 8.0 on),
// for the .cu files. Unlike wmma's opaque fragments, its operands' places are the
// PTX ISA's ("Matrix Fragments for mma.m16n8k16 with floating point type"), so a
// kernel may scale an accumulator's rows or turn it into the next product's A.
// With g = lane / 4 and t = lane % 4:
//   A (16 x 16): register r holds row g + 8 (r % 2), columns 2t + 8 (r / 2) and
//     the next (the lower column in the low half);
//   B (16 x 8): register r holds rows 2t + 8 r and the next, column g;
//   C and D (16 x 8, four floats): element i is row g + 8 (i / 2), column 2t + i % 2.
// On the CUDA emulator the product is cuda_emulator/mma.h's, which follows the same
// places. A kernel using it runs only where compute_major >= 8; below, it traps.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

namespace helix::cuda_detail {

// Two floats as one operand register's f16 pair, each rounded to the nearest f16
// (ties to even): `lo` in the low half.
__device__ inline std::uint32_t f16_pair(float lo, float hi) {
  return static_cast<std::uint32_t>(__half_as_ushort(__float2half_rn(lo))) |
         (static_cast<std::uint32_t>(__half_as_ushort(__float2half_rn(hi))) << 16);
}

// Two floats as two f16 pairs whose sum is they, to 22 bits: `big` each rounded to
// the nearest f16, `small` what that rounding left (exact in f32), rounded in turn.
// A product through both (big · b + small · b) is as exact as one of f32 values
// with b, where one through `big` alone errs by up to 2^-11 of each value.
struct F16Split {
  std::uint32_t big, small;
};
__device__ inline F16Split f16_split_pair(float lo, float hi) {
  const float lo_big = __half2float(__float2half_rn(lo)), hi_big = __half2float(__float2half_rn(hi));
  return {f16_pair(lo_big, hi_big), f16_pair(lo - lo_big, hi - hi_big)};
}

// The f16 pair at p (4-byte aligned) as one operand register: p[0] in the low half.
__device__ inline std::uint32_t f16_pair_at(const __half* p) { return *reinterpret_cast<const std::uint32_t*>(p); }

// d += a · b.
__device__ inline void mma_16x8x16(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
#if defined(HELIX_CUDA_EMULATED)
  ::helix::cuda_emulator::mma_m16n8k16_f16_f32(d, a, b);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif defined(__CUDA_ARCH__)
  __trap();  // the callers launch from compute capability 8.0 on
#endif
}

}  // namespace helix::cuda_detail
