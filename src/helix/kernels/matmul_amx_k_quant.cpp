// The amx level's tile kernel for the K-quants (Q4_K, Q5_K, Q6_K) from 16 tokens, with the K-quant
// arithmetic of int8_block_arithmetic.h: one float scaling per 256-value superblock.
// Smaller batches go to matmul_vnni_gemv.cpp, which gives the same bits.
//
// Each superblock of 16 weight rows is decoded once (KPanel) and multiplied against
// every block of 16 tokens. The weights' integer products w = sc * q (the group's
// scale folded in) do not fit in int8, so they are split as w = 64 * hi + lo with
// lo = w & 63 (u8) and hi = w >> 6 (Q4_K: u8 up to 14; Q5_K: up to 30; Q6_K: s8 in
// [-64, 64]), and M = 64 * (hi . x) + (lo . x): two tile products per 64 values,
// exact, and each accumulates over the whole superblock in the tile (x has one scale
// per 256 values). Q4_K's and Q5_K's mins are a third product, of each value's group
// min with x.
#include "helix/kernels/matmul_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>

#include "helix/core/error.h"
#include "helix/kernels/scratch.h"

#if defined(__x86_64__)
// See matmul_avx512.cpp: GCC 12's AVX-512 headers trip -Wuninitialized on their
// own undefined-vector helpers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "helix/kernels/int8_block_arithmetic.h"
#include "helix/kernels/amx_tiles.h"
#include "helix/kernels/int8_block_weights.h"
#include "helix/kernels/k_quant_unpack_avx512.h"

namespace helix::kernels_detail {
namespace {

constexpr int kPanelBytes = 256;  // one superblock per row

// One superblock of 16 weight rows, decoded for the tiles (rows past the matrix zero).
struct KPanel {
  alignas(64) std::uint8_t hi[kTileRows][kPanelBytes];
  alignas(64) std::uint8_t lo[kTileRows][kPanelBytes];
  alignas(64) std::uint8_t min[kTileRows][kPanelBytes];  // Q4_K, Q5_K: each value's group min
  float d[kTileRows], dmin[kTileRows];
};

// hi and lo of 32 products w (int16 lanes) into the panel row at `at`.
HELIX_AMX inline void store_split(KPanel& p, int n, int at, __m512i w, bool signed_hi) {
  const __m512i hi = signed_hi ? _mm512_srai_epi16(w, 6) : _mm512_srli_epi16(w, 6);
  _mm256_store_si256(reinterpret_cast<__m256i*>(&p.hi[n][at]), _mm512_cvtepi16_epi8(hi));
  _mm256_store_si256(reinterpret_cast<__m256i*>(&p.lo[n][at]),
                     _mm512_cvtepi16_epi8(_mm512_and_si512(w, _mm512_set1_epi16(63))));
}

// Q4_K and Q5_K (their quants unpacked as the VNNI kernels' reader does, int8_block_weights.h).
template <DType Type>
HELIX_AMX void decode_k4_row(const std::byte* block, int n, KPanel& p) {
  alignas(16) std::uint8_t scale_min[16];  // 8 scales, then 8 mins
  _mm_store_si128(reinterpret_cast<__m128i*>(scale_min), k_quants::q4k_scale_min_bytes(block));
  for (int c = 0; c < 4; ++c) {  // values 64c.. : groups 2c and 2c + 1
    const __m512i q = K4Quants<Type>::unpack(block, c);
    for (int h = 0; h < 2; ++h) {
      const int g = 2 * c + h, at = 32 * g;
      const __m512i q16 = _mm512_cvtepu8_epi16(h == 0 ? _mm512_castsi512_si256(q) : _mm512_extracti64x4_epi64(q, 1));
      store_split(p, n, at, _mm512_mullo_epi16(q16, _mm512_set1_epi16(scale_min[g])), false);
      _mm256_store_si256(reinterpret_cast<__m256i*>(&p.min[n][at]), _mm256_set1_epi8(static_cast<char>(scale_min[8 + g])));
    }
  }
  p.d[n] = k_quants::f16(block);
  p.dmin[n] = k_quants::f16(block + 2);
}

HELIX_AMX void decode_q6_k_row(const std::byte* block, int n, KPanel& p) {
  __m512i v[4];
  k_quants::q6k_quants(block, v);  // values 64t.. in v[t], as q + 32
  alignas(16) std::int8_t scale[16];  // one per 16 values
  std::memcpy(scale, block + 192, sizeof scale);
  for (int t = 0; t < 4; ++t) {
    for (int h = 0; h < 2; ++h) {  // values 64t + 32h.. : groups 4t + 2h and 4t + 2h + 1
      const int g = 4 * t + 2 * h;
      const __m512i q16 = _mm512_sub_epi16(
          _mm512_cvtepu8_epi16(h == 0 ? _mm512_castsi512_si256(v[t]) : _mm512_extracti64x4_epi64(v[t], 1)),
          _mm512_set1_epi16(32));
      const __m512i sc = _mm512_inserti64x4(_mm512_set1_epi16(scale[g]), _mm256_set1_epi16(scale[g + 1]), 1);
      store_split(p, n, 16 * g, _mm512_mullo_epi16(q16, sc), true);
    }
  }
  p.d[n] = k_quants::f16(block + 208);
  p.dmin[n] = 0.0f;
}

// Rows r0.. (rows_here of them) at superblock sb into the panel, fetching each row's
// next superblock meanwhile (16 rows' short runs: the streamers do not follow them).
template <DType Type>
HELIX_AMX HELIX_OWN_CODE void decode_superblock(const WeightMatrix& w, std::int64_t r0, int rows_here, std::int64_t sb,
                                                KPanel& p) {
  constexpr bool Q4K = k_quant_has_mins(Type);
  const std::int64_t block_bytes = static_cast<std::int64_t>(dtype_block_bytes(Type));
  const bool more = (sb + 1) * kSuperblockValues < w.cols;
  for (int n = 0; n < kTileRows; ++n) {
    if (n >= rows_here) {
      std::memset(p.hi[n], 0, kPanelBytes);
      std::memset(p.lo[n], 0, kPanelBytes);
      if (Q4K) std::memset(p.min[n], 0, kPanelBytes);
      p.d[n] = p.dmin[n] = 0.0f;
      continue;
    }
    const std::byte* block = w.row(r0 + n) + sb * block_bytes;
    if (more)
      for (std::int64_t at = 0; at < block_bytes; at += 64)
        _mm_prefetch(reinterpret_cast<const char*>(block + block_bytes + at), _MM_HINT_T0);
    if constexpr (Q4K) {
      decode_k4_row<Type>(block, n, p);
    } else {
      decode_q6_k_row(block, n, p);
    }
  }
}

// The panel against token block tb (block_acc: [row][token], loaded before and
// stored after); c: scratch for three C tiles.
template <bool Q4K>
HELIX_AMX HELIX_OWN_CODE void multiply_superblock(const KPanel& p, const BlockActivations& a, std::int64_t sb,
                                                  std::int64_t tb, std::int32_t* c, float* block_acc) {
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (Q4K) _tile_zero(2);
  const std::byte* b = a.b_tiles + (tb * a.blocks + sb * (kSuperblockValues / 32)) * a.block_bytes;
  for (int j = 0; j < 4; ++j) {  // values 64j..: two 32-value blocks of B, 16 tile rows
    _tile_loadd(6, b + 2 * j * a.block_bytes, 64);
    _tile_loadd(4, &p.hi[0][64 * j], kPanelBytes);
    _tile_loadd(5, &p.lo[0][64 * j], kPanelBytes);
    if constexpr (Q4K) {
      _tile_loadd(7, &p.min[0][64 * j], kPanelBytes);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 5, 6);
      _tile_dpbusd(2, 7, 6);
    } else {
      _tile_dpbssd(0, 4, 6);
      _tile_dpbusd(1, 5, 6);
    }
  }
  constexpr int tile_ints = kTileRows * kMaxTokens;
  _tile_stored(0, c, 64);
  _tile_stored(1, c + tile_ints, 64);
  if constexpr (Q4K) _tile_stored(2, c + 2 * tile_ints, 64);
  const __m512 xs = _mm512_loadu_ps(a.scale + (tb * (a.blocks * 32 / kSuperblockValues) + sb) * kMaxTokens);
  for (int n = 0; n < kTileRows; ++n) {
    const __m512i m_sums = _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(c + n * kMaxTokens), 6),
                                            _mm512_load_si512(c + tile_ints + n * kMaxTokens));
    const __m512i n_sums = Q4K ? _mm512_load_si512(c + 2 * tile_ints + n * kMaxTokens) : _mm512_setzero_si512();
    float* acc = block_acc + n * kMaxTokens;
    _mm512_store_ps(acc, superblock_tokens(_mm512_load_ps(acc), m_sums, n_sums, p.d[n], p.dmin[n], xs, Q4K));
  }
}

