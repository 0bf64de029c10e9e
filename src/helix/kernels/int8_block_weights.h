// Readers of int8 block-type weights in place (internal to the kernels module): 16
// weight rows side by side, their quants 64 values at a time and their scales a row
// per lane. The VNNI kernel (matmul_vnni_gemv.cpp) and the VNNI GEMM
// (matmul_vnni_gemm.cpp) read every int8 block type through them, the block-scaled
// tile kernel (matmul_amx.cpp) its quants and scales: every kernel decodes the
// blocks, and scales with floats decoded, in one place.
//
// Include only after int8_block_arithmetic.h (same conditions); x86-64 only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "helix/kernels/k_quant_unpack_avx512.h"
#include "helix/kernels/matmul_kernels.h"
#include "helix/weights/block_quants.h"

namespace helix::kernels_detail {

// 16 weight rows read in place (rows past the matrix repeat its last row; their
// sums are never stored), and the panel Q8_0's block scales go to.
struct RowGroup {
  const std::byte* rows[kTileRows];
  const Panel* p = nullptr;
  std::int64_t first_block = 0;  // the panel's first block (its scale vector 0)
  __m512i row_offsets;           // row n at rows[0] + row_offsets[n]
  __mmask16 valid;               // rows in the matrix
};

// Rows first + n * stride for n < rows_here (the others repeat the last); Q8_0's
// scales into panel p from block first_block on.
HELIX_AVX512 inline RowGroup make_row_group(const WeightMatrix& w, std::int64_t first, std::int64_t stride, int rows_here,
                                         const Panel* p, std::int64_t first_block) {
  RowGroup group;
  for (int n = 0; n < kTileRows; ++n) group.rows[n] = w.row(first + std::min(n, rows_here - 1) * stride);
  group.p = p;
  group.first_block = first_block;
  group.valid = static_cast<__mmask16>((1u << rows_here) - 1);
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  group.row_offsets = _mm512_mullo_epi32(_mm512_min_epi32(lanes, _mm512_set1_epi32(rows_here - 1)),
                                         _mm512_set1_epi32(static_cast<int>(stride * static_cast<std::int64_t>(w.row_bytes))));
  return group;
}

// A reader of type Quants over the rows of `group`.
template <typename Quants>
HELIX_AVX512 inline Quants reader(const RowGroup& group) {
  Quants quants;
  static_cast<RowGroup&>(quants) = group;
  return quants;
}

// The block-scaled types (Q8_0, Q4_0, Q5_0, Q4_1, Q5_1): each 32 values an f16 scale
// d (the block's first 2 bytes) and int8 values, here 64 values (two blocks) at a
// time, or the last 32 (half; the other 32 lanes zero; nothing past the block read):
//  * Q8_0: the quants as they are;
//  * Q4_0: 16 bytes of nibbles (byte j: value j low, value j + 16 high), minus 8;
//  * Q5_0: the same nibbles and a 32-bit word of fifth bits (bit i: value i's 16), minus 16;
//  * Q4_1 and Q5_1: as Q4_0 and Q5_0 with nothing subtracted, after d an f16 offset m.
template <DType Type>
struct BlockScaledQuants : RowGroup {
  static_assert(is_block_scaled(Type));
  static constexpr DType kType = Type;
  static constexpr bool kBlockScaled = true;
  // The block's layout (weights/block_quants.h): its bytes and where its quants
  // (nibbles, or Q8_0's bytes) and fifth bits start.
  static constexpr std::int64_t kBlockBytes = Type == DType::Q8_0   ? sizeof(BlockQ8_0)
                                              : Type == DType::Q4_0 ? sizeof(BlockQ4_0)
                                              : Type == DType::Q5_0 ? sizeof(BlockQ5_0)
                                              : Type == DType::Q4_1 ? sizeof(BlockQ4_1)
                                                                    : sizeof(BlockQ5_1);
  static constexpr std::int64_t kQuants = Type == DType::Q8_0   ? offsetof(BlockQ8_0, qs)
                                          : Type == DType::Q4_0 ? offsetof(BlockQ4_0, qs)
                                          : Type == DType::Q5_0 ? offsetof(BlockQ5_0, qs)
                                          : Type == DType::Q4_1 ? offsetof(BlockQ4_1, qs)
                                                                : offsetof(BlockQ5_1, qs);
  static constexpr bool kFifthBit = Type == DType::Q5_0 || Type == DType::Q5_1;
  static constexpr std::int64_t kFifthBits = Type == DType::Q5_0 ? offsetof(BlockQ5_0, qh) : offsetof(BlockQ5_1, qh);
  static constexpr char kCentre = Type == DType::Q4_0 ? 8 : Type == DType::Q5_0 ? 16 : 0;
  HELIX_AVX512 __m512i load(int n, std::int64_t k, bool half) const {
    const std::byte* block = rows[n] + k / 32 * kBlockBytes;
    if constexpr (Type == DType::Q8_0) {
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + kQuants));
      if (half) return _mm512_zextsi256_si512(lo);
      const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + kBlockBytes + kQuants));
      return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    } else {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + kQuants));
      const __m128i b = half ? _mm_setzero_si128() : _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + kBlockBytes + kQuants));
      // [a, a, b, b] per 128 bits, the second copy of each shifted down to its high nibbles.
      const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(a, a)), _mm256_set_m128i(b, b), 1);
      __m512i q = _mm512_and_si512(_mm512_mask_srli_epi16(both, 0xFF00FF00u, both, 4), _mm512_set1_epi8(0x0F));
      if constexpr (kFifthBit) {
        const std::uint64_t fifth = k_quants::load_u32(block + kFifthBits) |
                                    (half ? 0 : static_cast<std::uint64_t>(k_quants::load_u32(block + kBlockBytes + kFifthBits)) << 32);
        q = _mm512_mask_add_epi8(q, static_cast<__mmask64>(fifth), q, _mm512_set1_epi8(16));
      }
      const __m512i values = kCentre == 0 ? q : _mm512_sub_epi8(q, _mm512_set1_epi8(kCentre));
      return half ? _mm512_maskz_mov_epi8(0xFFFFFFFFull, values) : values;
    }
  }
  // The scales (and Q4_1's and Q5_1's offsets) of the (one or two) blocks at k into
  // the panel, gathered from the 16 rows once their quants were loaded: the lines
  // are in L1 then (gathering them first, from memory, halved the speed).
  HELIX_AVX512 void load_scales(std::int64_t k, bool half) const {
    for (int j = 0; j < (half ? 1 : 2); ++j) {
      const std::int64_t block = k / 32 + j;
      const __m512i bits = _mm512_i32gather_epi32(row_offsets, rows[0] + block * kBlockBytes, 1);
      _mm512_storeu_ps(p->scale + (block - first_block) * kTileRows,
                       _mm512_maskz_mov_ps(valid, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(bits))));
      if constexpr (has_block_offset(Type)) {
        _mm512_storeu_ps(p->offset + (block - first_block) * kTileRows,
                         _mm512_maskz_mov_ps(valid, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(bits, 16)))));
      }
    }
  }
};
using Q8_0Quants = BlockScaledQuants<DType::Q8_0>;

