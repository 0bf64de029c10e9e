// The per-ISA building blocks of matmul (internal to the kernels module).
//
// matmul.cpp decides the strategy and splits the work over the pool; these do one
// thread's share. They exist for AVX-512 + VNNI (matmul_avx512.cpp), AVX2+FMA+F16C
// (matmul_avx2.cpp) — both compiled with target attributes and called only when the
// CPU has them — and portable C++ (matmul_scalar.cpp). AVX2 and scalar give the same
// results within float rounding; so does AVX-512, except where it multiplies int8
// activations (below).
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

// Activations quantized for the VNNI kernels: each run of 32 values of a row gets a
// scale s = max|x| / 127 and int8 quants q = round(x / s), as llama.cpp's Q8_0. The
// extra arrays are what the kernels need per block, laid out so that each is one
// vector load: a VNNI lane covers 4 values, so the per-lane arrays hold one entry
// per 4 values.
struct Int8Activations {
  std::int64_t cols = 0;  // a multiple of 32; the rows are cols apart
  const std::int8_t* q = nullptr;         // m x cols
  const float* lane_scale = nullptr;      // m x cols/4: the block's s, in each of its 8 lanes
  const std::int32_t* q8_bias = nullptr;  // m x cols/4: -128 * sum(q) of the block in its first lane, else 0
  const float* sum16 = nullptr;           // m x cols/16: s * sum(q) over each 16 values
  const float* sum32 = nullptr;           // m x cols/32: s * sum(q) over each 32 values
};

// What the AVX-512 streaming kernel for a dtype multiplies: int8 activations
// (Q8_0, Q4_K, Q6_K), bf16 activations (BF16 weights, where the CPU has
// AVX512_BF16: vdpbf16ps), or the f32 ones (the AVX2 kernels, for the rest).
ActivationRounding avx512_activation_rounding(DType dtype);

// x prepared once per matmul call for the AVX-512 streaming kernels.
struct Avx512Activations {
  Int8Activations int8;              // for ActivationRounding::Int8Blocks
  const std::uint16_t* bf16 = nullptr;  // m x cols bf16 (round to nearest even), for ActivationRounding::Bf16
};

// Prepares x (m x cols) for w's kernel, in the calling thread's scratch (valid until
// its next call).
Avx512Activations prepare_activations_avx512(const WeightMatrix& w, const float* x, std::int64_t m);

// The AVX-512 streaming kernel: as gemv_rows_avx2, with `a` from prepare_activations_avx512.
void gemv_rows_avx512(const WeightMatrix& w, const float* x, const Avx512Activations& a, std::int64_t m, float* y,
                      std::int64_t row_begin, std::int64_t row_end);

// Whether the AMX kernel multiplies this dtype (BF16 and the int8 block types Q8_0,
// Q4_K, Q6_K); the other dtypes take the avx512 level's kernels under amx too.
bool amx_multiplies(DType dtype);

// Activations quantized for the amx level's K-quant arithmetic (amx_int8_arithmetic.h):
// each run of 256 values of a row (a Q4_K/Q6_K superblock) gets one scale
// s = max|x| / 127 and int8 quants q = round(x * 127 / max|x|), as llama.cpp's Q8_K.
struct SuperblockActivations {
  std::int64_t cols = 0;              // a multiple of 256; the rows are cols apart
  const std::int8_t* q = nullptr;     // m x cols
  const float* scale = nullptr;       // m x cols/256
  const std::int32_t* sum32 = nullptr;  // m x cols/32: sum(q) over each 32 values (Q4_K's mins)
};

// x (m x cols, cols a multiple of 256) quantized per 256 values, in the calling
// thread's scratch (ScratchSlot::Activations; valid until its next call).
SuperblockActivations quantize_superblocks(const float* x, std::int64_t m, std::int64_t cols);

// x prepared once per matmul call for the AMX kernel (matmul_amx.cpp): as tiles of
// the unit's B operand, `tokens` tokens wide (min(m, 16)), per token block and
// 32-value block; BF16 weights get x rounded to bf16, Q8_0 x quantized as
// Int8Activations and the K-quants as SuperblockActivations, with the scales
// regrouped per token block.
struct AmxActivations {
  std::int64_t m = 0;             // real tokens
  std::int64_t tokens = 0;        // tokens per tile: min(m, 16)
  std::int64_t token_blocks = 0;  // ceil(m / tokens); tokens past m are zero
  std::int64_t blocks = 0;        // 32-value blocks per row (cols rounded up)
  const std::byte* b_tiles = nullptr;  // [token block][block] tiles of block_bytes
  std::int64_t block_bytes = 0;
  Int8Activations int8;                // Q8_0: x quantized (batches below 16 use it as it is)
  SuperblockActivations superblocks;   // Q4_K, Q6_K: the same
  // 16 tokens or more, [token block][block or superblock][token]:
  const float* scale = nullptr;  // the (super)block's activation scale
};

// Prepares x (m x w.cols) for w's AMX kernel, in the calling thread's scratch (valid
// until its next call). amx_multiplies(w.dtype) must hold.
AmxActivations prepare_activations_amx(const WeightMatrix& w, const float* x, std::int64_t m);

// The amx level's kernel: y[i * w.rows + r] for all tokens and weight rows r in
// [row_begin, row_end); row_begin is a multiple of 16. Int8 types below 16 tokens
// go to gemv_rows_amx_vnni (matmul_amx_vnni.cpp), with the same arithmetic; Q4_K and
// Q6_K from 16 tokens to gemm_rows_amx_k_quant (matmul_amx_k_quant.cpp).
void gemm_rows_amx(const WeightMatrix& w, const AmxActivations& a, float* y, std::int64_t row_begin,
                   std::int64_t row_end);
void gemm_rows_amx_k_quant(const WeightMatrix& w, const AmxActivations& a, float* y, std::int64_t row_begin,
                           std::int64_t row_end);
void gemv_rows_amx_vnni(const WeightMatrix& w, const AmxActivations& a, float* y, std::int64_t row_begin,
                        std::int64_t row_end);

}  // namespace helix::kernels_detail