template <DType Type>
HELIX_AMX void gemm_rows(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                         std::int64_t row_end) {
  auto* p = new (thread_scratch(ScratchSlot::WeightTile, sizeof(KPanel) / 4 + 1)) KPanel;
  float* acc = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(held_floats(a) + 3 * kTileRows * kMaxTokens));
  auto* c = reinterpret_cast<std::int32_t*>(acc + held_floats(a));
  const std::int64_t superblocks = w.cols / kSuperblockValues;
  configure_tiles(64, 16, kMaxTokens);  // every tile 16 rows x 64 bytes
  for_each_row_group(a, acc, row_begin, row_end, y, w.rows, [&](std::int64_t r0, int rows_here, float* group_acc) {
    for (std::int64_t sb = 0; sb < superblocks; ++sb) {
      decode_superblock<Type>(w, r0, rows_here, sb, *p);
      for (std::int64_t tb = 0; tb < a.token_blocks; ++tb)
        multiply_superblock<k_quant_has_mins(Type)>(*p, a, sb, tb, c, group_acc + tb * kTileRows * kMaxTokens);
    }
  });
  _tile_release();
}

}  // namespace

void gemm_rows_amx_k_quant(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                           std::int64_t row_end) {
  switch (w.dtype) {
    case DType::Q4_K: gemm_rows<DType::Q4_K>(w, a, y, row_begin, row_end); break;
    case DType::Q5_K: gemm_rows<DType::Q5_K>(w, a, y, row_begin, row_end); break;
    default: gemm_rows<DType::Q6_K>(w, a, y, row_begin, row_end); break;
  }
}

}  // namespace helix::kernels_detail

#else  // not x86-64: active_kernel_isa() never picks Amx here

namespace helix::kernels_detail {

void gemm_rows_amx_k_quant(const WeightMatrix&, const BlockActivations&, float*, std::int64_t, std::int64_t) {
  fail("matmul: the AMX kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
