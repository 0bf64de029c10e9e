// AVX2 + FMA + F16C matmul kernels. Every function that uses the intrinsics carries
// the target attribute (no per-file -m flags: those would leak AVX2 into inline
// std:: code shared with the rest of the program). Called only after
// active_kernel_isa() said Avx2.
//
// Streaming tile: R weight rows x M activation rows (M <= 4; larger m runs in chunks
// of 4 over a block of 24 weight rows, which then come from cache). Per 8 columns the
// R rows are loaded and widened to f32 once (BF16: zero-extend + shift by 16; F16:
// vcvtph2ps; Q8_0: sign-extend + convert, the block scale applied once per block)
// and fed to R*M independent FMA accumulators. At m = 1 this keeps up with memory
// for BF16/F16/F32; Q8_0 (34 bytes per 32 weights, ~9 vector uops per block and
// row) is close to compute-bound on AVX2.
#include "helix/kernels/matmul_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "helix/core/error.h"
#include "helix/kernels/scratch.h"
#include "helix/kernels/vector_ops_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HELIX_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace helix::kernels_detail {
namespace {

// Activation rows per tile: m is processed in chunks of at most this many.
constexpr int kMaxTileM = 4;
// Weight rows per block: all m-chunks run over one block before the next, so a block
// is read from memory once and from cache for the other chunks. A multiple of every
// tile_rows().
constexpr std::int64_t kRowBlock = 24;

// Weight rows per tile for M activation rows: 8-12 independent accumulators (the
// FMA latency times its throughput is 8), few enough for the 16 ymm registers.
// Measured in cache at m = 4..16: 3 x 4 beats 2 x 4 by 15-20% for BF16 and F32.
constexpr int tile_rows(int m) { return m == 1 ? 8 : m == 2 ? 4 : 3; }

template <DType D>
constexpr std::size_t kElementBytes = D == DType::F32 ? 4 : 2;

HELIX_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline std::uint16_t load_u16(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// 8 consecutive weights at p, widened to f32.
template <DType D>
HELIX_AVX2 inline __m256 load8(const std::byte* p) {
  if constexpr (D == DType::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  } else if constexpr (D == DType::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else {
    __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
}

// One weight (for the column tail).
template <DType D>
HELIX_AVX2 inline float load1(const std::byte* p) {
  if constexpr (D == DType::F32) {
    float v;
    std::memcpy(&v, p, sizeof v);
    return v;
  } else if constexpr (D == DType::F16) {
    return _cvtsh_ss(load_u16(p));
  } else {
    std::uint32_t bits = static_cast<std::uint32_t>(load_u16(p)) << 16;
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
}

// One tile's job: weight rows from w0 (row_bytes apart) against activation rows from
// x (cols apart), over columns [k_begin, k_end); results to y (ldy apart), added to
// what is there when `accumulate` (a later column chunk), else stored.
struct TileArgs {
  const std::byte* w0;
  std::size_t row_bytes;
  std::int64_t cols;
  const float* x;
  float* y;
  std::int64_t ldy;
  std::int64_t k_begin, k_end;  // multiples of 8 (of 32 for Q8_0), or k_end == cols
  bool accumulate;
  const float* f16_to_f32;  // Q8_0: the scale table (f16_table())
};

// f16 -> f32 for every bit pattern (256 KiB; a layer's scales touch a few lines of
// it). With it a Q8_0 block scale is two loads and a broadcast from memory instead of
// vcvtph2ps + vbroadcastss, two shuffle-port uops per block and row next to the four
// sign extensions there already (8% faster in cache).
const float* f16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = f16_to_f32(static_cast<std::uint16_t>(i));
    return t;
  }();
  return table.data();
}

template <int R, int M>
HELIX_AVX2 inline void zero(__m256 (&acc)[R][M]) {
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) acc[r][i] = _mm256_setzero_ps();
}

// y[i * ldy + r] (+)= row r . x row i over the columns, for r < R, i < M.
template <DType D, int R, int M>
HELIX_AVX2 void dense_tile(const TileArgs& t) {
  constexpr std::size_t E = kElementBytes<D>;
  __m256 acc[R][M];
  zero(acc);
  const std::int64_t cols8 = t.cols & ~std::int64_t{7};
  const std::int64_t k_vec_end = std::min(t.k_end, cols8);
  for (std::int64_t k = t.k_begin; k < k_vec_end; k += 8) {
    __m256 xv[M];
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) xv[i] = _mm256_loadu_ps(t.x + i * t.cols + k);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      __m256 wv = load8<D>(t.w0 + r * t.row_bytes + static_cast<std::size_t>(k) * E);
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) acc[r][i] = _mm256_fmadd_ps(wv, xv[i], acc[r][i]);
    }
  }
  const std::int64_t tail_begin = t.k_end == t.cols ? std::max(cols8, t.k_begin) : t.k_end;
  for (int r = 0; r < R; ++r) {
    const std::byte* row = t.w0 + r * t.row_bytes;
    for (int i = 0; i < M; ++i) {
      float sum = hsum(acc[r][i]);
      for (std::int64_t k = tail_begin; k < t.k_end; ++k)
        sum += load1<D>(row + static_cast<std::size_t>(k) * E) * t.x[i * t.cols + k];
      float& out = t.y[i * t.ldy + r];
      out = t.accumulate ? out + sum : sum;
    }
  }
}

