// GGML's block quantizations beyond Q8_0, laid out byte for byte as llama.cpp
// stores them in GGUF files (the layouts are the format's facts; the code is
// helix's own):
//   Q4_0 / Q4_1 / Q5_0 / Q5_1: blocks of 32 values; an f16 scale d (and, _1, an
//     f16 offset m); 4-bit quants (Q5: plus a 32-bit word of fifth bits).
//     Q4_0: x = (q - 8) d   Q4_1: x = q d + m   Q5_0: x = (q - 16) d   Q5_1: x = q d + m
//   Q4_K / Q5_K: super-blocks of 256 = 8 sub-blocks of 32, each with a 6-bit
//     scale and a 6-bit min packed into 12 bytes; x = q (d sc) - (dmin m).
//   Q6_K: super-blocks of 256 = 16 sub-blocks of 16 with int8 scales; 6-bit
//     quants split into 4 low bits (ql) and 2 high bits (qh); x = (q - 32) d sc.
// In a block of 32, byte j holds value j in its low nibble and value j + 16 in
// its high nibble; K-quants interleave per 64 values the same way.
//
// Quantizers: the _0/_1 ones compute exactly what llama.cpp's reference
// quantizers (quantize_row_*_ref) compute. The K-quant ones are helix's own:
// per sub-block, min/max (or signed max) scales, then the 6-/8-bit quantized
// scales are used to quantize the values -- simpler than llama.cpp's iterative
// search, so their error is somewhat higher (tests bound it against float64).
#pragma once

#include <cstddef>
#include <cstdint>

namespace helix {

struct BlockQ4_0 {
  std::uint16_t d;
  std::uint8_t qs[16];
};
struct BlockQ4_1 {
  std::uint16_t d, m;
  std::uint8_t qs[16];
};
struct BlockQ5_0 {
  std::uint16_t d;
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};
struct BlockQ5_1 {
  std::uint16_t d, m;
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};
struct BlockQ4_K {
  std::uint16_t d, dmin;
  std::uint8_t scales[12];
  std::uint8_t qs[128];
};
struct BlockQ5_K {
  std::uint16_t d, dmin;
  std::uint8_t scales[12];
  std::uint8_t qh[32];
  std::uint8_t qs[128];
};
struct BlockQ6_K {
  std::uint8_t ql[128];
  std::uint8_t qh[64];
  std::int8_t scales[16];
  std::uint16_t d;
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
                  sizeof(BlockQ5_1) == 24 && sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 &&
                  sizeof(BlockQ6_K) == 210,
              "blocks must match GGML's layouts");

// Dequantize one block (32 or 256 values) from `src` (any alignment) into `y`.
void dequantize_q4_0(const std::byte* src, float* y);
void dequantize_q4_1(const std::byte* src, float* y);
void dequantize_q5_0(const std::byte* src, float* y);
void dequantize_q5_1(const std::byte* src, float* y);
void dequantize_q4_k(const std::byte* src, float* y);
void dequantize_q5_k(const std::byte* src, float* y);
void dequantize_q6_k(const std::byte* src, float* y);

// Quantize one block of finite values into `dst`.
void quantize_q4_0(const float* x, std::byte* dst);
void quantize_q4_1(const float* x, std::byte* dst);
void quantize_q5_0(const float* x, std::byte* dst);
void quantize_q5_1(const float* x, std::byte* dst);
void quantize_q4_k(const float* x, std::byte* dst);
void quantize_q5_k(const float* x, std::byte* dst);
void quantize_q6_k(const float* x, std::byte* dst);

}  // namespace helix
