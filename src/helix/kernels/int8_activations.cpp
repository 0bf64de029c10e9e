// x quantized to int8 for the int8 block types' one arithmetic (int8_block_arithmetic.h),
// as the VNNI kernels read it: the block-scaled types' per 32 values (Int8Activations),
// the K-quants' per 256 (SuperblockActivations). AVX-512 only; no AMX needed.
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
// The clamp to [-127, 127] only matters for NaN (which converts to INT_MIN): the
// VNNI GEMM's int16 bounds count on |q| <= 127.
HELIX_AVX512 inline void round_values(const float* x, std::int64_t count, __m512 inverse, std::int8_t* q,
                                      std::int32_t* sum16) {
  const __m512i lowest = _mm512_set1_epi32(-127), highest = _mm512_set1_epi32(127);
  for (std::int64_t i = 0; i < count; i += 16) {
    const __m512i v = _mm512_min_epi32(
        _mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), inverse)), lowest), highest);
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

// Blocks [b0, b1) of x (32 values each) quantized into q, scale and bias (and, where
// sum is given, x's sum as quantized: scale * sum(q)).
HELIX_AVX512 void quantize_block_range(const float* x, std::int64_t b0, std::int64_t b1, std::int8_t* q, float* scale,
                                       std::int32_t* bias, float* sum) {
  for (std::int64_t b = b0; b < b1; ++b) {
    std::int32_t sum16[2];
    scale[b] = quantize_run(x + b * kBlockValues, kBlockValues, q + b * kBlockValues, sum16);
    bias[b] = -128 * (sum16[0] + sum16[1]);
    if (sum != nullptr) sum[b] = scale[b] * static_cast<float>(sum16[0] + sum16[1]);
  }
}

// with_sums: for the weights with an offset per block (Q4_1, Q5_1).
Int8Activations quantize_blocks(const float* x, std::int64_t m, std::int64_t cols, bool with_sums, ThreadPool& pool) {
  const std::int64_t blocks = m * cols / kBlockValues, per_token = cols / kBlockValues;
  float* storage = thread_scratch(ScratchSlot::Activations, line_floats(m * cols / 4) + 3 * line_floats(blocks));
  auto* q = reinterpret_cast<std::int8_t*>(storage);
  float* scale = storage + line_floats(m * cols / 4);
  auto* bias = reinterpret_cast<std::int32_t*>(scale + line_floats(blocks));
  float* sum = with_sums ? reinterpret_cast<float*>(bias) + line_floats(blocks) : nullptr;
  prepare_in_parallel(pool, m, m * cols, [&](std::int64_t t0, std::int64_t t1) {
    quantize_block_range(x, t0 * per_token, t1 * per_token, q, scale, bias, sum);
  });
  Int8Activations a;
  a.cols = cols;
  a.q = q;
  a.scale = scale;
  a.bias = bias;
  a.sum = sum;
  return a;
}

// Superblocks [sb0, sb1) of x (256 values each) quantized into q, scale and sum16.
HELIX_AVX512 void quantize_superblock_range(const float* x, std::int64_t sb0, std::int64_t sb1, std::int8_t* q,
                                            float* scale, std::int32_t* sum16) {
  for (std::int64_t sb = sb0; sb < sb1; ++sb) {
    const std::int64_t at = sb * kSuperblockValues;
    scale[sb] = quantize_run(x + at, kSuperblockValues, q + at, sum16 + at / 16);
  }
}

SuperblockActivations quantize_superblocks(const float* x, std::int64_t m, std::int64_t cols, ThreadPool& pool) {
  const std::int64_t superblocks = m * cols / kSuperblockValues, per_token = cols / kSuperblockValues;
  float* storage = thread_scratch(ScratchSlot::Activations,
                                  line_floats(m * cols / 4) + line_floats(superblocks) + line_floats(m * cols / 16));
  auto* q = reinterpret_cast<std::int8_t*>(storage);
  float* scale = storage + line_floats(m * cols / 4);
  auto* sum16 = reinterpret_cast<std::int32_t*>(scale + line_floats(superblocks));
  prepare_in_parallel(pool, m, m * cols, [&](std::int64_t t0, std::int64_t t1) {
    quantize_superblock_range(x, t0 * per_token, t1 * per_token, q, scale, sum16);
  });
  SuperblockActivations a;
  a.cols = cols;
  a.q = q;
  a.scale = scale;
  a.sum16 = sum16;
  return a;
}

}  // namespace