// A superblock's scales for 16 rows, a row per lane: d and dmin (f16 in the block,
// exact in f32) and the groups' integer scales and mins.
struct SuperblockScales {
  __m512 d, dmin;
  __m512i scale[16];  // Q4_K, Q5_K: 8 groups of 32 values; Q6_K: 16 groups of 16
  __m512i min[8];     // Q4_K and Q5_K only
};

// Q4_K and Q5_K (the same scales and mins, Q5_K with a fifth bit per value):
// quants unpacked per 64 values, unsigned; scales per superblock. Q5_K's block: d,
// dmin, 12 bytes of scales and mins, 32 bytes of fifth bits (byte l: bit 2c for
// value 64c + l, bit 2c + 1 for value 64c + 32 + l), then the nibbles as Q4_K's.
template <DType Type>
struct K4Quants : RowGroup {
  static_assert(Type == DType::Q4_K || Type == DType::Q5_K);
  static constexpr DType kType = Type;
  static constexpr bool kBlockScaled = false;
  static constexpr std::int64_t kBlockBytes = Type == DType::Q4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ5_K);
  // Values 64c .. 64c + 63 of one superblock: the 32 bytes of nibbles in both halves
  // of a register, the high half shifted right by 4 (one load, a shift and a mask);
  // Q5_K's fifth bits added where set. (The tile kernel decodes with it too.)
  HELIX_AVX512 static __m512i unpack(const std::byte* block, int c) {
    constexpr std::int64_t nibbles = Type == DType::Q4_K ? offsetof(BlockQ4_K, qs) : offsetof(BlockQ5_K, qs);
    const __m512i both = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + nibbles + 32 * c)));
    const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    const __m512i q = _mm512_and_si512(_mm512_srlv_epi16(both, shift), _mm512_set1_epi8(0x0F));
    if constexpr (Type == DType::Q4_K) {
      return q;
    } else {
      const __m512i bits = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + offsetof(BlockQ5_K, qh))));
      const __m512i which = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * c))),
                                               _mm256_set1_epi8(static_cast<char>(1 << (2 * c + 1))), 1);
      return _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(bits, which), q, _mm512_set1_epi8(16));
    }
  }
  HELIX_AVX512 __m512i load(int n, std::int64_t k) const {
    return unpack(rows[n] + k / 256 * kBlockBytes, static_cast<int>(k % 256 / 64));
  }
  // The 16 rows' scales of the superblock at k (once its lines are in cache), the
  // bytes as q4k_scale_min_bytes reads them.
  HELIX_AVX512 void load_superblock(std::int64_t k, SuperblockScales& s) const {
    const std::byte* first = rows[0] + k / 256 * kBlockBytes;
    const __m512i d_bits = _mm512_i32gather_epi32(row_offsets, first, 1);
    const __m512i a = _mm512_i32gather_epi32(row_offsets, first + 4, 1);
    const __m512i b = _mm512_i32gather_epi32(row_offsets, first + 8, 1);
    const __m512i c = _mm512_i32gather_epi32(row_offsets, first + 12, 1);
    s.d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d_bits));
    s.dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(d_bits, 16)));
    const __m512i six = _mm512_set1_epi32(0x3F3F3F3F), four = _mm512_set1_epi32(0x0F0F0F0F),
                  tops = _mm512_set1_epi32(0x30303030);
    // Sub-blocks 0-3 keep 6 bits in a (scales) and b (mins); 4-7 the low 4 in c, the top 2 in a and b.
    const __m512i scales[2] = {_mm512_and_si512(a, six),
                               _mm512_or_si512(_mm512_and_si512(c, four), _mm512_and_si512(_mm512_srli_epi32(a, 2), tops))};
    const __m512i mins[2] = {_mm512_and_si512(b, six),
                             _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(c, 4), four),
                                             _mm512_and_si512(_mm512_srli_epi32(b, 2), tops))};
    const __m512i byte = _mm512_set1_epi32(0xFF);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const auto shift = static_cast<unsigned>(8 * (j % 4));
      s.scale[j] = _mm512_and_si512(_mm512_srli_epi32(scales[j / 4], shift), byte);
      s.min[j] = _mm512_and_si512(_mm512_srli_epi32(mins[j / 4], shift), byte);
    }
  }
};

