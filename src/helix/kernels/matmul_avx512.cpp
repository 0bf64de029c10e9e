// The avx512 level's kernel for 16-bit float weights (BF16, F16) at every batch size:
// f32 fma on the widened weights and the activations as they are. Every function
// that uses the intrinsics carries the target attribute; called only after
// active_kernel_isa() said Avx512 (or Amx, for F16).
//
// Why f32 fma and not vdpbf16ps: on the Xeon these were measured on, vfmadd231ps
// (16 multiply-adds) issues twice per cycle and vdpbf16ps (32) once every two, so
// fma does twice the work per cycle; it also leaves x unrounded. Widening costs
// two instructions per 16 BF16 weights (one per 16 F16): per use in decode, where
// the reads are the limit, and once per block of rows in larger batches.
//
// One arithmetic at every batch size, so that a row's result never depends on the
// batch it came in (a preempted request recomputed in a prefill keeps its tokens).
// For weight row r and token t, per chunk of kColumnChunk values: 16 lanes, lane l
// summing values 32j + l and then 32j + 16 + l for j = 0, 1, ... with fma; the
// lanes added by _mm512_reduce_add_ps; the chunk sums added in chunk order. Only
// where the widened weights come from changes with the batch.
#include "helix/kernels/matmul_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "helix/core/error.h"
#include "helix/kernels/scratch.h"

#if defined(__x86_64__) || defined(__i386__)
// GCC 12's AVX-512 intrinsics (reduce_add, cvtph_ps, extract) start from
// _mm256_undefined_*(), a self-initialised variable that -Wuninitialized reports
// inside the header; the value is never read. Off for this file only.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "helix/kernels/k_quant_unpack_avx512.h"

namespace helix::kernels_detail {
namespace {

// The columns are split into chunks of this many values: the activations of a
// group of tokens (6 x 4 KiB) stay in L1 while they meet every row of a block.
// Every batch size chunks alike, batch 1 included: the chunk sums are part of the
// arithmetic above.
constexpr std::int64_t kColumnChunk = 1024;
// Weight rows a batch of 3 tokens and more walks at once, chunk by chunk, while
// every group of tokens meets them. Widened once into memory: 192 rows x 1024
// values (768 KiB of f32), in L2; x of all tokens is read again per block (blocks
// of 24 rows: 104 GMAC/s against 135 at 512 tokens, matmul_bench --quick).
constexpr std::int64_t kWideRowBlock = 192;
// Widened per use: one tile of 4 rows (8 KiB of BF16 a chunk, in L1 for the later
// groups of tokens), so the weights stream from memory in the order of the rows and
// while every group computes, not in bursts (blocks of 192 rows, read by the first
// group of 6 tokens: batch-16 decode about 15% slower from memory).
constexpr std::int64_t kMatrixRowBlock = 4;
// Tokens multiplied at once (4 rows x 6 tokens accumulators, 6 activation registers
// and one weight register: 31 of the 32).
constexpr int kMostTokens = 6;
// From this many tokens each chunk of a block is widened once into memory; below,
// the tiles widen per use (from memory, per use was faster at 32 tokens, as fast at
// 64, slower at 128).
constexpr std::int64_t kWidenFromTokens = 64;

// A mask of the first n lanes of 16 (none for n <= 0).
inline __mmask16 first16(std::int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : static_cast<__mmask16>((1u << n) - 1);
}

// 16 16-bit weights widened to f32.
template <DType Type>
HELIX_AVX512 inline __m512 widen(__m256i v) {
  if constexpr (Type == DType::BF16) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
  } else {
    return _mm512_cvtph_ps(v);
  }
}

// Weight rows read from the matrix and widened per use: values k..k+15 of row r,
// all before the row's end (load) or zero from `end` on (load_masked).
template <DType Type, bool FetchAhead = false>
struct MatrixRows {
  const std::byte* first;
  std::size_t row_bytes;
  // With FetchAhead, fetch(r, k) brings the line this many bytes past value k into
  // L2: the same rows' next chunk, which the next call reads.
  std::ptrdiff_t fetch_ahead = 0;
  const std::uint16_t* row(int r) const { return reinterpret_cast<const std::uint16_t*>(first + r * row_bytes); }
  HELIX_AVX512 __m512 load(int r, std::int64_t k) const {
    return widen<Type>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row(r) + k)));
  }
  HELIX_AVX512 __m512 load_masked(int r, std::int64_t k, std::int64_t end) const {
    return widen<Type>(_mm256_maskz_loadu_epi16(first16(end - k), row(r) + k));
  }
  HELIX_AVX512 void fetch(int r, std::int64_t k) const {
    if constexpr (FetchAhead) _mm_prefetch(reinterpret_cast<const char*>(row(r) + k) + fetch_ahead, _MM_HINT_T1);
  }
};