// 8 quants at p as f32 (not yet scaled).
HELIX_AVX2 inline __m256 load8_q8(const std::int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// Q8_0 version of dense_tile. Per block and row, the 32 products are summed
// unscaled, then scaled once into the accumulator.
template <int R, int M>
HELIX_AVX2 void q8_tile(const TileArgs& t) {
  __m256 acc[R][M];
  zero(acc);
  for (std::int64_t b = t.k_begin / kQ8BlockElements; b < t.k_end / kQ8BlockElements; ++b) {
    const float* xb = t.x + b * kQ8BlockElements;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const std::byte* block = t.w0 + r * t.row_bytes + static_cast<std::size_t>(b) * sizeof(BlockQ8_0);
      const auto* qs = reinterpret_cast<const std::int8_t*>(block + offsetof(BlockQ8_0, qs));
      __m256 scale = _mm256_broadcast_ss(t.f16_to_f32 + load_u16(block));
      __m256 w = load8_q8(qs);
      __m256 part[M];
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) part[i] = _mm256_mul_ps(w, _mm256_loadu_ps(xb + i * t.cols));
#pragma GCC unroll 4
      for (int s = 1; s < 4; ++s) {
        w = load8_q8(qs + 8 * s);
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i) part[i] = _mm256_fmadd_ps(w, _mm256_loadu_ps(xb + i * t.cols + 8 * s), part[i]);
      }
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) acc[r][i] = _mm256_fmadd_ps(part[i], scale, acc[r][i]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < M; ++i) {
      float& out = t.y[i * t.ldy + r];
      out = t.accumulate ? out + hsum(acc[r][i]) : hsum(acc[r][i]);
    }
}

template <DType D, int R, int M>
HELIX_AVX2 void tile(const TileArgs& t) {
  if constexpr (D == DType::Q8_0) {
    q8_tile<R, M>(t);
  } else {
    dense_tile<D, R, M>(t);
  }
}

// Rows [row_begin, row_end) against M activation rows; `t` has all but w0 and y set
// (x and y already at the first activation row).
template <DType D, int M>
HELIX_AVX2 void rows_against(const WeightMatrix& w, TileArgs t, float* y, std::int64_t row_begin,
                             std::int64_t row_end) {
  constexpr int R = tile_rows(M);
  std::int64_t r = row_begin;
  for (; r + R <= row_end; r += R) {
    t.w0 = w.row(r);
    t.y = y + r;
    tile<D, R, M>(t);
  }
  for (; r < row_end; ++r) {
    t.w0 = w.row(r);
    t.y = y + r;
    tile<D, 1, M>(t);
  }
}

// For m > kMaxTileM the columns are split into chunks of this many, so that the
// activation rows a tile reads stay in L1 across the tiles of a row block.
constexpr std::int64_t kColumnChunk = 512;