using Q4_KQuants = K4Quants<DType::Q4_K>;
using Q5_KQuants = K4Quants<DType::Q5_K>;

// Q6_K: 64 values at a time as q + 32 (unsigned); scales per superblock.
struct Q6_KQuants : RowGroup {
  static constexpr DType kType = DType::Q6_K;
  static constexpr bool kBlockScaled = false;
  // Values 64t.. and 64(t+1).. (t even) come from the same bytes: both are unpacked
  // when t is even, the odd one kept for the next step (which reads the same rows).
  mutable __m512i odd[kTileRows];
  HELIX_AVX512 __m512i load(int n, std::int64_t k) const {
    const int t = static_cast<int>(k % 256 / 64);
    if (t % 2 == 1) return odd[n];
    __m512i even;
    k_quants::q6k_quant_pair(rows[n] + k / 256 * static_cast<std::int64_t>(k_quants::kQ6KBlockBytes), t / 2, even,
                             odd[n]);
    return even;
  }
  // The 16 rows' d and 16 signed group scales of the superblock at k (once its lines
  // are in cache).
  HELIX_AVX512 void load_superblock(std::int64_t k, SuperblockScales& s) const {
    const std::byte* first = rows[0] + k / 256 * static_cast<std::int64_t>(k_quants::kQ6KBlockBytes);
    s.d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_i32gather_epi32(row_offsets, first + 208, 1)));
    s.dmin = _mm512_setzero_ps();  // no mins
#pragma GCC unroll 4
    for (int word = 0; word < 4; ++word) {
      const __m512i bytes = _mm512_i32gather_epi32(row_offsets, first + 192 + 4 * word, 1);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i)  // group 4 word + i: byte i, sign-extended
        s.scale[4 * word + i] = _mm512_srai_epi32(_mm512_slli_epi32(bytes, static_cast<unsigned>(24 - 8 * i)), 24);
    }
  }
};

}  // namespace helix::kernels_detail