BlockActivations prepare_activations_vnni(const WeightMatrix& w, const float* x, std::int64_t m, ThreadPool& pool) {
  BlockActivations a;
  a.m = m;
  a.tokens = std::min<std::int64_t>(m, kMaxTokens);
  a.token_blocks = (m + a.tokens - 1) / a.tokens;
  a.blocks = (w.cols + kBlockValues - 1) / kBlockValues;
  if (is_k_quant(w.dtype)) {
    a.superblocks = quantize_superblocks(x, m, w.cols, pool);
  } else {
    a.int8 = quantize_blocks(x, m, w.cols, has_block_offset(w.dtype), pool);
  }
  return a;
}

namespace {

// The runs of vnni_token_run over m tokens: 12 at a time, then 4, then 1.
std::int64_t token_runs(std::int64_t m) { return m / 12 + m % 12 / 4 + m % 4; }
std::int64_t run_start(std::int64_t m, std::int64_t r) {
  const std::int64_t twelves = m / 12, fours = m % 12 / 4;
  if (r <= twelves) return 12 * r;
  if (r <= twelves + fours) return 12 * twelves + 4 * (r - twelves);
  return 12 * twelves + 4 * fours + (r - twelves - fours);
}

// The `run` tokens from t0 of per-token arrays of `words` 4-byte words each,
// regrouped: word e of token t0 + i to to[t0 * words + e * run + i].
template <typename Word>
void interleave_run(const Word* from, std::int64_t t0, std::int64_t run, std::int64_t words, Word* to) {
  const Word* src = from + t0 * words;
  Word* dst = to + t0 * words;
  for (std::int64_t e = 0; e < words; ++e)
    for (std::int64_t i = 0; i < run; ++i) dst[e * run + i] = src[i * words + e];
}

// Two int16 values in one 32-bit word (lo in the low half), as vpdpwssd reads them.
std::int32_t int16_pair(std::int32_t lo, std::int32_t hi) {
  return static_cast<std::int32_t>((static_cast<std::uint32_t>(lo) & 0xFFFFu) | (static_cast<std::uint32_t>(hi) << 16));
}

// SuperblockActivations::pair_sums (Q4_K, Q5_K) of `tokens` tokens from t0 (not
// regrouped, at out + t0 * 4 words per superblock).
void pair_sums(const SuperblockActivations& a, std::int64_t t0, std::int64_t tokens, std::int32_t* out) {
  const std::int64_t per_token = a.cols / kSuperblockValues;
  for (std::int64_t sb = t0 * per_token; sb < (t0 + tokens) * per_token; ++sb) {
    const std::int32_t* s16 = a.sum16 + sb * 16;
    for (int j = 0; j < 4; ++j)
      out[sb * 4 + j] = int16_pair(s16[4 * j] + s16[4 * j + 1], s16[4 * j + 2] + s16[4 * j + 3]);
  }
}

// SuperblockActivations::part_bias of `tokens` tokens from t0 (not regrouped, at out
// + t0 * parts per token): Q4_K's (per 32) and Q5_K's (per 16) from the sums per 16;
// Q6_K's per 8 from the quants, by vpsadbw (which sums 8 unsigned bytes, so x is
// flipped to x + 128 and 8 * 128 comes off).
HELIX_AVX512 void part_biases(const SuperblockActivations& a, std::int64_t t0, std::int64_t tokens, DType dtype,
                              std::int32_t* out) {
  const std::int64_t first = t0 * a.cols, end = (t0 + tokens) * a.cols;  // values
  const std::int32_t centre = k_quant_centre(dtype);
  const int part = k_quant_part_values(dtype);
  if (part % 16 == 0) {  // whole sums of 16
    const int sums = part / 16;
    for (std::int64_t p = first / part; p < end / part; ++p) {
      std::int32_t sum = 0;
      for (int j = 0; j < sums; ++j) sum += a.sum16[sums * p + j];
      out[p] = -centre * sum;
    }
    return;
  }
  static_assert(k_quant_part_values(DType::Q6_K) == 8, "vpsadbw sums 8 bytes");
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m256i flipped_sum = _mm256_set1_epi32(8 * 128);
  for (std::int64_t i = first; i < end; i += 64) {
    const __m512i sums = _mm512_sad_epu8(_mm512_xor_si512(_mm512_loadu_si512(a.q + i), flip), _mm512_setzero_si512());
    const __m256i sum8 = _mm256_sub_epi32(_mm512_cvtepi64_epi32(sums), flipped_sum);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i / 8), _mm256_mullo_epi32(sum8, _mm256_set1_epi32(-centre)));
  }
}

}  // namespace