template <DType D>
HELIX_AVX2 void gemv_rows_typed(const WeightMatrix& w, const float* x, std::int64_t m, float* y,
                                std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t chunk = m > kMaxTileM ? kColumnChunk : w.cols;
  const float* table = D == DType::Q8_0 ? f16_table() : nullptr;
  for (std::int64_t block = row_begin; block < row_end; block += kRowBlock) {
    std::int64_t block_end = std::min(row_end, block + kRowBlock);
    for (std::int64_t k = 0; k < w.cols; k += chunk) {
      for (std::int64_t i = 0; i < m; i += kMaxTileM) {
        TileArgs t{nullptr, w.row_bytes, w.cols, x + i * w.cols, nullptr, w.rows,
                   k, std::min(w.cols, k + chunk), k > 0, table};
        float* yi = y + i * w.rows;
        switch (std::min<std::int64_t>(kMaxTileM, m - i)) {
          case 1: rows_against<D, 1>(w, t, yi, block, block_end); break;
          case 2: rows_against<D, 2>(w, t, yi, block, block_end); break;
          case 3: rows_against<D, 3>(w, t, yi, block, block_end); break;
          default: rows_against<D, 4>(w, t, yi, block, block_end); break;
        }
      }
    }
  }
}

template <DType D>
HELIX_AVX2 void convert_dense(const std::byte* src, std::int64_t n, float* out) {
  constexpr std::size_t E = kElementBytes<D>;
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(out + k, load8<D>(src + static_cast<std::size_t>(k) * E));
  for (; k < n; ++k) out[k] = load1<D>(src + static_cast<std::size_t>(k) * E);
}

HELIX_AVX2 void convert_q8(const std::byte* src, std::int64_t blocks, float* out) {
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::byte* block = src + static_cast<std::size_t>(b) * sizeof(BlockQ8_0);
    const auto* qs = reinterpret_cast<const std::int8_t*>(block + offsetof(BlockQ8_0, qs));
    __m256 scale = _mm256_set1_ps(_cvtsh_ss(load_u16(block)));
    float* o = out + b * kQ8BlockElements;
    for (int s = 0; s < 4; ++s) _mm256_storeu_ps(o + 8 * s, _mm256_mul_ps(load8_q8(qs + 8 * s), scale));
  }
}

// Q4_K straight from its blocks (block_quants.h): per 32 values the nibbles are
// widened to f32 once and dotted with every activation row; a sub-block's scale
// multiplies its partial sum, and its min is applied once through the sum of
// the activations over the sub-block (computed once per call).
HELIX_AVX2 void q4k_sub_sums(const float* x, std::int64_t m, std::int64_t cols, float* sums) {
  const std::int64_t subs = cols / 32;
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t s = 0; s < subs; ++s) {
      const float* p = x + i * cols + 32 * s;
      __m256 a = _mm256_add_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
      a = _mm256_add_ps(a, _mm256_add_ps(_mm256_loadu_ps(p + 16), _mm256_loadu_ps(p + 24)));
      sums[i * subs + s] = hsum(a);
    }
  }
}

// Sub-block j's 6-bit scale and min of a Q4_K block (the packing of block_quants.cpp).
inline void q4k_scale_min(int j, const std::uint8_t* q, float& scale, float& min) {
  if (j < 4) {
    scale = static_cast<float>(q[j] & 63);
    min = static_cast<float>(q[j + 4] & 63);
  } else {
    scale = static_cast<float>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    min = static_cast<float>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

HELIX_AVX2 inline __m256 widen_u8(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)); }

