// The per-ISA building blocks of matmul (internal to the kernels module).
//
// matmul.cpp decides the strategy and splits the work over the pool; these do one
// thread's share. They exist for AMX (matmul_amx*.cpp), AVX-512 + VNNI
// (matmul_avx512.cpp, matmul_vnni_*.cpp), AVX2+FMA+F16C (matmul_avx2.cpp) — all
// compiled with target attributes and called only when the CPU has them — and
// portable C++ (matmul_scalar.cpp). AVX2 and scalar give the same results within
// float rounding; so do AVX-512 and AMX, except where they multiply rounded
// activations (matmul.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "helix/kernels/matmul.h"
#include "helix/kernels/weight_matrix.h"

namespace helix::kernels_detail {

// Streaming kernel for small m (decode): for weight rows r in [row_begin, row_end)
// and i < m, y[i * w.rows + r] = sum_k x[i * w.cols + k] * W[r][k]. Each weight row
// is read from memory once and dotted against all m activation rows.
void gemv_rows_avx2(const WeightMatrix& w, const float* x, std::int64_t m, float* y, std::int64_t row_begin,
                    std::int64_t row_end);
void gemv_rows_scalar(const WeightMatrix& w, const float* x, std::int64_t m, float* y, std::int64_t row_begin,
                      std::int64_t row_end);

// Decodes rows [row_begin, row_begin + count) of w to f32 into out (count x w.cols,
// row-major), for the sgemm path.
void convert_rows_avx2(const WeightMatrix& w, std::int64_t row_begin, std::int64_t count, float* out);
void convert_rows_scalar(const WeightMatrix& w, std::int64_t row_begin, std::int64_t count, float* out);

// The int8 block types, which the avx512 and amx levels multiply with one integer
// arithmetic (int8_block_arithmetic.h), in two families:
//  * block-scaled: one f16 scale per 32 int8 values, Q8_0's arithmetic (Q8_0 as
//    stored, Q4_0 a nibble - 8, Q5_0 a nibble and a fifth bit - 16; Q4_1 and Q5_1
//    the nibble (and fifth bit) as it is, with an f16 offset per 32 values too);
//  * K-quants: 256-value superblocks of groups with integer scales (Q4_K, Q5_K: and
//    mins; Q6_K).
inline constexpr bool is_block_scaled(DType dtype) {
  return dtype == DType::Q8_0 || dtype == DType::Q4_0 || dtype == DType::Q5_0 || dtype == DType::Q4_1 ||
         dtype == DType::Q5_1;
}
// Q4_1 and Q5_1: value = d * q + m per 32 values, the offset m a second float term.
inline constexpr bool has_block_offset(DType dtype) { return dtype == DType::Q4_1 || dtype == DType::Q5_1; }
inline constexpr bool is_k_quant(DType dtype) {
  return dtype == DType::Q4_K || dtype == DType::Q5_K || dtype == DType::Q6_K;
}
inline constexpr bool is_int8_block_type(DType dtype) { return is_block_scaled(dtype) || is_k_quant(dtype); }
// Q4_K and Q5_K: value = d * scale * q - dmin * min per group of 32 (Q6_K has no mins).
inline constexpr bool k_quant_has_mins(DType dtype) { return dtype == DType::Q4_K || dtype == DType::Q5_K; }

// Activations quantized per 32 values for the block-scaled weights (int8_activations.cpp): each
// block of a row gets a scale s = max|x| / 127 and int8 quants q = round(x / s), as
// llama.cpp's Q8_0; vpdpbusd's correction for Q8_0's flipped quants comes with them.
struct Int8Activations {
  std::int64_t cols = 0;  // a multiple of 32; the rows are cols apart
  const std::int8_t* q = nullptr;      // m x cols
  const float* scale = nullptr;        // m x cols/32: each block's s
  const std::int32_t* bias = nullptr;  // m x cols/32: -128 * sum(q) of each block
  // Q4_1 and Q5_1 only: m x cols/32, each block's s * sum(q) (x's sum as quantized),
  // which the weights' offset multiplies.
  const float* sum = nullptr;
};

// Whether the avx512 level's own kernel multiplies this dtype (matmul_avx512.cpp:
// BF16 and F16, f32 fma at every batch size, one arithmetic per row); the other
// dtypes it leaves to the AVX2 kernels and sgemm, the int8 block types to the VNNI
// kernels.
bool avx512_float_kernel(DType dtype);

// x as the avx512 level's kernel reads it: rows ldx floats apart.
struct FloatActivations {
  const float* x;
  std::int64_t ldx;
};

// From 3 tokens on, x (m x w.cols) copied for the BF16/F16 kernel into the calling
// thread's scratch (valid until its next call), each row on a cache line and
// ldx = cols + 16 (rows 4 KiB apart map to the same L1 sets); below that, and for
// the other dtypes, x as it is.
FloatActivations prepare_activations_avx512(const WeightMatrix& w, const float* x, std::int64_t m);

// The avx512 level's kernel for BF16 and F16 (any m), as gemv_rows_avx2 for the rest
// (which takes x with ldx = w.cols).
void gemv_rows_avx512(const WeightMatrix& w, const FloatActivations& x, std::int64_t m, float* y,
                      std::int64_t row_begin, std::int64_t row_end);

// Activations quantized for the K-quant arithmetic (int8_block_arithmetic.h):
// each run of 256 values of a row (a Q4_K/Q6_K superblock) gets one scale
// s = max|x| / 127 and int8 quants q = round(x * 127 / max|x|), as llama.cpp's Q8_K.
struct SuperblockActivations {
  std::int64_t cols = 0;              // a multiple of 256; the rows are cols apart
  const std::int8_t* q = nullptr;     // m x cols
  const float* scale = nullptr;       // m x cols/256
  const std::int32_t* sum16 = nullptr;  // m x cols/16: sum(q) over each 16 values (Q4_K's mins, Q6_K's offset)
  // Only after interleave_token_runs, for the VNNI GEMM (matmul_vnni_gemm.cpp):
  // Q4_K and Q5_K: per superblock 4 words, x's sums over groups 2j and 2j + 1 (32
  // values each) as int16 (low, high) for vpdpwssd.
  const std::int32_t* pair_sums = nullptr;
  // Per part of a group whose centred sum fits int16, minus the quants' centre
  // times x's sum over the part: Q4_K -8 * sum(x) per 32 values, Q5_K -16 * sum(x)
  // per 16, Q6_K -32 * sum(x) per 8 (|x| <= 127, so |sum (q - centre) * x| <= 32512).
  const std::int32_t* part_bias = nullptr;
};

// The quants' centre and the values per part that SuperblockActivations::part_bias
// and the VNNI GEMM's fold agree on: a part lies in one group (one scale), and its
// centred sum, at most part * max|q - centre| * 127, fits int16.
constexpr std::int32_t k_quant_centre(DType dtype) {
  return dtype == DType::Q4_K ? 8 : dtype == DType::Q5_K ? 16 : 32;  // Q4_K 0..15, Q5_K 0..31, Q6_K 0..63
}
constexpr int k_quant_part_values(DType dtype) {
  return dtype == DType::Q4_K ? 32 : dtype == DType::Q5_K ? 16 : 8;  // 32512 = 32*8*127 = 16*16*127 = 8*32*127
}
// Values per group (one integer scale).
constexpr int k_quant_group_values(DType dtype) { return dtype == DType::Q6_K ? 16 : 32; }

// x prepared once per matmul call for the int8 block kernels (VNNI and AMX) and
// the AMX BF16 kernel: quantized (Q8_0 as Int8Activations, the K-quants as
// SuperblockActivations) and, for the tile unit, laid out as tiles of its B operand,
// `tokens` tokens wide (min(m, 16)), per token block and 32-value block (BF16
// weights: x rounded to bf16), with the scales regrouped per token block.
struct BlockActivations {
  std::int64_t m = 0;             // real tokens
  std::int64_t tokens = 0;        // tokens per tile: min(m, 16)
  std::int64_t token_blocks = 0;  // ceil(m / tokens); tokens past m are zero
  std::int64_t blocks = 0;        // 32-value blocks per row (cols rounded up)
  Int8Activations int8;                // Q8_0: x quantized
  SuperblockActivations superblocks;   // Q4_K, Q6_K: the same
  // The tile unit's, from 16 tokens (and BF16 at any m):
  const std::byte* b_tiles = nullptr;  // [token block][block] tiles of block_bytes
  std::int64_t block_bytes = 0;
  const float* scale = nullptr;  // [token block][block or superblock][token]: the (super)block's activation scale
  const float* sum = nullptr;    // Q4_1, Q5_1: [token block][block][token]: Int8Activations::sum
};

// Preparing x for the VNNI and tile kernels (quantizing, regrouping) is split over
// the pool from this many values of x on; below (decode batches) waking the other
// threads would cost more than the work, and the caller does it alone.
constexpr std::int64_t kParallelPrepareValues = std::int64_t{1} << 18;
// fn(begin, end) over items [0, n) (tokens, runs or token blocks of an x of `values`
// values): on the pool's threads from kParallelPrepareValues on, else on the caller.
// (fn is reached through one reference, so that the pool's std::function holds it
// without allocating.)
template <typename Fn>
void prepare_in_parallel(ThreadPool& pool, std::int64_t n, std::int64_t values, const Fn& fn) {
  if (values < kParallelPrepareValues || n < 2) {
    fn(std::int64_t{0}, n);
  } else {
    pool.parallel_for(n, [&fn](std::int64_t begin, std::int64_t end) { fn(begin, end); });
  }
}

// Whether the AMX kernel multiplies this dtype (BF16 and the int8 block types Q8_0,
// Q4_K, Q6_K); the other dtypes take the avx512 level's kernels under amx too.
bool amx_multiplies(DType dtype);

// Prepares x (m x w.cols) for w's AMX kernel, in the calling thread's scratch (valid
// until its next call; the pool's threads share the work). amx_multiplies(w.dtype)
// must hold, and m >= 16 for the int8 types (smaller batches take gemv_rows_vnni).
BlockActivations prepare_activations_amx(const WeightMatrix& w, const float* x, std::int64_t m, ThreadPool& pool);

// The amx level's kernel: y[i * w.rows + r] for all tokens and weight rows r in
// [row_begin, row_end); row_begin is a multiple of 16. Q4_K and Q6_K go to
// gemm_rows_amx_k_quant (matmul_amx_k_quant.cpp).
void gemm_rows_amx(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                   std::int64_t row_end);
void gemm_rows_amx_k_quant(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                           std::int64_t row_end);

// x quantized for the int8 block types' arithmetic (int8_block_arithmetic.h) as the
// VNNI kernels read it, without tiles (int8_activations.cpp), in the calling
// thread's scratch (ScratchSlot::Activations; valid until its next call; the pool's
// threads share the work).
BlockActivations prepare_activations_vnni(const WeightMatrix& w, const float* x, std::int64_t m, ThreadPool& pool);

// Tokens [t0, t0 + count) of activations from prepare_activations_vnni.
BlockActivations token_slice(const BlockActivations& a, std::int64_t t0, std::int64_t count);

// The int8 block types below kVnniGemmMinTokens tokens, on both levels
// (matmul_vnni_gemv.cpp): weight rows [row_begin, row_end) read in place; a.m < 16.
constexpr std::int64_t kVnniGemmMinTokens = 16;
void gemv_rows_vnni(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                    std::int64_t row_end);

// The avx512 level's kernel for the int8 block types from kVnniGemmMinTokens tokens
// (matmul_vnni_gemm.cpp): the tiles' arithmetic with VNNI, the same bits. It
// multiplies the tokens in runs (two registers per token): 12 at a time, then 4,
// then 1; vnni_token_run is the run that starts at token t0 of m.
constexpr int vnni_token_run(std::int64_t m, std::int64_t t0) { return m - t0 >= 12 ? 12 : m - t0 >= 4 ? 4 : 1; }
// Activations from prepare_activations_vnni regrouped for it, in
// ScratchSlot::ActivationTiles (valid until the calling thread's next call): every
// per-token array with each run's tokens side by side, 4-byte word by word (word e
// of a run of T tokens from t0 at t0 * words_per_token + e * T + i), so that one
// pointer reaches all of a run's broadcasts. The pool's threads share the work.
BlockActivations interleave_token_runs(const BlockActivations& a, DType dtype, ThreadPool& pool);
void gemm_rows_vnni(const WeightMatrix& w, const BlockActivations& a, float* y, std::int64_t row_begin,
                    std::int64_t row_end);

}  // namespace helix::kernels_detail