// Values k..k+31 of row r (zero from `end` on) widened: 0-15 in lo, 16-31 in hi, as
// two calls of MatrixRows::load would give them, from one 64-byte load for BF16 (the
// decode tile reads each weight line once); with FetchAhead, the line fetch_ahead
// bytes on into L2 as well (batch-1 BF16 from memory read 25-26 GB/s without,
// 29-31 with, as fast as the vdpbf16ps kernel before it: matmul_bench --from-memory).
template <DType Type, bool FetchAhead>
HELIX_AVX512 inline void load_pair(const MatrixRows<Type, FetchAhead>& w, int r, std::int64_t k, std::int64_t end,
                                   __m512& lo, __m512& hi) {
  const auto* p = reinterpret_cast<const std::uint16_t*>(w.first + r * w.row_bytes) + k;
  if constexpr (FetchAhead) _mm_prefetch(reinterpret_cast<const char*>(p) + w.fetch_ahead, _MM_HINT_T1);
  if constexpr (Type == DType::BF16) {
    const __m512i v = k + 32 <= end ? _mm512_loadu_si512(p)
                                    : _mm512_maskz_loadu_epi16(static_cast<__mmask32>(first16(end - k)) |
                                                                   (static_cast<__mmask32>(first16(end - k - 16)) << 16),
                                                               p);
    lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(v)), 16));
    hi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(v, 1)), 16));
  } else {
    const MatrixRows<Type> plain{w.first, w.row_bytes};  // fetched ahead above
    lo = plain.load_masked(r, k, end);
    hi = plain.load_masked(r, k + 16, end);
  }
}

// Weight rows widened once into a block (`stride` floats apart, zero up to the next
// 16 values; k counted from the block's first column).
struct WideRows {
  const float* first;
  std::int64_t stride;
  HELIX_AVX512 __m512 load(int r, std::int64_t k) const { return _mm512_load_ps(first + r * stride + k); }
  HELIX_AVX512 __m512 load_masked(int r, std::int64_t k, std::int64_t) const { return load(r, k); }
  void fetch(int, std::int64_t) const {}
};

// One 16-value step of float_tile at value k (weights at w_k): the tokens' x, then
// row by row the weights and their fma. The last steps of a chunk mask x and the
// weights from `end` on (w_end counted as w_k is).
template <int R, int T, bool Masked, typename Rows>
HELIX_AVX512 inline void float_step(__m512 (&acc)[R][T], const Rows& w, std::int64_t w_k, std::int64_t w_end,
                                    const float* const (&x)[T], std::int64_t k) {
  __m512 xv[T];
  const __mmask16 lanes = Masked ? first16(w_end - w_k) : __mmask16(0xFFFF);
#pragma GCC unroll 6
  for (int t = 0; t < T; ++t) xv[t] = Masked ? _mm512_maskz_loadu_ps(lanes, x[t] + k) : _mm512_loadu_ps(x[t] + k);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 wv = Masked ? w.load_masked(r, w_k, w_end) : w.load(r, w_k);
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) __asm__("vfmadd231ps %2, %1, %0" : "+v"(acc[r][t]) : "v"(wv), "v"(xv[t]));
  }
}

