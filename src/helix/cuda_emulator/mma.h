// PTX's mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 (D = A·B + C on the
// tensor cores, a warp-wide operation) for kernels run by the emulator. Unlike
// wmma's opaque fragments, mma's operands are registers whose place in the matrices
// the PTX ISA documents ("Matrix Fragments for mma.m16n8k16 with floating point
// type"), and kernels rely on it (a softmax scales an accumulator's rows), so the
// emulator follows it exactly. With g = lane / 4 and t = lane % 4:
//   A (16 x 16, f16 pairs in 4 registers): register r holds row g + 8 (r % 2),
//     columns 2t + 8 (r / 2) and the next, the lower column in the low half;
//   B (16 x 8, 2 registers): register r holds rows 2t + 8 r and the next, column g;
//   C and D (16 x 8, 4 floats): element i is row g + 8 (i / 2), column 2t + i % 2.
// Every lane must reach it (thread_blocks.h's meet_in_warp rules). The products of
// f16 values are exact in f32; they are added onto C in k order, each sum rounded
// toward zero. NVIDIA's tensor cores were measured to truncate as they add (Fasi,
// Higham, Mikaitis and Pranesh, "Numerical behavior of NVIDIA tensor cores", 2021),
// in an order and with intermediate widths of their own: sixteen truncations per
// element here are more than they make, so a kernel whose sums drift here would
// drift there too, less.
#pragma once

#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "helix/cuda_emulator/thread_blocks.h"

namespace helix::cuda_emulator {

namespace mma_detail {

struct Operands {
  std::uint32_t a[4];
  std::uint32_t b[2];
};

// The f16 value in the low (hi = false) or high half of a register.
inline float half_of(std::uint32_t r, bool hi) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(hi ? r >> 16 : r & 0xFFFFu)));
}

// A's element (row, k) out of the warp's operands.
inline float a_at(const Operands* lanes, int row, int k) {
  const Operands& o = lanes[(row % 8) * 4 + (k % 8) / 2];
  return half_of(o.a[(row / 8) + 2 * (k / 8)], k % 2 == 1);
}

// B's element (k, col).
inline float b_at(const Operands* lanes, int k, int col) {
  const Operands& o = lanes[col * 4 + (k % 8) / 2];
  return half_of(o.b[k / 8], k % 2 == 1);
}

// a + b rounded toward zero: rounded to nearest, then a step back toward zero
// where that went past the exact sum (whose error TwoSum gives exactly).
inline float add_toward_zero(float a, float b) {
  const float sum = a + b, b_part = sum - a;
  const float error = (a - (sum - b_part)) + (b - b_part);  // a + b - sum, exactly
  return error != 0.0f && (error < 0.0f) != (sum < 0.0f) ? std::nextafter(sum, 0.0f) : sum;
}

}  // namespace mma_detail

// d += a · b, each lane's d its four C (and D) elements.
inline void mma_m16n8k16_f16_f32(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
  mma_detail::Operands mine{};
  std::memcpy(mine.a, a, sizeof mine.a);
  std::memcpy(mine.b, b, sizeof mine.b);
  const std::byte* gathered = gather_in_warp(0xFFFFFFFFu, "mma.sync.m16n8k16", &mine, sizeof mine);
  mma_detail::Operands lanes[32];
  std::memcpy(lanes, gathered, sizeof lanes);
  const int lane = static_cast<int>(place().linear % 32), g = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; ++i) {
    const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
    for (int k = 0; k < 16; ++k) {
      d[i] = mma_detail::add_toward_zero(d[i], mma_detail::a_at(lanes, row, k) * mma_detail::b_at(lanes, k, col));
    }
  }
}

}  // namespace helix::cuda_emulator