BlockActivations interleave_token_runs(const BlockActivations& a, DType dtype, ThreadPool& pool) {
  BlockActivations r = a;
  const bool k_quant = a.superblocks.q != nullptr;
  const std::int64_t cols = k_quant ? a.superblocks.cols : a.int8.cols, m = a.m;
  const std::int64_t superblocks = cols / kSuperblockValues, blocks = cols / kBlockValues;
  // Words per token past the quants: scale and bias per block (block-scaled types);
  // scale, pair sums and part biases per superblock (Q4_K: 1 + 4 + 8; Q5_K: 1 + 4 +
  // 16; Q6_K: 1 + 0 + 32).
  const std::int64_t pairs_per_token = k_quant_has_mins(dtype) ? 4 * superblocks : 0;
  const std::int64_t biases_per_token = k_quant ? cols / k_quant_part_values(dtype) : 0;
  const bool sums = !k_quant && a.int8.sum != nullptr;  // Q4_1, Q5_1
  const std::int64_t small = k_quant ? superblocks + pairs_per_token + biases_per_token : (sums ? 3 : 2) * blocks;
  const std::size_t unregrouped = k_quant ? line_floats(m * (pairs_per_token + biases_per_token)) : 0;
  float* storage = thread_scratch(ScratchSlot::ActivationTiles, line_floats(m * cols / 4) + line_floats(m * small) + unregrouped);
  auto* q = reinterpret_cast<std::int32_t*>(storage);
  float* rest = storage + line_floats(m * cols / 4);
  const auto* q_words = reinterpret_cast<const std::int32_t*>(k_quant ? a.superblocks.q : a.int8.q);
  // K-quants: the pair sums and part biases are made in the tail of the scratch,
  // then regrouped after the scales; block-scaled types: the scales, then the biases.
  auto* made = reinterpret_cast<std::int32_t*>(rest + line_floats(m * small));
  auto* made_biases = made + m * pairs_per_token;
  float* scale = rest;
  auto* pairs = reinterpret_cast<std::int32_t*>(rest + m * (k_quant ? superblocks : blocks));  // Q4_K, Q5_K only
  auto* biases = pairs + m * pairs_per_token;  // the block biases, or the K-quants' part biases
  prepare_in_parallel(pool, token_runs(m), m * cols, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t run = r0; run < r1; ++run) {
      const std::int64_t t0 = run_start(m, run), tokens = run_start(m, run + 1) - t0;
      interleave_run(q_words, t0, tokens, cols / 4, q);
      if (k_quant) {
        if (pairs_per_token > 0) pair_sums(a.superblocks, t0, tokens, made);
        part_biases(a.superblocks, t0, tokens, dtype, made_biases);
        interleave_run(a.superblocks.scale, t0, tokens, superblocks, scale);
        if (pairs_per_token > 0) interleave_run(static_cast<const std::int32_t*>(made), t0, tokens, pairs_per_token, pairs);
        interleave_run(static_cast<const std::int32_t*>(made_biases), t0, tokens, biases_per_token, biases);
      } else {
        interleave_run(a.int8.scale, t0, tokens, blocks, scale);
        interleave_run(a.int8.bias, t0, tokens, blocks, biases);
        if (sums) interleave_run(a.int8.sum, t0, tokens, blocks, reinterpret_cast<float*>(biases) + m * blocks);
      }
    }
  });
  if (k_quant) {
    r.superblocks.q = reinterpret_cast<const std::int8_t*>(q);
    r.superblocks.scale = scale;
    r.superblocks.pair_sums = pairs_per_token > 0 ? pairs : nullptr;
    r.superblocks.part_bias = biases;
    r.superblocks.sum16 = nullptr;
  } else {
    r.int8.q = reinterpret_cast<const std::int8_t*>(q);
    r.int8.scale = scale;
    r.int8.bias = biases;
    r.int8.sum = sums ? reinterpret_cast<const float*>(biases) + m * blocks : nullptr;
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
  s.sum = nullptr;
  if (a.int8.q != nullptr) {
    const std::int64_t cols = a.int8.cols;
    s.int8.q = a.int8.q + t0 * cols;
    s.int8.scale = a.int8.scale + t0 * cols / kBlockValues;
    s.int8.bias = a.int8.bias + t0 * cols / kBlockValues;
    if (a.int8.sum != nullptr) s.int8.sum = a.int8.sum + t0 * cols / kBlockValues;
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

BlockActivations prepare_activations_vnni(const WeightMatrix&, const float*, std::int64_t, ThreadPool&) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}
BlockActivations interleave_token_runs(const BlockActivations&, DType, ThreadPool&) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}
BlockActivations token_slice(const BlockActivations&, std::int64_t, std::int64_t) {
  fail("matmul: the AVX-512 kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
