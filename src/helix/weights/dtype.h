// DType: the element types a weight file may hold, and the conversions between them
// and f32 that the engine's kernels and the writers need.
//
// F32, F16 (IEEE binary16) and BF16 (the top half of an f32) are plain element types.
// Q8_0 is GGML's 8-bit block quantization: each block of 32 consecutive values is one
// f16 scale `d` followed by 32 int8 `q`, and value i is q[i] * d. A Q8_0 tensor's
// element count (and, in GGUF, its innermost dimension) must be a multiple of 32.
//
// All conversions round to nearest, ties to even, and keep infinities, NaNs and
// subnormals right; a NaN keeps its payload when the narrower type can hold it (so
// f16 -> f32 -> f16 and bf16 -> f32 -> bf16 are the identity on every bit pattern).
// Data are little-endian, as in both file formats (the build assumes a little-endian
// host). Source pointers need not be aligned: weight files do not promise alignment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace helix {

// Q4_0 ... Q6_K: GGML's other block quantizations (block_quants.h).
enum class DType : std::uint8_t { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K };

// "F32", "F16", "BF16", "Q8_0", "Q4_0", ..., "Q6_K".
std::string_view dtype_name(DType dtype);

// Case-insensitive: f32/float32, f16/float16/half, bf16/bfloat16, q8_0, q4_0, q4_1,
// q5_0, q5_1, q4_k, q5_k, q6_k. nullopt otherwise.
std::optional<DType> parse_dtype(std::string_view name);

// Values per block (1 for the plain types, 32 for Q*_0/_1, 256 for K-quants) and
// the bytes of one block.
int dtype_block_elements(DType dtype);
std::size_t dtype_block_bytes(DType dtype);
bool is_block_quantized(DType dtype);

inline constexpr int kQ8BlockElements = 32;

// One Q8_0 block, laid out exactly as GGML stores it (no padding).
struct BlockQ8_0 {
  std::uint16_t d;                   // scale, IEEE half
  std::int8_t qs[kQ8BlockElements];  // quants
};
static_assert(sizeof(BlockQ8_0) == 34, "BlockQ8_0 must match GGML's 34-byte layout");

// Bytes taken by `elements` consecutive values. Throws Error for a negative count,
// a block-quantized count that is not a multiple of the block, or a size that does
// not fit in size_t.
std::size_t dtype_row_bytes(DType dtype, std::int64_t elements);

float f16_to_f32(std::uint16_t half);
std::uint16_t f32_to_f16(float value);  // overflow gives +-inf
float bf16_to_f32(std::uint16_t bf16);
std::uint16_t f32_to_bf16(float value);

// Decodes `elements` values of `dtype` at `src` into `dst` (dequantizes blocks).
void convert_to_f32(DType dtype, const std::byte* src, std::int64_t elements, float* dst);

// Encodes `elements` f32 values as `dtype` into `dst` (dtype_row_bytes(dtype, elements)
// bytes). For Q8_0, per block: d = max|x| / 127, stored as f16; then
// q = round(x / d16) with d16 the f16-ROUNDED scale, clamped to [-127, 127].
// Using the stored scale (GGML divides by the unrounded d) makes the dequantized error
// at most d16 / 2 per element — the stored scale is the one the reader multiplies by.
// For data whose scale is exact in f16 the bytes equal GGML's. Throws Error for a
// non-finite input or a block whose scale overflows f16 (max|x| > 65504 * 127), since
// Q8_0 cannot represent them. The other block types: block_quants.h; non-finite
// input is refused the same way.
void convert_from_f32(DType dtype, const float* src, std::int64_t elements, std::byte* dst);

}  // namespace helix
