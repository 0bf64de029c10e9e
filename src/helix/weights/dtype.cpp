#include "helix/weights/dtype.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "helix/core/error.h"
#include "helix/weights/block_quants.h"

namespace helix {

static_assert(std::endian::native == std::endian::little,
              "weight files are little-endian; a big-endian host would need byte swaps");

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::uint16_t load_u16(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store_u16(std::byte* p, std::uint16_t v) { std::memcpy(p, &v, sizeof v); }

// Rounds `value >> shift` to nearest, ties to even (shift >= 1).
std::uint32_t shift_round_even(std::uint32_t value, int shift) {
  std::uint32_t kept = value >> shift;
  std::uint32_t rest = value & ((1u << shift) - 1u);
  std::uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (kept & 1u) != 0)) ++kept;
  return kept;
}

void quantize_q8_block(const float* x, std::byte* dst, std::int64_t block_index) {
  float amax = 0.0f;
  for (int i = 0; i < kQ8BlockElements; ++i) {
    if (!std::isfinite(x[i])) {
      fail("Q8_0 quantization: element {} is {}, which Q8_0 cannot represent",
           block_index * kQ8BlockElements + i, x[i]);
    }
    amax = std::max(amax, std::fabs(x[i]));
  }
  BlockQ8_0 block{};
  block.d = f32_to_f16(amax / 127.0f);
  float d = f16_to_f32(block.d);
  if (std::isinf(d)) {
    fail("Q8_0 quantization: block {} has max |x| = {}, whose scale overflows f16 (max 65504 * 127)",
         block_index, amax);
  }
  for (int i = 0; i < kQ8BlockElements; ++i) {
    float q = d == 0.0f ? 0.0f : std::round(x[i] / d);
    block.qs[i] = static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
  }
  std::memcpy(dst, &block, sizeof block);
}

void dequantize_q8_block(const std::byte* src, float* y) {
  BlockQ8_0 block;
  std::memcpy(&block, src, sizeof block);
  float d = f16_to_f32(block.d);
  for (int i = 0; i < kQ8BlockElements; ++i) y[i] = static_cast<float>(block.qs[i]) * d;
}

void require_block_multiple(DType dtype, std::int64_t elements, const char* what) {
  const int block = dtype_block_elements(dtype);
  if (elements % block != 0) {
    fail("{}: {} needs a multiple of {} elements, got {}", what, dtype_name(dtype), block, elements);
  }
}

using BlockCodec = void (*)(const std::byte*, float*);
using BlockQuantizer = void (*)(const float*, std::byte*);

BlockCodec dequantizer_of(DType dtype) {
  switch (dtype) {
    case DType::Q4_0: return dequantize_q4_0;
    case DType::Q4_1: return dequantize_q4_1;
    case DType::Q5_0: return dequantize_q5_0;
    case DType::Q5_1: return dequantize_q5_1;
    case DType::Q4_K: return dequantize_q4_k;
    case DType::Q5_K: return dequantize_q5_k;
    case DType::Q6_K: return dequantize_q6_k;
    default: return nullptr;
  }
}

BlockQuantizer quantizer_of(DType dtype) {
  switch (dtype) {
    case DType::Q4_0: return quantize_q4_0;
    case DType::Q4_1: return quantize_q4_1;
    case DType::Q5_0: return quantize_q5_0;
    case DType::Q5_1: return quantize_q5_1;
    case DType::Q4_K: return quantize_q4_k;
    case DType::Q5_K: return quantize_q5_k;
    case DType::Q6_K: return quantize_q6_k;
    default: return nullptr;
  }
}

}  // namespace

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::Q8_0: return "Q8_0";
    case DType::Q4_0: return "Q4_0";
    case DType::Q4_1: return "Q4_1";
    case DType::Q5_0: return "Q5_0";
    case DType::Q5_1: return "Q5_1";
    case DType::Q4_K: return "Q4_K";
    case DType::Q5_K: return "Q5_K";
    case DType::Q6_K: return "Q6_K";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  std::string s = lower(name);
  if (s == "f32" || s == "float32") return DType::F32;
  if (s == "f16" || s == "float16" || s == "half") return DType::F16;
  if (s == "bf16" || s == "bfloat16") return DType::BF16;
  for (DType d : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K}) {
    if (s == lower(dtype_name(d))) return d;
  }
  return std::nullopt;
}

int dtype_block_elements(DType dtype) {
  switch (dtype) {
    case DType::F32:
    case DType::F16:
    case DType::BF16: return 1;
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1: return 32;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return 256;
  }
  return 1;
}

std::size_t dtype_block_bytes(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::F16:
    case DType::BF16: return 2;
    case DType::Q8_0: return sizeof(BlockQ8_0);
    case DType::Q4_0: return sizeof(BlockQ4_0);
    case DType::Q4_1: return sizeof(BlockQ4_1);
    case DType::Q5_0: return sizeof(BlockQ5_0);
    case DType::Q5_1: return sizeof(BlockQ5_1);
    case DType::Q4_K: return sizeof(BlockQ4_K);
    case DType::Q5_K: return sizeof(BlockQ5_K);
    case DType::Q6_K: return sizeof(BlockQ6_K);
  }
  return 4;
}

bool is_block_quantized(DType dtype) { return dtype_block_elements(dtype) > 1; }

