// x quantized to int8 for the int8 block types' one arithmetic (int8_block_arithmetic.h),
// as the VNNI kernels read it: Q8_0's per 32 values (Int8Activations), the K-quants'
// per 256 (SuperblockActivations). AVX-512 only; no AMX needed.
//
// Every per-block array is compact (one entry per block, a token's entries
// contiguous): a prefill matmul reads all of them once per 1024 weight values, and
// at 512 tokens entries spread one per lane (the first layout, for kernels long
// gone) filled L2 three times over with what the quants take once.
#include "helix/kernels/matmul_kernels.h"

#include <algorithm>
#include <cstddef>

#include "helix/core/error.h"
#include "helix/kernels/scratch.h"

#if defined(__x86_64__)
// See matmul_avx512.cpp: GCC 12's AVX-512 headers trip -Wuninitialized on their
// own undefined-vector helpers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "helix/kernels/int8_block_arithmetic.h"

namespace helix::kernels_detail {
namespace {

constexpr std::int64_t kBlockValues = 32;

// n entries of 4 bytes rounded up to whole cache lines (each array starts on one).
std::size_t line_floats(std::int64_t n) { return static_cast<std::size_t>((n + 15) / 16 * 16); }

// `count` values (a multiple of 16) scaled by `inverse` and rounded to nearest
// (even), the default MXCSR mode, into q; the integer sum of each 16 into sum16.
// Saturation only guards rounding at +-127.
HELIX_AVX512 inline void round_values(const float* x, std::int64_t count, __m512 inverse, std::int8_t* q,
                                      std::int32_t* sum16) {
  for (std::int64_t i = 0; i < count; i += 16) {
    const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), inverse));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtsepi32_epi8(v));
    sum16[i / 16] = _mm512_reduce_add_epi32(v);
  }
}

// max |x| over `count` values (a multiple of 16).
HELIX_AVX512 inline float largest_magnitude(const float* x, std::int64_t count) {
  __m512 amax = _mm512_setzero_ps();
  for (std::int64_t i = 0; i < count; i += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  return _mm512_reduce_max_ps(amax);
}

// One run of `count` values with one scale s = max|x| / 127: its quants, s, and the
// integer sums per 16.
HELIX_AVX512 inline float quantize_run(const float* x, std::int64_t count, std::int8_t* q, std::int32_t* sum16) {
  const float max = largest_magnitude(x, count);
  round_values(x, count, _mm512_set1_ps(max > 0.0f ? 127.0f / max : 0.0f), q, sum16);
  return max / 127.0f;
}

HELIX_AVX512 Int8Activations quantize_blocks(const float* x, std::int64_t m, std::int64_t cols) {
  const std::int64_t blocks = m * cols / kBlockValues;
  float* storage = thread_scratch(ScratchSlot::Activations, line_floats(m * cols / 4) + 2 * line_floats(blocks));
  auto* q = reinterpret_cast<std::int8_t*>(storage);
  float* scale = storage + line_floats(m * cols / 4);
  auto* bias = reinterpret_cast<std::int32_t*>(scale + line_floats(blocks));
  for (std::int64_t b = 0; b < blocks; ++b) {
    std::int32_t sum16[2];
    scale[b] = quantize_run(x + b * kBlockValues, kBlockValues, q + b * kBlockValues, sum16);
    bias[b] = -128 * (sum16[0] + sum16[1]);
  }
  Int8Activations a;
  a.cols = cols;
  a.q = q;
  a.scale = scale;
  a.bias = bias;
  return a;
}

HELIX_AVX512 SuperblockActivations quantize_superblocks(const float* x, std::int64_t m, std::int64_t cols) {
  const std::int64_t superblocks = m * cols / kSuperblockValues;
  float* storage = thread_scratch(ScratchSlot::Activations,
                                  line_floats(m * cols / 4) + line_floats(superblocks) + line_floats(m * cols / 16));
  auto* q = reinterpret_cast<std::int8_t*>(storage);
  float* scale = storage + line_floats(m * cols / 4);
  auto* sum16 = reinterpret_cast<std::int32_t*>(scale + line_floats(superblocks));
  for (std::int64_t sb = 0; sb < superblocks; ++sb) {
    const std::int64_t at = sb * kSuperblockValues;
    scale[sb] = quantize_run(x + at, kSuperblockValues, q + at, sum16 + at / 16);
  }
  SuperblockActivations a;
  a.cols = cols;
  a.q = q;
  a.scale = scale;
  a.sum16 = sum16;
  return a;
}

}  // namespace

BlockActivations prepare_activations_vnni(const WeightMatrix& w, const float* x, std::int64_t m) {
  BlockActivations a;
  a.m = m;
  a.tokens = std::min<std::int64_t>(m, kMaxTokens);
  a.token_blocks = (m + a.tokens - 1) / a.tokens;
  a.blocks = (w.cols + kBlockValues - 1) / kBlockValues;
  if (is_k_quant(w.dtype)) {
    a.superblocks = quantize_superblocks(x, m, w.cols);
  } else {
    a.int8 = quantize_blocks(x, m, w.cols);
  }
  return a;
}