HELIX_AVX2 void gemv_rows_q4k(const WeightMatrix& w, const float* x, std::int64_t m, float* y,
                              std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = w.cols, blocks = cols / 256, subs = cols / 32;
  float* sums = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(m * subs));
  q4k_sub_sums(x, m, cols, sums);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    for (std::int64_t i0 = 0; i0 < m; i0 += kMaxTileM) {
      const int mc = static_cast<int>(std::min<std::int64_t>(kMaxTileM, m - i0));
      __m256 acc[kMaxTileM];
      float mins[kMaxTileM] = {};
      for (int i = 0; i < mc; ++i) acc[i] = _mm256_setzero_ps();
      for (std::int64_t b = 0; b < blocks; ++b) {
        const std::byte* block = w.row(r) + static_cast<std::size_t>(b) * 144;
        const float d = _cvtsh_ss(load_u16(block)), dmin = _cvtsh_ss(load_u16(block + 2));
        const auto* scales = reinterpret_cast<const std::uint8_t*>(block + 4);
        const auto* qs = reinterpret_cast<const std::uint8_t*>(block + 16);
        for (int c = 0; c < 4; ++c) {
          float sc0, m0, sc1, m1;
          q4k_scale_min(2 * c, scales, sc0, m0);
          q4k_scale_min(2 * c + 1, scales, sc1, m1);
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
          const __m256i lo = _mm256_and_si256(q, low_nibbles);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_nibbles);
          const __m128i lo0 = _mm256_castsi256_si128(lo), lo1 = _mm256_extracti128_si256(lo, 1);
          const __m128i hi0 = _mm256_castsi256_si128(hi), hi1 = _mm256_extracti128_si256(hi, 1);
          const __m256 wl[4] = {widen_u8(lo0), widen_u8(_mm_srli_si128(lo0, 8)), widen_u8(lo1),
                                widen_u8(_mm_srli_si128(lo1, 8))};
          const __m256 wh[4] = {widen_u8(hi0), widen_u8(_mm_srli_si128(hi0, 8)), widen_u8(hi1),
                                widen_u8(_mm_srli_si128(hi1, 8))};
          const __m256 s0 = _mm256_set1_ps(d * sc0), s1 = _mm256_set1_ps(d * sc1);
          for (int i = 0; i < mc; ++i) {
            const float* xi = x + (i0 + i) * cols + 256 * b + 64 * c;
            __m256 p0 = _mm256_mul_ps(wl[0], _mm256_loadu_ps(xi));
            __m256 p1 = _mm256_mul_ps(wh[0], _mm256_loadu_ps(xi + 32));
            for (int k = 1; k < 4; ++k) {
              p0 = _mm256_fmadd_ps(wl[k], _mm256_loadu_ps(xi + 8 * k), p0);
              p1 = _mm256_fmadd_ps(wh[k], _mm256_loadu_ps(xi + 32 + 8 * k), p1);
            }
            acc[i] = _mm256_fmadd_ps(s0, p0, acc[i]);
            acc[i] = _mm256_fmadd_ps(s1, p1, acc[i]);
            const float* sub = sums + (i0 + i) * subs + 8 * b + 2 * c;
            mins[i] += dmin * (m0 * sub[0] + m1 * sub[1]);
          }
        }
      }
      for (int i = 0; i < mc; ++i) y[(i0 + i) * w.rows + r] = hsum(acc[i]) - mins[i];
    }
  }
}

HELIX_AVX2 inline __m256 widen_s8(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)); }

// Bits shift..shift+1 of each byte of qh, moved to bits 4..5 (a quant's top two bits).
template <int shift>
HELIX_AVX2 inline __m256i q6k_high(__m256i h, __m256i pair) {
  return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, shift), pair), 4);
}

// Q6_K straight from its blocks: per 128 values, four groups of 32 six-bit
// quants are assembled from ql's nibbles and qh's bit pairs, made signed
// (q - 32), widened once and dotted with every activation row; each 16 values
// have their own int8 scale.
HELIX_AVX2 void gemv_rows_q6k(const WeightMatrix& w, const float* x, std::int64_t m, float* y,
                              std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = w.cols, blocks = cols / 256;
  const __m256i nibble = _mm256_set1_epi8(0x0F), pair = _mm256_set1_epi8(0x03), offset = _mm256_set1_epi8(32);
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    for (std::int64_t i0 = 0; i0 < m; i0 += kMaxTileM) {
      const int mc = static_cast<int>(std::min<std::int64_t>(kMaxTileM, m - i0));
      __m256 acc[kMaxTileM];
      for (int i = 0; i < mc; ++i) acc[i] = _mm256_setzero_ps();
      for (std::int64_t b = 0; b < blocks; ++b) {
        const std::byte* block = w.row(r) + static_cast<std::size_t>(b) * 210;
        const auto* ql = reinterpret_cast<const std::uint8_t*>(block);
        const auto* qh = reinterpret_cast<const std::uint8_t*>(block + 128);
        const auto* sc = reinterpret_cast<const std::int8_t*>(block + 192);
        const float d = _cvtsh_ss(load_u16(block + 208));
        for (int n = 0; n < 2; ++n) {
          const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * n));
          const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * n + 32));
          const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh + 32 * n));
          const __m256i groups[4] = {
              _mm256_or_si256(_mm256_and_si256(l0, nibble), q6k_high<0>(h, pair)),
              _mm256_or_si256(_mm256_and_si256(l1, nibble), q6k_high<2>(h, pair)),
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), nibble), q6k_high<4>(h, pair)),
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), nibble), q6k_high<6>(h, pair)),
          };
          for (int k = 0; k < 4; ++k) {
            const __m256i q = _mm256_sub_epi8(groups[k], offset);
            const __m128i q0 = _mm256_castsi256_si128(q), q1 = _mm256_extracti128_si256(q, 1);
            const __m256 wq[4] = {widen_s8(q0), widen_s8(_mm_srli_si128(q0, 8)), widen_s8(q1),
                                  widen_s8(_mm_srli_si128(q1, 8))};
            const __m256 s0 = _mm256_set1_ps(d * sc[8 * n + 2 * k]), s1 = _mm256_set1_ps(d * sc[8 * n + 2 * k + 1]);
            for (int i = 0; i < mc; ++i) {
              const float* xi = x + (i0 + i) * cols + 256 * b + 128 * n + 32 * k;
              const __m256 p0 = _mm256_fmadd_ps(wq[1], _mm256_loadu_ps(xi + 8), _mm256_mul_ps(wq[0], _mm256_loadu_ps(xi)));
              const __m256 p1 =
                  _mm256_fmadd_ps(wq[3], _mm256_loadu_ps(xi + 24), _mm256_mul_ps(wq[2], _mm256_loadu_ps(xi + 16)));
              acc[i] = _mm256_fmadd_ps(s0, p0, acc[i]);
              acc[i] = _mm256_fmadd_ps(s1, p1, acc[i]);
            }
          }
        }
      }
      for (int i = 0; i < mc; ++i) y[(i0 + i) * w.rows + r] = hsum(acc[i]);
    }
  }
}