std::size_t dtype_row_bytes(DType dtype, std::int64_t elements) {
  if (elements < 0) fail("dtype_row_bytes: negative element count {}", elements);
  require_block_multiple(dtype, elements, "dtype_row_bytes");
  const auto units = static_cast<std::uint64_t>(elements) / static_cast<std::uint64_t>(dtype_block_elements(dtype));
  const std::uint64_t unit_bytes = dtype_block_bytes(dtype);
  if (units > std::numeric_limits<std::size_t>::max() / unit_bytes) {
    fail("dtype_row_bytes: {} elements of {} do not fit in memory", elements, dtype_name(dtype));
  }
  return static_cast<std::size_t>(units * unit_bytes);
}

float f16_to_f32(std::uint16_t half) {
  std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  std::uint32_t exp = (half >> 10) & 0x1Fu;
  std::uint32_t mant = half & 0x3FFu;
  std::uint32_t bits = 0;
  if (exp == 0x1F) {  // inf or NaN (payload kept)
    bits = sign | 0x7F800000u | (mant << 13);
  } else if (exp != 0) {  // normal: rebias 15 -> 127
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {  // +-0
    bits = sign;
  } else {  // subnormal: normalize the mantissa
    int shifts = 0;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      ++shifts;
    }
    bits = sign | (static_cast<std::uint32_t>(113 - shifts) << 23) | ((mant & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

std::uint16_t f32_to_f16(float value) {
  auto bits = std::bit_cast<std::uint32_t>(value);
  auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  int exp = static_cast<int>((bits >> 23) & 0xFFu);
  std::uint32_t mant = bits & 0x7FFFFFu;
  if (exp == 0xFF) {
    if (mant == 0) return static_cast<std::uint16_t>(sign | 0x7C00u);
    std::uint32_t payload = mant >> 13;
    if (payload == 0) payload = 0x200u;  // would read as inf: keep it a (quiet) NaN
    return static_cast<std::uint16_t>(sign | 0x7C00u | payload);
  }
  int half_exp = exp - 127 + 15;
  if (half_exp >= 0x1F) return static_cast<std::uint16_t>(sign | 0x7C00u);  // overflow
  if (half_exp >= 1) {
    // Rounding may carry into the exponent (and from 65504 up into inf): intended.
    std::uint32_t rounded = shift_round_even((static_cast<std::uint32_t>(half_exp) << 23) | mant, 13);
    return static_cast<std::uint16_t>(sign | rounded);
  }
  if (half_exp < -10) return sign;  // below half the smallest subnormal: rounds to 0
  // Subnormal result: the value in units of 2^-24 is (1.mant) >> (14 - half_exp).
  std::uint32_t full = mant | 0x800000u;
  return static_cast<std::uint16_t>(sign | shift_round_even(full, 14 - half_exp));
}

float bf16_to_f32(std::uint16_t bf16) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bf16) << 16);
}

std::uint16_t f32_to_bf16(float value) {
  auto bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x7FFFFFu) != 0) {  // NaN
    auto top = static_cast<std::uint16_t>(bits >> 16);
    if ((top & 0x7Fu) == 0) top = static_cast<std::uint16_t>(top | 0x40u);  // stay NaN
    return top;
  }
  std::uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);  // ties to even
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

void convert_to_f32(DType dtype, const std::byte* src, std::int64_t elements, float* dst) {
  if (elements < 0) fail("convert_to_f32: negative element count {}", elements);
  auto n = static_cast<std::size_t>(elements);
  switch (dtype) {
    case DType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load_u16(src + 2 * i));
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(src + 2 * i));
      return;
    case DType::Q8_0:
      require_block_multiple(dtype, elements, "convert_to_f32");
      for (std::size_t b = 0; b < n / kQ8BlockElements; ++b) {
        dequantize_q8_block(src + b * sizeof(BlockQ8_0), dst + b * kQ8BlockElements);
      }
      return;
    default:
      break;
  }
  require_block_multiple(dtype, elements, "convert_to_f32");
  const auto block = static_cast<std::size_t>(dtype_block_elements(dtype));
  const std::size_t bytes = dtype_block_bytes(dtype);
  const BlockCodec dequantize = dequantizer_of(dtype);
  for (std::size_t b = 0; b < n / block; ++b) dequantize(src + b * bytes, dst + b * block);
}

void convert_from_f32(DType dtype, const float* src, std::int64_t elements, std::byte* dst) {
  if (elements < 0) fail("convert_from_f32: negative element count {}", elements);
  auto n = static_cast<std::size_t>(elements);
  switch (dtype) {
    case DType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) store_u16(dst + 2 * i, f32_to_f16(src[i]));
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) store_u16(dst + 2 * i, f32_to_bf16(src[i]));
      return;
    case DType::Q8_0:
      require_block_multiple(dtype, elements, "convert_from_f32");
      for (std::size_t b = 0; b < n / kQ8BlockElements; ++b) {
        quantize_q8_block(src + b * kQ8BlockElements, dst + b * sizeof(BlockQ8_0),
                          static_cast<std::int64_t>(b));
      }
      return;
    default:
      break;
  }
  require_block_multiple(dtype, elements, "convert_from_f32");
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(src[i])) {
      fail("{} quantization: element {} is {}, which {} cannot represent", dtype_name(dtype), i, src[i],
           dtype_name(dtype));
    }
  }
  const auto block = static_cast<std::size_t>(dtype_block_elements(dtype));
  const std::size_t bytes = dtype_block_bytes(dtype);
  const BlockQuantizer quantize = quantizer_of(dtype);
  for (std::size_t b = 0; b < n / block; ++b) quantize(src + b * block, dst + b * bytes);
}

}  // namespace helix
