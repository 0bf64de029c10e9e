// The int8 block types' arithmetic (internal to the kernels module), shared by every
// kernel that multiplies them on the avx512 and amx levels so that they give the
// same bits: the VNNI kernel for batches below 16 tokens (matmul_vnni_gemv.cpp, both
// levels), and from 16 tokens the tiles (amx: matmul_amx.cpp for the block-scaled
// types, matmul_amx_k_quant.cpp for the K-quants) or the VNNI GEMM (avx512:
// matmul_vnni_gemm.cpp). A row's result then depends neither on its batch size nor
// on the level.
//
// Per output element (weight row n, token t), from the first value on:
//  * the block-scaled types (Q8_0, Q4_0, Q5_0, Q4_1, Q5_1: is_block_scaled), x
//    quantized per 32 values (Int8Activations), per 32-value block, with v_k the
//    weight's int8 value (Q8_0 the quant, Q4_0 q - 8, Q5_0 q - 16, Q4_1 and Q5_1 q):
//      isum = sum_k v_k * x_k, the block's exact integer dot product
//      acc  = fma(f32(isum), wscale[n] * xscale[t], acc)
//      acc  = fma(woffset[n], xsum[t], acc)   (Q4_1, Q5_1: v_k the quant as stored;
//                                             xsum = xscale * sum_k x_k, made once per call)
//  * the K-quants (Q4_K, Q5_K, Q6_K), x quantized per 256 values
//    (SuperblockActivations), per 256-value superblock, with sc(k) and mn(k) the
//    integer scale and min of value k's group (Q6_K: q = stored - 32):
//      M    = sum_k sc(k) * q_k * x_k          (exact; |M| < 2^28)
//      N    = sum_k mn(k) * x_k                (Q4_K, Q5_K only; exact)
//      acc  = fma(f32(M), d[n] * xscale[t], acc)
//      acc  = fnmadd(f32(N), dmin[n] * xscale[t], acc)   (Q4_K, Q5_K only)
//    One float scaling per superblock rather than per group (8 or 16 of them): the
//    per-group floats bounded the K-quant tiles (3-6 vector operations per 16 x 16
//    results per group against one tile product). x per 256 values is llama.cpp's
//    own choice for these types (Q8_K).
// The *_rows functions apply these vectorised over 16 weight rows (one token), the
// *_tokens ones over 16 tokens (one row per vector): the same operations on the
// same operands.
//
// Include only from files that disable GCC 12's -Wuninitialized for the AVX-512
// headers (see matmul_avx512.cpp), after <immintrin.h>; x86-64 only.
#pragma once

#include <cstdint>

#include "helix/kernels/k_quant_unpack_avx512.h"
#include "helix/weights/dtype.h"

// Kept out of line by the int8 kernels (their decoders and token-block products):
// inlined into one large function, the Q8_0 tile kernel's prefill rate moved by
// 10-15% with unrelated edits elsewhere in it (register allocation); apart, it holds.
#define HELIX_OWN_CODE __attribute__((noinline))

namespace helix::kernels_detail {

constexpr int kTileRows = 16;   // weight rows of an A or C tile, and of a VNNI row group
constexpr int kMaxTokens = 16;  // tokens of a B or C tile
constexpr std::int64_t kSuperblockValues = 256;


// The block-scaled types' per-block weight scales of 16 rows, as 16-float vectors over the rows.
struct Panel {
  std::uint8_t* q;  // the tile kernel's decoded quants: [16 rows][kChunkValues]
  float* scale;     // [block][16 rows]
  float* offset = nullptr;  // Q4_1, Q5_1: [block][16 rows]
};

// The block-scaled types, one block of one token, vectorised over the 16 weight rows.
HELIX_AVX512 inline __m512 scale_rows(__m512 acc, __m512i isum, const Panel& p, std::int64_t block, float x_scale) {
  const __m512 s = _mm512_mul_ps(_mm512_loadu_ps(p.scale + block * kTileRows), _mm512_set1_ps(x_scale));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), s, acc);
}

// The block-scaled types, one block vectorised over 16 tokens: acc[n] for weight row n, c the tile's
// integer sums [row][token].
HELIX_AVX512 inline void scale_tokens(__m512 (&acc)[kTileRows], const std::int32_t* c, const Panel& p,
                                   std::int64_t block, const float* x_scale) {
  const __m512 xs = _mm512_loadu_ps(x_scale);
#pragma GCC unroll 16
  for (int n = 0; n < kTileRows; ++n) {
    const __m512 s = _mm512_mul_ps(_mm512_set1_ps(p.scale[block * kTileRows + n]), xs);
    acc[n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(c + n * kMaxTokens)), s, acc[n]);
  }
}

// Q4_1 and Q5_1 after scale_rows: the block's offsets of 16 rows times x's sum.
HELIX_AVX512 inline __m512 offset_rows(__m512 acc, const Panel& p, std::int64_t block, float x_sum) {
  return _mm512_fmadd_ps(_mm512_loadu_ps(p.offset + block * kTileRows), _mm512_set1_ps(x_sum), acc);
}

// Q4_1 and Q5_1 after scale_tokens, vectorised over 16 tokens.
HELIX_AVX512 inline void offset_tokens(__m512 (&acc)[kTileRows], const Panel& p, std::int64_t block, const float* x_sum) {
  const __m512 sums = _mm512_loadu_ps(x_sum);
#pragma GCC unroll 16
  for (int n = 0; n < kTileRows; ++n) acc[n] = _mm512_fmadd_ps(_mm512_set1_ps(p.offset[block * kTileRows + n]), sums, acc[n]);
}

// K-quants, one superblock of one token, vectorised over the 16 weight rows: d and
// dmin the rows' superblock scales.
HELIX_AVX512 inline __m512 superblock_rows(__m512 acc, __m512i m_sum, __m512i n_sum, __m512 d, __m512 dmin,
                                        float x_scale, bool has_min) {
  const __m512 xs = _mm512_set1_ps(x_scale);
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(m_sum), _mm512_mul_ps(d, xs), acc);
  if (has_min) acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(n_sum), _mm512_mul_ps(dmin, xs), acc);
  return acc;
}

// K-quants, one superblock vectorised over 16 tokens: row n's M in m_sums[n], N in
// n_sums[n] (vectors over the tokens), d[n] and dmin[n] its scales.
HELIX_AVX512 inline __m512 superblock_tokens(__m512 acc, __m512i m_sums, __m512i n_sums, float d, float dmin,
                                          __m512 x_scale, bool has_min) {
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(m_sums), _mm512_mul_ps(_mm512_set1_ps(d), x_scale), acc);
  if (has_min) acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(n_sums), _mm512_mul_ps(_mm512_set1_ps(dmin), x_scale), acc);
  return acc;
}

}  // namespace helix::kernels_detail