namespace {

// m tokens' arrays of `words` 4-byte words each, regrouped per vnni_token_run.
template <typename Word>
const Word* interleave(const Word* from, std::int64_t m, std::int64_t words, Word* to) {
  for (std::int64_t t0 = 0; t0 < m;) {
    const int run = vnni_token_run(m, t0);
    const Word* src = from + t0 * words;
    Word* dst = to + t0 * words;
    for (std::int64_t e = 0; e < words; ++e)
      for (int i = 0; i < run; ++i) dst[e * run + i] = src[i * words + e];
    t0 += run;
  }
  return to;
}

// Two int16 values in one 32-bit word (lo in the low half), as vpdpwssd reads them.
std::int32_t int16_pair(std::int32_t lo, std::int32_t hi) {
  return static_cast<std::int32_t>((static_cast<std::uint32_t>(lo) & 0xFFFFu) | (static_cast<std::uint32_t>(hi) << 16));
}

// SuperblockActivations::pair_sums of m tokens (not regrouped): 8 words per superblock.
void pair_sums(const SuperblockActivations& a, std::int64_t m, bool sums_of_32, std::int32_t* out) {
  const std::int64_t superblocks = m * a.cols / kSuperblockValues;
  for (std::int64_t sb = 0; sb < superblocks; ++sb) {
    const std::int32_t* s16 = a.sum16 + sb * 16;
    std::int32_t* words = out + sb * 8;
    for (int j = 0; j < 8; ++j) {
      if (!sums_of_32) {
        words[j] = int16_pair(s16[2 * j], s16[2 * j + 1]);
      } else {
        words[j] = j < 4 ? int16_pair(s16[4 * j] + s16[4 * j + 1], s16[4 * j + 2] + s16[4 * j + 3]) : 0;
      }
    }
  }
}

}  // namespace

BlockActivations interleave_token_runs(const BlockActivations& a, DType dtype) {
  BlockActivations r = a;
  const bool k_quant = a.superblocks.q != nullptr;
  const std::int64_t cols = k_quant ? a.superblocks.cols : a.int8.cols, m = a.m;
  const std::int64_t superblocks = cols / kSuperblockValues;
  // Words per token past the quants: scale and the pair sums, or scale and bias.
  const std::int64_t small = k_quant ? superblocks * 9 : 2 * (cols / kBlockValues);
  float* storage = thread_scratch(ScratchSlot::ActivationTiles,
                                  line_floats(m * cols / 4) + line_floats(m * small) + (k_quant ? line_floats(m * superblocks * 8) : 0));
  auto* q = reinterpret_cast<std::int32_t*>(storage);
  float* rest = storage + line_floats(m * cols / 4);
  const auto* q_words = reinterpret_cast<const std::int32_t*>(k_quant ? a.superblocks.q : a.int8.q);
  interleave(q_words, m, cols / 4, q);
  if (k_quant) {
    // The pair sums are made in the tail of the scratch, then regrouped after the scales.
    auto* pairs = reinterpret_cast<std::int32_t*>(rest + line_floats(m * small));
    pair_sums(a.superblocks, m, dtype == DType::Q4_K, pairs);
    r.superblocks.q = reinterpret_cast<const std::int8_t*>(q);
    r.superblocks.scale = interleave(a.superblocks.scale, m, superblocks, rest);
    r.superblocks.pair_sums = interleave(static_cast<const std::int32_t*>(pairs), m, superblocks * 8,
                                         reinterpret_cast<std::int32_t*>(rest + m * superblocks));
    r.superblocks.sum16 = nullptr;
  } else {
    r.int8.q = reinterpret_cast<const std::int8_t*>(q);
    r.int8.scale = interleave(a.int8.scale, m, cols / kBlockValues, rest);
    r.int8.bias = interleave(a.int8.bias, m, cols / kBlockValues, reinterpret_cast<std::int32_t*>(rest + m * (cols / kBlockValues)));
  }
  return r;
}

BlockActivations token_slice(const BlockActivations& a, std::int64_t t0, std::int64_t count) {
  BlockActivations s = a;
  s.m = count;
  s.tokens = std::min<std::int64_t>(count, kMaxTokens);
  s.token_blocks = (count + s.tokens - 1) / s.tokens;
  s.b_tiles = nullptr;
  s.scale = nullptr;
  if (a.int8.q != nullptr) {
    const std::int64_t cols = a.int8.cols;
    s.int8.q = a.int8.q + t0 * cols;
    s.int8.scale = a.int8.scale + t0 * cols / kBlockValues;
    s.int8.bias = a.int8.bias + t0 * cols / kBlockValues;
  }
  if (a.superblocks.q != nullptr) {
    const std::int64_t cols = a.superblocks.cols;
    s.superblocks.q = a.superblocks.q + t0 * cols;
    s.superblocks.scale = a.superblocks.scale + t0 * cols / kSuperblockValues;
    s.superblocks.sum16 = a.superblocks.sum16 + t0 * cols / 16;
  }
  return s;
}

}  // namespace helix::kernels_detail

#else  // not x86-64: active_kernel_isa() never picks Avx512 here

namespace helix::kernels_detail {

BlockActivations prepare_activations_vnni(const WeightMatrix&, const float*, std::int64_t) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}
BlockActivations interleave_token_runs(const BlockActivations&, DType) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}
BlockActivations token_slice(const BlockActivations&, std::int64_t, std::int64_t) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
