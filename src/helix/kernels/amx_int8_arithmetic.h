// The int8 arithmetic of the amx level (internal to the kernels module), shared by
// its two kernels so that they give the same bits: the tile kernel for batches of 16
// tokens and more (matmul_amx.cpp) and the VNNI one for smaller batches
// (matmul_amx_vnni.cpp). A row's result then never depends on its batch size.
//
// Per output element (weight row n, token t), x quantized per 32 values
// (Int8Activations) and the weights' exact int8 quants: per group of values that
// share a weight scale (32; 16 for Q6_K), in group order from the first,
//   isum = the group's exact integer dot product (Q6_K: of q - 32)
//   acc  = fma(f32(isum), wscale[n] * xscale[t], acc)
//   acc  = acc - wmin[n] * xsum[t]   (Q4_K's mins only; one fnmadd)
// scale_rows applies this vectorised over 16 weight rows (one token), scale_tokens
// over 16 tokens (one row per vector): the same operations on the same operands.
//
// Include only from files that disable GCC 12's -Wuninitialized for the AVX-512
// headers (see matmul_avx512.cpp), after <immintrin.h>; x86-64 only.
#pragma once

#include <cstdint>

#include "helix/weights/dtype.h"

#define HELIX_AMX                                                                                       \
  __attribute__((target("amx-tile,amx-bf16,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,"   \
                        "avx512bf16,avx2,fma,f16c")))

namespace helix::kernels_detail {

constexpr int kTileRows = 16;   // weight rows of an A or C tile, and of a VNNI row group
constexpr int kMaxTokens = 16;  // tokens of a B or C tile

struct Int8Format {
  int group;      // values per weight scale
  bool is_signed; // the panel's quants are s8 (tdpbssd) rather than u8 (tdpbusd)
  bool has_min;   // a per-group offset to subtract in floats (Q4_K's wmin * xsum)
};

inline constexpr Int8Format int8_format(DType dtype) {
  switch (dtype) {
    case DType::Q8_0: return {32, true, false};
    case DType::Q4_K: return {32, false, true};
    default: return {16, true, false};  // Q6_K: the panel holds q - 32 (the stored quants are q + 32)
  }
}

// 16 weight rows over a chunk of values, decoded: quants as tiles, per-group scales
// (and offsets) as 16-float vectors over the rows. Rows past the matrix are zero.
struct Panel {
  std::uint8_t* q;  // [16 rows][kChunkValues]: row-major, so a group's A tile is a strided load
  float* scale;     // [group][16 rows]
  float* min;       // [group][16 rows]
};

// Per-group scaling of one token, vectorised over the 16 weight rows.
HELIX_AMX inline __m512 scale_rows(__m512 acc, __m512i isum, const Panel& p, std::int64_t g, float x_scale,
                                   const float* x_sum, bool has_min) {
  const __m512 s = _mm512_mul_ps(_mm512_loadu_ps(p.scale + g * kTileRows), _mm512_set1_ps(x_scale));
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), s, acc);
  if (has_min) acc = _mm512_fnmadd_ps(_mm512_loadu_ps(p.min + g * kTileRows), _mm512_set1_ps(*x_sum), acc);
  return acc;
}

// Per-group scaling vectorised over 16 tokens: acc[n] for weight row n.
HELIX_AMX inline void scale_tokens(__m512 (&acc)[kTileRows], const std::int32_t* c, const Panel& p, std::int64_t g,
                                   const float* x_scale, const float* x_sum, bool has_min) {
  const __m512 xs = _mm512_loadu_ps(x_scale);
  const __m512 sum = has_min ? _mm512_loadu_ps(x_sum) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int n = 0; n < kTileRows; ++n) {
    const __m512 s = _mm512_mul_ps(_mm512_set1_ps(p.scale[g * kTileRows + n]), xs);
    acc[n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(c + n * kMaxTokens)), s, acc[n]);
    if (has_min) acc[n] = _mm512_fnmadd_ps(_mm512_set1_ps(p.min[g * kTileRows + n]), sum, acc[n]);
  }
}

}  // namespace helix::kernels_detail