// Each accumulator's lanes added, into y[t * ldy + r] (added to what is there when
// `accumulate`: a later chunk).
template <int R, int T>
HELIX_AVX512 inline void store_sums(const __m512 (&acc)[R][T], float* y, std::int64_t ldy, bool accumulate) {
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) {
      float& out = y[t * ldy + r];
      const float sum = _mm512_reduce_add_ps(acc[r][t]);
      out = accumulate ? out + sum : sum;
    }
}

// R weight rows against T tokens over values [k_begin, k_end) (one chunk); token t's
// row at x + t * ldx, weights at w.load(r, k - w_offset); results to y[t * ldy + r],
// added to what is there when `accumulate` (a later chunk). 16 values a step, in
// order; the rows' lines fetched ahead once per 32 values. The steps carry no
// bounds checks (a tile of 4 x 6 is 24 fma a step, and the scalar work around them
// had been as many instructions again).
template <int R, int T, typename Rows>
HELIX_AVX512 void float_tile(const Rows& w, std::int64_t w_offset, const float* x, std::int64_t ldx,
                             std::int64_t k_begin, std::int64_t k_end, float* y, std::int64_t ldy, bool accumulate) {
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  const float* xs[T];
#pragma GCC unroll 6
  for (int t = 0; t < T; ++t) xs[t] = x + t * ldx;
  std::int64_t k = k_begin;
  for (; k + 32 <= k_end; k += 32) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) w.fetch(r, k - w_offset);
    float_step<R, T, false>(acc, w, k - w_offset, 0, xs, k);
    float_step<R, T, false>(acc, w, k + 16 - w_offset, 0, xs, k + 16);
  }
  for (; k < k_end; k += 16) float_step<R, T, true>(acc, w, k - w_offset, k_end - w_offset, xs, k);
  store_sums(acc, y, ldy, accumulate);
}

// float_tile for decode: 32 values a step, each weight line loaded once; the same
// fma in the same order (the first 16 values, then the next 16; none for a second
// half past k_end, as float_tile stops there).
template <int R, int T, DType Type, bool FetchAhead>
HELIX_AVX512 void decode_tile(const MatrixRows<Type, FetchAhead>& w, const float* const* x, std::int64_t k_begin,
                              std::int64_t k_end, float* y, std::int64_t ldy, bool accumulate) {
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  for (std::int64_t k = k_begin; k < k_end; k += 32) {
    const bool second = k + 16 < k_end;
    __m512 x_lo[T], x_hi[T];
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) {
      x_lo[t] = _mm512_maskz_loadu_ps(first16(k_end - k), x[t] + k);
      x_hi[t] = _mm512_maskz_loadu_ps(first16(k_end - k - 16), x[t] + k + 16);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      __m512 lo, hi;
      load_pair(w, r, k, k_end, lo, hi);
#pragma GCC unroll 2
      for (int t = 0; t < T; ++t) {
        acc[r][t] = _mm512_fmadd_ps(lo, x_lo[t], acc[r][t]);
        if (second) acc[r][t] = _mm512_fmadd_ps(hi, x_hi[t], acc[r][t]);
      }
    }
  }
  store_sums(acc, y, ldy, accumulate);
}

// Decode (one or two tokens): 8 rows at a time in memory order, each read from the
// matrix once, their chunks in turn.
template <DType Type, int T>
HELIX_AVX512 void decode_rows(const WeightMatrix& w, const FloatActivations& x, float* y, std::int64_t row_begin,
                              std::int64_t row_end) {
  const float* rows[T];
  for (int t = 0; t < T; ++t) rows[t] = x.x + t * x.ldx;
  std::int64_t r = row_begin;
  for (; r < row_end; r += 8) {
    const bool whole = r + 8 <= row_end;
    for (std::int64_t k = 0; k < w.cols; k += kColumnChunk) {
      const std::int64_t k_end = std::min(w.cols, k + kColumnChunk);
      // The next chunk of these rows, or after the last the next 8 rows' first.
      const std::ptrdiff_t ahead = k + kColumnChunk < w.cols ? kColumnChunk * 2
                                                            : 8 * static_cast<std::ptrdiff_t>(w.row_bytes) - k * 2;
      if (whole) {
        decode_tile<8, T>(MatrixRows<Type, true>{w.row(r), w.row_bytes, ahead}, rows, k, k_end, y + r, w.rows, k > 0);
      } else {
        for (std::int64_t q = r; q < row_end; ++q)
          decode_tile<1, T>(MatrixRows<Type>{w.row(q), w.row_bytes}, rows, k, k_end, y + q, w.rows, k > 0);
      }
    }
  }
}

