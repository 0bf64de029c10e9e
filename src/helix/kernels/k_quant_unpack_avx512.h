// Unpacking Q4_K's scales and mins and Q6_K's quants into AVX-512 registers
// (internal to the kernels module), shared by the VNNI kernels' readers
// (int8_block_weights.h, which also unpack the Q4_K and Q5_K quants) and the amx
// level's K-quant tile kernel (matmul_amx_k_quant.cpp), which decodes them into int8
// tiles. Block layouts as GGML's (weights/block_quants.h).
//
// Include only from files that disable GCC 12's -Wuninitialized for the AVX-512
// headers (see matmul_avx512.cpp), after <immintrin.h>; x86-64 only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#define HELIX_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

namespace helix::kernels_detail::k_quants {

inline std::uint16_t load_u16(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline std::uint32_t load_u32(const std::byte* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
HELIX_AVX512 inline float f16(const std::byte* p) { return _cvtsh_ss(load_u16(p)); }

constexpr std::size_t kQ6KBlockBytes = 210;

// Q4_K's 12 bytes of 6-bit scales and mins as 16 bytes: scale[0..7], then min[0..7].
HELIX_AVX512 inline __m128i q4k_scale_min_bytes(const std::byte* block) {
  const std::uint32_t a = load_u32(block + 4), b = load_u32(block + 8), c = load_u32(block + 12);
  // Sub-blocks 0-3 keep their 6 bits in bytes 0-3 (scales) and 4-7 (mins); 4-7 have
  // their low 4 bits in bytes 8-11 and their top 2 bits in the top of bytes 0-7.
  const std::uint32_t scales_lo = a & 0x3F3F3F3F, mins_lo = b & 0x3F3F3F3F;
  const std::uint32_t scales_hi = (c & 0x0F0F0F0F) | ((a >> 2) & 0x30303030);
  const std::uint32_t mins_hi = ((c >> 4) & 0x0F0F0F0F) | ((b >> 2) & 0x30303030);
  return _mm_set_epi32(static_cast<int>(mins_hi), static_cast<int>(mins_lo), static_cast<int>(scales_hi),
                       static_cast<int>(scales_lo));
}

// Q4_K's scales and mins as 16 f32: d * scale[0..7], dmin * min[0..7].
HELIX_AVX512 inline __m512 q4k_scales_mins(const std::byte* block) {
  const __m512 d = _mm512_mask_mov_ps(_mm512_set1_ps(f16(block)), 0xFF00, _mm512_set1_ps(f16(block + 2)));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q4k_scale_min_bytes(block))), d);
}

// Q6_K's quants 128h .. 128h + 127 as unsigned 6-bit values (the stored q + 32), in
// value order, 64 per register: per 128 values, 64 bytes of low nibbles and 32 bytes
// of 2-bit tops.
HELIX_AVX512 inline void q6k_quant_pair(const std::byte* block, int half, __m512i& first, __m512i& second) {
  const __m512i nibble = _mm512_set1_epi8(0x0F), pair = _mm512_set1_epi8(0x03);
  const __m512i low = _mm512_loadu_si512(block + 64 * half);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 128 + 32 * half));
  // Values 0-31 take bits 0-1 of qh, 32-63 bits 2-3, 64-95 bits 4-5, 96-127 bits 6-7.
  const __m512i high = _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 2), 1);
  first = _mm512_or_si512(_mm512_and_si512(low, nibble), _mm512_slli_epi16(_mm512_and_si512(high, pair), 4));
  second = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(low, 4), nibble),
                           _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(high, 4), pair), 4));
}

// All 256 quants, 64 per register in value order.
HELIX_AVX512 inline void q6k_quants(const std::byte* block, __m512i (&w)[4]) {
  q6k_quant_pair(block, 0, w[0], w[1]);
  q6k_quant_pair(block, 1, w[2], w[3]);
}

// Q6_K's 16 group scales (one per 16 values) times d, as f32.
HELIX_AVX512 inline __m512 q6k_group_scales(const std::byte* block) {
  const __m128i scale_bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 192));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(scale_bytes)), _mm512_set1_ps(f16(block + 208)));
}

}  // namespace helix::kernels_detail::k_quants
