// matmul: y = x Wᵀ for one Linear layer, with W in its file dtype (F32, F16, BF16,
// Q8_0, the other GGML block types).
//
// y[i][j] = sum_k x[i][k] * W[j][k] for i < m, j < w.rows; x is m x w.cols row-major
// f32, y is m x w.rows (contiguous). Weights stay in their dtype: widening and block
// decoding happen inside the kernels. Results are f32 and accumulate in f32.
//
// Two strategies (matmul_strategy), run by the kernels of active_kernel_isa():
//  * Streaming (small m, decode): memory-bound. Each weight row is read once and
//    dotted against all m activation rows, several rows at a time with independent
//    accumulators; the rows are split across the pool.
//  * TiledGemm (large m, prefill): compute-bound. scalar and avx2 (and F32 and the
//    other block types on every level): each thread decodes a tile of its rows to
//    f32 into its own scratch buffer and multiplies it with single-threaded OpenBLAS
//    sgemm (F32 weights are used in place); matmul sets OpenBLAS to one thread (it
//    parallelises through the pool instead), so it leaves openblas_set_num_threads(1)
//    behind.
// On the avx512 and amx levels each of BF16, F16 and the block types (Q8_0, Q4_0,
// Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) has one arithmetic per row whatever its
// batch, so that a row's result is the same bits in any batch (a preempted request
// recomputed in a prefill keeps its tokens):
//  * BF16 and F16 (avx512; F16 under amx too): f32 fma on the widened weights, at
//    every m (Streaming), with weights widened per use for small m and once per
//    block of rows from 32 tokens (matmul_avx512.cpp).
//  * the block types (both levels): Streaming below 16 tokens (the VNNI kernel),
//    TiledGemm from 16 (the VNNI GEMM on avx512, the tile unit on amx), one integer
//    arithmetic for all of them (int8_block_arithmetic.h): the levels agree bit for
//    bit too. Forcing the other strategy runs the other of these kernels.
//  * BF16 under amx: tiles at every m (TiledGemm).
//
// Activations are f32 throughout, except where the kernels round them
// (matmul_activation_rounding):
//  * Int8Blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 on avx512 and amx): each 32 values of
//    x get the scale s = max|x| / 127 and int8 quants q = round(x / s), multiplied with VNNI or the
//    AMX unit's int8 products (exact integer sums per block). Each result differs
//    from the f32 product by at most sum_k |W[j][k]| * s(k) / 2 (s(k): the scale of
//    k's block), about 0.4% of a block's largest activation per weight, below these
//    weights' own rounding.
//  * Int8Superblocks (Q4_K, Q5_K, Q6_K on avx512 and amx): the same with one scale per 256
//    values (a K-quant superblock, as llama.cpp's Q8_K), so that the integer sums
//    carry over a whole superblock; the same bound with s(k) the scale of k's 256
//    values.
//  * Bf16 (BF16 weights under amx): x rounded to bf16 (nearest even), multiplied
//    with tdpbf16ps, f32 sums. Each result differs by at most
//    2^-8 * sum_k |W[j][k] x[k]|, as the BF16 weights themselves were rounded.
//
// Thread-safety: concurrent calls are fine on different pools. No allocation once a
// thread's scratch has grown to the largest tile asked for.
#pragma once

#include <cstdint>

#include "helix/kernels/thread_pool.h"
#include "helix/kernels/weight_matrix.h"

namespace helix {

enum class MatmulStrategy { Streaming, TiledGemm };

// What matmul(w, x, m, y, pool) uses for m activation rows.
MatmulStrategy matmul_strategy(const WeightMatrix& w, std::int64_t m);

enum class ActivationRounding { None, Int8Blocks, Int8Superblocks, Bf16 };

// How matmul rounds the activations (above) for this dtype under the active ISA,
// whatever the strategy.
ActivationRounding matmul_activation_rounding(DType dtype);

// Throws Error for m < 0, null x / y with m > 0, or a WeightMatrix that make() would
// not have built (its row_bytes not matching dtype and cols). m == 0 does nothing.
void matmul(const WeightMatrix& w, const float* x, std::int64_t m, float* y, ThreadPool& pool);
// Same, with the strategy forced (tests check both on every shape; the benchmark
// measures the crossover).
void matmul(const WeightMatrix& w, const float* x, std::int64_t m, float* y, ThreadPool& pool,
            MatmulStrategy strategy);

}  // namespace helix