// Rows [r, r + count) of w, values [k, k_end), widened into `out` (rows `stride`
// floats apart, zero up to the next multiple of 16).
template <DType Type>
HELIX_AVX512 void widen_block(const WeightMatrix& w, std::int64_t r, std::int64_t count, std::int64_t k,
                              std::int64_t k_end, float* out, std::int64_t stride) {
  for (std::int64_t n = 0; n < count; ++n) {
    const MatrixRows<Type> row{w.row(r + n), w.row_bytes};
    for (std::int64_t at = k; at < k_end; at += 16) _mm512_store_ps(out + n * stride + (at - k), row.load_masked(0, at, k_end));
  }
}

// A block's rows as float_tile reads them: widened once into memory (from `k0`)...
struct WideBlock {
  const float* first;
  std::int64_t stride, k0;
  WideRows rows(std::int64_t r) const { return {first + r * stride, stride}; }
};
// ... or straight from the matrix, widened per use. Its rows fetch the next
// chunk's lines into L2 as they go (read from memory while the tiles multiply:
// batch-16 BF16 decode of a 4-layer 7B-shaped model, 65-70 tokens/s without, 73.5
// with); after a block's last chunk, the next block's first.
template <DType Type>
struct MatrixBlock {
  const WeightMatrix* w;
  std::int64_t r0, k0 = 0;
  std::ptrdiff_t fetch_ahead;
  MatrixBlock(const WeightMatrix& matrix, std::int64_t first_row, std::int64_t rows, std::int64_t k)
      : w(&matrix), r0(first_row), fetch_ahead(k + kColumnChunk < matrix.cols
                                                  ? kColumnChunk * 2
                                                  : rows * static_cast<std::ptrdiff_t>(matrix.row_bytes) - k * 2) {}
  MatrixRows<Type, true> rows(std::int64_t r) const { return {w->row(r0 + r), w->row_bytes, fetch_ahead}; }
};

// The block's `count` rows against T tokens over values [k, k_end).
template <int T, typename Block>
HELIX_AVX512 void block_tokens(const Block& block, std::int64_t count, std::int64_t k, std::int64_t k_end,
                               const float* x, std::int64_t ldx, float* y, std::int64_t ldy) {
  std::int64_t r = 0;
  for (; r + 4 <= count; r += 4) float_tile<4, T>(block.rows(r), block.k0, x, ldx, k, k_end, y + r, ldy, k > 0);
  for (; r < count; ++r) float_tile<1, T>(block.rows(r), block.k0, x, ldx, k, k_end, y + r, ldy, k > 0);
}

// Every token against the block's rows over [k, k_end), kMostTokens at a time.
template <typename Block>
HELIX_AVX512 void block_all_tokens(const Block& block, std::int64_t count, std::int64_t k, std::int64_t k_end,
                                   const FloatActivations& x, std::int64_t m, float* y, std::int64_t ldy) {
  for (std::int64_t t0 = 0; t0 < m; t0 += kMostTokens) {
    const int tokens = static_cast<int>(std::min<std::int64_t>(kMostTokens, m - t0));
    const float* xt = x.x + t0 * x.ldx;
    float* yt = y + t0 * ldy;
    switch (tokens) {
      case 6: block_tokens<6>(block, count, k, k_end, xt, x.ldx, yt, ldy); break;
      case 5: block_tokens<5>(block, count, k, k_end, xt, x.ldx, yt, ldy); break;
      case 4: block_tokens<4>(block, count, k, k_end, xt, x.ldx, yt, ldy); break;
      case 3: block_tokens<3>(block, count, k, k_end, xt, x.ldx, yt, ldy); break;
      case 2: block_tokens<2>(block, count, k, k_end, xt, x.ldx, yt, ldy); break;
      default: block_tokens<1>(block, count, k, k_end, xt, x.ldx, yt, ldy); break;
    }
  }
}

