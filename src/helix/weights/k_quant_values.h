// Eight consecutive values of a Q4_K or Q6_K super-block (block_quants.h has the
// layouts), written once for the CPU and the GPU: the CUDA kernels that read
// K-quant weights (src/helix/cuda) call these functions, and so do the CPU's Q6_K
// dequantizer and its tests; the CPU's Q4_K dequantizer keeps a vectorisable loop
// of its own, held to these functions' bits by a test.
//
// Header only, C++17, no library calls. The scales come in already widened from
// f16 (each side has its own conversion). The two sides agree bit for bit because
// every product here is exact in f32 (d has 11 significant bits, a scale at most 7,
// a quant at most 6) and the one rounded operation, Q4_K's final subtraction, is
// done once on either side; the GPU's are written as __fmul_rn / __fsub_rn all the
// same, so that no contraction into fma is even possible there.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define HELIX_KQ_HOST_DEVICE __host__ __device__
#else
#define HELIX_KQ_HOST_DEVICE
#endif

namespace helix::kquant {

HELIX_KQ_HOST_DEVICE inline float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

HELIX_KQ_HOST_DEVICE inline float sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

// Sub-block j's (0..7) 6-bit scale and min from Q4_K's 12 packed bytes: j < 4 in
// the low 6 bits of bytes j and j + 4; j >= 4 in the nibbles of byte j + 4, with
// the top two bits in bytes j - 4 (scale) and j (min).
struct ScaleMin {
  int scale, min;
};
HELIX_KQ_HOST_DEVICE inline ScaleMin scale_min_k4(int j, const std::uint8_t* packed) {
  if (j < 4) return {packed[j] & 63, packed[j + 4] & 63};
  return {(packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4)};
}

// Q4_K: values i0..i0+7 (i0 a multiple of 8) of a super-block whose 12 scale
// bytes, 128 quant bytes and widened d, dmin are given. Value i lies in 64-value
// part c = i / 64: its quant is the low nibble of qs[32c + i % 64] for i % 64 < 32
// (sub-block 2c), else the high nibble of qs[32c + i % 64 - 32] (sub-block 2c + 1);
// x = (d · scale) · q − dmin · min.
HELIX_KQ_HOST_DEVICE inline void q4_k_values8(const std::uint8_t* scales, const std::uint8_t* qs, float d, float dmin,
                                              int i0, float* out) {
  const int c = i0 / 64, l = i0 % 64, high = l >= 32 ? 1 : 0;
  const ScaleMin sm = scale_min_k4(2 * c + high, scales);
  const float factor = mul(d, static_cast<float>(sm.scale)), offset = mul(dmin, static_cast<float>(sm.min));
  const std::uint8_t* q = qs + 32 * c + (l % 32);
  for (int i = 0; i < 8; ++i) {
    const int quant = high ? q[i] >> 4 : q[i] & 0xF;
    out[i] = sub(mul(factor, static_cast<float>(quant)), offset);
  }
}

// Q6_K: values i0..i0+7 (i0 a multiple of 8) of a super-block whose 128 low-bit
// bytes (ql), 64 high-bit bytes (qh), 16 int8 scales and widened d are given.
// Value i lies in half n = i / 128, group g = (i % 128) / 32, at l = i % 32: low
// bits from ql[64n + l + 32 (g odd)], low nibble for g < 2, high for g >= 2; high
// bits (qh[32n + l] >> 2g) & 3; scale sc[8n + l / 16 + 2g]; x = (d · sc) · (q − 32).
HELIX_KQ_HOST_DEVICE inline void q6_k_values8(const std::uint8_t* ql, const std::uint8_t* qh, const std::int8_t* sc,
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

}  // namespace helix::kquant