// The other block types (Q4_0, Q4_1, Q5_0, Q5_1, Q5_K): each weight row is decoded from its
// blocks into a per-thread f32 row, then dotted against every activation row.
// Correct and memory-light (the matrix stays in its blocks), but not yet at
// llama.cpp's speed: its kernels dot the blocks against quantized activations.
HELIX_AVX2 void gemv_rows_decoded(const WeightMatrix& w, const float* x, std::int64_t m, float* y,
                                  std::int64_t row_begin, std::int64_t row_end) {
  float* row = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(w.cols));
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    convert_to_f32(w.dtype, w.row(r), w.cols, row);
    for (std::int64_t i = 0; i < m; ++i) y[i * w.rows + r] = dot_avx2(row, x + i * w.cols, w.cols);
  }
}

}  // namespace

HELIX_AVX2 void gemv_rows_avx2(const WeightMatrix& w, const float* x, std::int64_t m, float* y,
                               std::int64_t row_begin, std::int64_t row_end) {
  switch (w.dtype) {
    case DType::F32: gemv_rows_typed<DType::F32>(w, x, m, y, row_begin, row_end); return;
    case DType::F16: gemv_rows_typed<DType::F16>(w, x, m, y, row_begin, row_end); return;
    case DType::BF16: gemv_rows_typed<DType::BF16>(w, x, m, y, row_begin, row_end); return;
    case DType::Q8_0: gemv_rows_typed<DType::Q8_0>(w, x, m, y, row_begin, row_end); return;
    case DType::Q4_K: gemv_rows_q4k(w, x, m, y, row_begin, row_end); return;
    case DType::Q6_K: gemv_rows_q6k(w, x, m, y, row_begin, row_end); return;
    default: gemv_rows_decoded(w, x, m, y, row_begin, row_end); return;
  }
}

HELIX_AVX2 void convert_rows_avx2(const WeightMatrix& w, std::int64_t row_begin, std::int64_t count, float* out) {
  const std::byte* src = w.row(row_begin);
  std::int64_t n = count * w.cols;
  switch (w.dtype) {
    case DType::F32: convert_dense<DType::F32>(src, n, out); return;
    case DType::F16: convert_dense<DType::F16>(src, n, out); return;
    case DType::BF16: convert_dense<DType::BF16>(src, n, out); return;
    case DType::Q8_0: convert_q8(src, n / kQ8BlockElements, out); return;
    default: convert_to_f32(w.dtype, src, n, out); return;
  }
}

}  // namespace helix::kernels_detail

#else  // not x86: active_kernel_isa() never picks Avx2 here

namespace helix::kernels_detail {

void gemv_rows_avx2(const WeightMatrix&, const float*, std::int64_t, float*, std::int64_t, std::int64_t) {
  fail("matmul: the AVX2 kernels are not built for this CPU architecture");
}
void convert_rows_avx2(const WeightMatrix&, std::int64_t, std::int64_t, float*) {
  fail("matmul: the AVX2 kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