// Three tokens and more: blocks of rows, chunk by chunk, met by every token. From
// kWidenFromTokens tokens each chunk of a block is widened once into memory; below,
// the tiles widen the weights per use.
template <DType Type>
HELIX_AVX512 void batch_rows(const WeightMatrix& w, const FloatActivations& x, std::int64_t m, float* y,
                             std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t stride = kColumnChunk + 16;
  const bool widen = m >= kWidenFromTokens;
  float* block_memory =
      widen ? thread_scratch(ScratchSlot::WeightTile, static_cast<std::size_t>(kWideRowBlock * stride)) : nullptr;
  const std::int64_t row_block = widen ? kWideRowBlock : kMatrixRowBlock;
  for (std::int64_t r = row_begin; r < row_end; r += row_block) {
    const std::int64_t rows = std::min(row_block, row_end - r);
    for (std::int64_t k = 0; k < w.cols; k += kColumnChunk) {
      const std::int64_t k_end = std::min(w.cols, k + kColumnChunk);
      if (widen) {
        widen_block<Type>(w, r, rows, k, k_end, block_memory, stride);
        block_all_tokens(WideBlock{block_memory, stride, k}, rows, k, k_end, x, m, y + r, w.rows);
      } else {
        block_all_tokens(MatrixBlock<Type>(w, r, row_block, k), rows, k, k_end, x, m, y + r, w.rows);
      }
    }
  }
}

template <DType Type>
HELIX_AVX512 void half_float_rows(const WeightMatrix& w, const FloatActivations& x, std::int64_t m, float* y,
                                  std::int64_t row_begin, std::int64_t row_end) {
  if (m == 1) {
    decode_rows<Type, 1>(w, x, y, row_begin, row_end);
  } else if (m == 2) {
    decode_rows<Type, 2>(w, x, y, row_begin, row_end);
  } else {
    batch_rows<Type>(w, x, m, y, row_begin, row_end);
  }
}

}  // namespace

bool avx512_float_kernel(DType dtype) { return dtype == DType::BF16 || dtype == DType::F16; }

FloatActivations prepare_activations_avx512(const WeightMatrix& w, const float* x, std::int64_t m) {
  if (!avx512_float_kernel(w.dtype) || m < 3) return {x, w.cols};
  const std::int64_t ldx = (w.cols + 15) / 16 * 16 + 16;
  float* copy = thread_scratch(ScratchSlot::Activations, static_cast<std::size_t>(m * ldx));
  for (std::int64_t t = 0; t < m; ++t) std::memcpy(copy + t * ldx, x + t * w.cols, static_cast<std::size_t>(w.cols) * 4);
  return {copy, ldx};
}

HELIX_AVX512 void gemv_rows_avx512(const WeightMatrix& w, const FloatActivations& x, std::int64_t m, float* y,
                                   std::int64_t row_begin, std::int64_t row_end) {
  switch (w.dtype) {
    case DType::BF16: half_float_rows<DType::BF16>(w, x, m, y, row_begin, row_end); return;
    case DType::F16: half_float_rows<DType::F16>(w, x, m, y, row_begin, row_end); return;
    default: gemv_rows_avx2(w, x.x, m, y, row_begin, row_end); return;
  }
}

}  // namespace helix::kernels_detail

#else  // not x86: active_kernel_isa() never picks Avx512 here

namespace helix::kernels_detail {

bool avx512_float_kernel(DType) { return false; }
FloatActivations prepare_activations_avx512(const WeightMatrix& w, const float* x, std::int64_t) { return {x, w.cols}; }
void gemv_rows_avx512(const WeightMatrix&, const FloatActivations&, std::int64_t, float*, std::int64_t, std::int64_t) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
