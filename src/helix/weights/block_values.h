// Eight consecutive values of a GGML block (block_quants.h has the layouts),
// written once for the CPU and the GPU: the CUDA kernels that read block-quantized
// weights (src/helix/cuda/weights_values.h) call these functions, and so do the
// CPU's Q6_K dequantizer and the tests; the CPU's other dequantizers keep
// vectorisable loops of their own, held to these functions' bits by a test
// (block_quants_test.cpp, BlockValues.*).
//
// Header only, C++17, no library calls. The scales come in already widened from
// f16 (each side has its own conversion). The two sides agree bit for bit because
// every product here is exact in f32 (d has 11 significant bits, a scale at most 7,
// a quant at most 6) and the one rounded operation of a value (the K-quants'
// subtraction of the min, the _1 types' addition of the offset) is done once on
// either side; the GPU's are written as __fmul_rn / __fadd_rn / __fsub_rn all the
// same, so that no contraction into fma is even possible there.
#pragma once

#include <cstdint>

#include "helix/core/host_device.h"

namespace helix::block_values {

HELIX_HOST_DEVICE inline float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

HELIX_HOST_DEVICE inline float add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

HELIX_HOST_DEVICE inline float sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

// ---- Blocks of 32 (Q4_0, Q4_1, Q5_0, Q5_1) -------------------------------------
// Byte j of the 16 quant bytes holds value j in its low nibble and value j + 16 in
// its high one; Q5's fifth bit of value v is bit v of its 4 qh bytes read as a
// little-endian word. i0 is 0, 8, 16 or 24.

HELIX_HOST_DEVICE inline int nibble(const std::uint8_t* qs, int v) {
  return v < 16 ? qs[v] & 0xF : qs[v - 16] >> 4;
}

HELIX_HOST_DEVICE inline int fifth_bit(const std::uint8_t* qh, int v) { return ((qh[v / 8] >> (v % 8)) & 1) << 4; }

// Q4_0: x = (q − 8) · d.
HELIX_HOST_DEVICE inline void q4_0_values8(const std::uint8_t* qs, float d, int i0, float* out) {
  for (int i = 0; i < 8; ++i) out[i] = mul(static_cast<float>(nibble(qs, i0 + i) - 8), d);
}

// Q4_1: x = q · d + m.
HELIX_HOST_DEVICE inline void q4_1_values8(const std::uint8_t* qs, float d, float m, int i0, float* out) {
  for (int i = 0; i < 8; ++i) out[i] = add(mul(static_cast<float>(nibble(qs, i0 + i)), d), m);
}

// Q5_0: x = (q − 16) · d, q the nibble and the fifth bit.
HELIX_HOST_DEVICE inline void q5_0_values8(const std::uint8_t* qh, const std::uint8_t* qs, float d, int i0,
                                                 float* out) {
  for (int i = 0; i < 8; ++i) out[i] = mul(static_cast<float>((nibble(qs, i0 + i) | fifth_bit(qh, i0 + i)) - 16), d);
}

// Q5_1: x = q · d + m.
HELIX_HOST_DEVICE inline void q5_1_values8(const std::uint8_t* qh, const std::uint8_t* qs, float d, float m,
                                                 int i0, float* out) {
  for (int i = 0; i < 8; ++i) out[i] = add(mul(static_cast<float>(nibble(qs, i0 + i) | fifth_bit(qh, i0 + i)), d), m);
}

// ---- K-quants (super-blocks of 256) --------------------------------------------

// Sub-block j's (0..7) 6-bit scale and min from Q4_K's (and Q5_K's) 12 packed
// bytes: j < 4 in the low 6 bits of bytes j and j + 4; j >= 4 in the nibbles of
// byte j + 4, with the top two bits in bytes j - 4 (scale) and j (min).
struct ScaleMin {
  int scale, min;
};
HELIX_HOST_DEVICE inline ScaleMin scale_min_k4(int j, const std::uint8_t* packed) {
  if (j < 4) return {packed[j] & 63, packed[j + 4] & 63};
  return {(packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4)};
}

// Q4_K: values i0..i0+7 (i0 a multiple of 8) of a super-block whose 12 scale
// bytes, 128 quant bytes and widened d, dmin are given. Value i lies in 64-value
// part c = i / 64: its quant is the low nibble of qs[32c + i % 64] for i % 64 < 32
// (sub-block 2c), else the high nibble of qs[32c + i % 64 - 32] (sub-block 2c + 1);
// x = (d · scale) · q − dmin · min.
HELIX_HOST_DEVICE inline void q4_k_values8(const std::uint8_t* scales, const std::uint8_t* qs, float d,
                                                 float dmin, int i0, float* out) {
  const int c = i0 / 64, l = i0 % 64, high = l >= 32 ? 1 : 0;
  const ScaleMin sm = scale_min_k4(2 * c + high, scales);
  const float factor = mul(d, static_cast<float>(sm.scale)), offset = mul(dmin, static_cast<float>(sm.min));
  const std::uint8_t* q = qs + 32 * c + (l % 32);
  for (int i = 0; i < 8; ++i) {
    const int quant = high ? q[i] >> 4 : q[i] & 0xF;
    out[i] = sub(mul(factor, static_cast<float>(quant)), offset);
  }
}

// Q5_K: Q4_K with a fifth bit per value: value i's is bit 2c + (i % 64 >= 32) of
// qh[i % 32] (c = i / 64), worth 16.
HELIX_HOST_DEVICE inline void q5_k_values8(const std::uint8_t* scales, const std::uint8_t* qh,
                                                 const std::uint8_t* qs, float d, float dmin, int i0, float* out) {
  const int c = i0 / 64, l = i0 % 64, high = l >= 32 ? 1 : 0;
  const ScaleMin sm = scale_min_k4(2 * c + high, scales);
  const float factor = mul(d, static_cast<float>(sm.scale)), offset = mul(dmin, static_cast<float>(sm.min));
  const std::uint8_t* q = qs + 32 * c + (l % 32);
  const std::uint8_t* h = qh + (l % 32);
  const int bit = 2 * c + high;
  for (int i = 0; i < 8; ++i) {
    const int quant = (high ? q[i] >> 4 : q[i] & 0xF) | (((h[i] >> bit) & 1) << 4);
    out[i] = sub(mul(factor, static_cast<float>(quant)), offset);
  }
}

// Q6_K: values i0..i0+7 (i0 a multiple of 8) of a super-block whose 128 low-bit
// bytes (ql), 64 high-bit bytes (qh), 16 int8 scales and widened d are given.
// Value i lies in half n = i / 128, group g = (i % 128) / 32, at l = i % 32: low
// bits from ql[64n + l + 32 (g odd)], low nibble for g < 2, high for g >= 2; high
// bits (qh[32n + l] >> 2g) & 3; scale sc[8n + l / 16 + 2g]; x = (d · sc) · (q − 32).
HELIX_HOST_DEVICE inline void q6_k_values8(const std::uint8_t* ql, const std::uint8_t* qh, const std::int8_t* sc,
                                                 float d, int i0, float* out) {
  const int n = i0 / 128, g = (i0 % 128) / 32, l = i0 % 32;
  const float factor = mul(d, static_cast<float>(sc[8 * n + l / 16 + 2 * g]));
  const std::uint8_t* low = ql + 64 * n + l + (g % 2 == 1 ? 32 : 0);
  const std::uint8_t* high = qh + 32 * n + l;
  for (int i = 0; i < 8; ++i) {
    const int bits = g < 2 ? low[i] & 0xF : low[i] >> 4;
    const int quant = (bits | (((high[i] >> (2 * g)) & 3) << 4)) - 32;
    out[i] = mul(factor, static_cast<float>(quant));
  }
}

}  // namespace helix::block_values
