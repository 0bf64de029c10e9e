#include "helix/weights/block_quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "helix/weights/dtype.h"
#include "helix/weights/block_values.h"

namespace helix {
namespace {

template <typename Block>
Block load(const std::byte* src) {
  Block block;
  std::memcpy(&block, src, sizeof block);
  return block;
}

template <typename Block>
void store(const Block& block, std::byte* dst) {
  std::memcpy(dst, &block, sizeof block);
}

void pack_scales_mins(const std::uint8_t* scale, const std::uint8_t* min, std::uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<std::uint8_t>(scale[j] | ((scale[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<std::uint8_t>(min[j] | ((min[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<std::uint8_t>((scale[j + 4] & 0xF) | ((min[j + 4] & 0xF) << 4));
  }
}

// The value of largest magnitude, with its sign (the _0 quantizers map it to -8 / -16).
float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

// The K quantizers pick each sub-block's scale by search, not from its min/max
// alone: the min/max scale wastes levels on a lone outlier, and rounding to it is
// not the least-squares choice. For each candidate grid (the min/max one and
// kScaleCandidates around it), the values are rounded to the grid, then the scale
// (and offset) that fit those quants best in least squares are solved for, and the
// candidate with the smallest squared error wins. A search over a fixed set of
// candidates: deterministic, and never worse than the min/max grid it includes.
constexpr int kScaleCandidates = 20;  // grids with (levels - 1) .. (levels + 1) steps across the range

// Nearest integer for the scale search (halves away from zero; the final
// quantization rounds with lround). std::lround is a library call on baseline
// x86-64, and the search rounds every value ~20 times.
inline int round_nearest(float v) { return static_cast<int>(v + (v >= 0 ? 0.5f : -0.5f)); }

// Least-squares x ~ scale * q + offset over n values, q fixed; offset <= 0 when
// `offset_allowed` (Q4_K/Q5_K store -offset as a non-negative min), else 0.
struct Fit {
  float scale = 0, offset = 0;
};

Fit fit(const float* x, const int* q, int n, bool offset_allowed) {
  double sum_q = 0, sum_qq = 0, sum_x = 0, sum_qx = 0;
  for (int i = 0; i < n; ++i) {
    sum_q += q[i], sum_qq += static_cast<double>(q[i]) * q[i], sum_x += x[i];
    sum_qx += static_cast<double>(q[i]) * x[i];
  }
  Fit f;
  const double det = n * sum_qq - sum_q * sum_q;
  if (offset_allowed && det > 0) {
    f.scale = static_cast<float>((n * sum_qx - sum_q * sum_x) / det);
    f.offset = static_cast<float>((sum_x - f.scale * sum_q) / n);
    if (f.offset <= 0) return f;
  }
  f.offset = 0;
  f.scale = sum_qq > 0 ? static_cast<float>(sum_qx / sum_qq) : 0.0f;
  return f;
}

double squared_error(const float* x, const int* q, int n, Fit f) {
  double e = 0;
  for (int i = 0; i < n; ++i) {
    const double d = static_cast<double>(f.scale) * q[i] + f.offset - x[i];
    e += d * d;
  }
  return e;
}

// Q4_K/Q5_K sub-block: x ~ q * scale - min, q in [0, levels], scale >= 0, min >= 0.
void search_scale_min(const float* x, int n, int levels, float& scale, float& min) {
  const float lo = std::min(0.0f, *std::min_element(x, x + n)), hi = *std::max_element(x, x + n);
  scale = (hi - lo) / static_cast<float>(levels);
  min = -lo;
  if (hi <= lo) return;
  int q[32];
  double best = -1;
  for (int c = 0; c <= kScaleCandidates; ++c) {
    // c = 0: the min/max grid itself; then steps across the range from levels - 1 to levels + 1.
    const float steps = c == 0 ? static_cast<float>(levels)
                               : static_cast<float>(levels) - 1.0f + 2.0f * static_cast<float>(c - 1) / (kScaleCandidates - 1);
    const float inverse = steps / (hi - lo);
    for (int i = 0; i < n; ++i) q[i] = std::clamp(round_nearest((x[i] - lo) * inverse), 0, levels);
    const Fit f = c == 0 ? Fit{scale, lo} : fit(x, q, n, true);
    if (f.scale <= 0) continue;
    const double e = squared_error(x, q, n, f);
    if (best < 0 || e < best) best = e, scale = f.scale, min = -f.offset;
  }
  // Then round to the winner's own grid and fit again, while that helps.
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < n; ++i) q[i] = std::clamp(round_nearest((x[i] + min) / scale), 0, levels);
    const Fit f = fit(x, q, n, true);
    if (f.scale <= 0) return;
    const double e = squared_error(x, q, n, f);
    if (e >= best) return;
    best = e, scale = f.scale, min = -f.offset;
  }
}

// Q6_K sub-block: x ~ q * scale, q in [-32, 31], scale of either sign (the value of
// largest magnitude goes to -32 on the min/max grid, as llama.cpp's reference does).
float search_scale_q6(const float* x, int n) {
  const float max = signed_absmax(x, n);
  float scale = max / -32;
  if (max == 0) return 0;
  int q[16];
  double best = -1;
  for (int c = 0; c <= kScaleCandidates; ++c) {
    const float steps = c == 0 ? 32.0f : 31.0f + 2.0f * static_cast<float>(c - 1) / (kScaleCandidates - 1);
    const float inverse = -steps / max;
    for (int i = 0; i < n; ++i) q[i] = std::clamp(round_nearest(x[i] * inverse), -32, 31);
    const Fit f = c == 0 ? Fit{max / -32, 0} : fit(x, q, n, false);
    const double e = squared_error(x, q, n, f);
    if (best < 0 || e < best) best = e, scale = f.scale;
  }
  return scale;
}

// Q4_K/Q5_K: per sub-block of 32 a scale and a (non-negative) min such that
// x ~ q * scale - min with q in [0, levels] (search_scale_min); then both quantized
// to 6 bits against the super-block's d and dmin, and the values quantized with the
// quantized scales.
struct KQuant {
  std::uint16_t d = 0, dmin = 0;
  std::uint8_t scales[8] = {}, mins[8] = {};
  std::uint8_t q[256] = {};
};

KQuant quantize_k(const float* x, int levels) {
  float scale[8], min[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    search_scale_min(x + 32 * j, 32, levels, scale[j], min[j]);
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, min[j]);
  }
  KQuant out;
  out.d = f32_to_f16(max_scale / 63.0f);
  out.dmin = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(out.d), dmin = f16_to_f32(out.dmin);
  for (int j = 0; j < 8; ++j) {
    out.scales[j] = static_cast<std::uint8_t>(d > 0 ? std::clamp(std::lround(scale[j] / d), 0L, 63L) : 0);
    out.mins[j] = static_cast<std::uint8_t>(dmin > 0 ? std::clamp(std::lround(min[j] / dmin), 0L, 63L) : 0);
    const float step = d * out.scales[j], offset = dmin * out.mins[j];
    for (int i = 0; i < 32; ++i) {
      const long q = step > 0 ? std::lround((x[32 * j + i] + offset) / step) : 0;
      out.q[32 * j + i] = static_cast<std::uint8_t>(std::clamp(q, 0L, static_cast<long>(levels)));
    }
  }
  return out;
}

}  // namespace

// The dequantizers below keep loops of their own (whole blocks, which the compiler
// vectorises); block_values.h's 8-value functions, which the GPU reads blocks
// with, are held to the same bits by a test (BlockValues.*).
void dequantize_q4_0(const std::byte* src, float* y) {
  const auto b = load<BlockQ4_0>(src);
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((b.qs[j] & 0xF) - 8) * d;
    y[j + 16] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
  }
}

void dequantize_q4_1(const std::byte* src, float* y) {
  const auto b = load<BlockQ4_1>(src);
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(b.qs[j] & 0xF) * d + m;
    y[j + 16] = static_cast<float>(b.qs[j] >> 4) * d + m;
  }
}

void dequantize_q5_0(const std::byte* src, float* y) {
  const auto b = load<BlockQ5_0>(src);
  const float d = f16_to_f32(b.d);
  std::uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof qh);
  for (int j = 0; j < 16; ++j) {
    const int high0 = static_cast<int>((qh >> j) & 1U) << 4, high1 = static_cast<int>((qh >> (j + 16)) & 1U) << 4;
    y[j] = static_cast<float>(((b.qs[j] & 0xF) | high0) - 16) * d;
    y[j + 16] = static_cast<float>(((b.qs[j] >> 4) | high1) - 16) * d;
  }
}

void dequantize_q5_1(const std::byte* src, float* y) {
  const auto b = load<BlockQ5_1>(src);
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  std::uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof qh);
  for (int j = 0; j < 16; ++j) {
    const int high0 = static_cast<int>((qh >> j) & 1U) << 4, high1 = static_cast<int>((qh >> (j + 16)) & 1U) << 4;
    y[j] = static_cast<float>((b.qs[j] & 0xF) | high0) * d + m;
    y[j + 16] = static_cast<float>((b.qs[j] >> 4) | high1) * d + m;
  }
}

// Written out in 32-value runs, which the compiler vectorises and does not for
// block_values.h's 8-value function.
void dequantize_q4_k(const std::byte* src, float* y) {
  const auto b = load<BlockQ4_K>(src);
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int c = 0; c < 4; ++c) {  // 64 values: sub-blocks 2c (low nibbles) and 2c + 1 (high)
    const block_values::ScaleMin s0 = block_values::scale_min_k4(2 * c, b.scales), s1 = block_values::scale_min_k4(2 * c + 1, b.scales);
    const float sc0 = static_cast<float>(s0.scale), m0 = static_cast<float>(s0.min);
    const float sc1 = static_cast<float>(s1.scale), m1 = static_cast<float>(s1.min);
    const std::uint8_t* q = b.qs + 32 * c;
    for (int l = 0; l < 32; ++l) {
      y[64 * c + l] = d * sc0 * static_cast<float>(q[l] & 0xF) - dmin * m0;
      y[64 * c + 32 + l] = d * sc1 * static_cast<float>(q[l] >> 4) - dmin * m1;
    }
  }
}

void dequantize_q5_k(const std::byte* src, float* y) {
  const auto b = load<BlockQ5_K>(src);
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  for (int c = 0; c < 4; ++c) {
    const block_values::ScaleMin s0 = block_values::scale_min_k4(2 * c, b.scales), s1 = block_values::scale_min_k4(2 * c + 1, b.scales);
    const std::uint8_t* q = b.qs + 32 * c;
    const unsigned bit0 = 1U << (2 * c), bit1 = 1U << (2 * c + 1);
    for (int l = 0; l < 32; ++l) {
      const int q0 = (q[l] & 0xF) + ((b.qh[l] & bit0) != 0 ? 16 : 0);
      const int q1 = (q[l] >> 4) + ((b.qh[l] & bit1) != 0 ? 16 : 0);
      y[64 * c + l] = d * static_cast<float>(s0.scale) * static_cast<float>(q0) - dmin * static_cast<float>(s0.min);
      y[64 * c + 32 + l] = d * static_cast<float>(s1.scale) * static_cast<float>(q1) - dmin * static_cast<float>(s1.min);
    }
  }
}

// block_values.h's arithmetic, which the GPU's kernels share (as fast here as the
// loop it replaced).
void dequantize_q6_k(const std::byte* src, float* y) {
  const auto b = load<BlockQ6_K>(src);
  const float d = f16_to_f32(b.d);
  for (int i = 0; i < 256; i += 8) block_values::q6_k_values8(b.ql, b.qh, b.scales, d, i, y + i);
}

void quantize_q4_0(const float* x, std::byte* dst) {
  const float max = signed_absmax(x, 32);
  const float d = max / -8, id = d != 0 ? 1 / d : 0;
  BlockQ4_0 b{};
  b.d = f32_to_f16(d);
  for (int j = 0; j < 16; ++j) {
    const auto q0 = std::min<std::uint8_t>(15, static_cast<std::uint8_t>(static_cast<std::int8_t>(x[j] * id + 8.5f)));
    const auto q1 =
        std::min<std::uint8_t>(15, static_cast<std::uint8_t>(static_cast<std::int8_t>(x[j + 16] * id + 8.5f)));
    b.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
  }
  store(b, dst);
}

void quantize_q4_1(const float* x, std::byte* dst) {
  const float lo = *std::min_element(x, x + 32), hi = *std::max_element(x, x + 32);
  const float d = (hi - lo) / 15, id = d != 0 ? 1 / d : 0;
  BlockQ4_1 b{};
  b.d = f32_to_f16(d);
  b.m = f32_to_f16(lo);
  for (int j = 0; j < 16; ++j) {
    const auto q0 = std::min<std::uint8_t>(15, static_cast<std::uint8_t>((x[j] - lo) * id + 0.5f));
    const auto q1 = std::min<std::uint8_t>(15, static_cast<std::uint8_t>((x[j + 16] - lo) * id + 0.5f));
    b.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
  }
  store(b, dst);
}

void quantize_q5_0(const float* x, std::byte* dst) {
  const float max = signed_absmax(x, 32);
  const float d = max / -16, id = d != 0 ? 1 / d : 0;
  BlockQ5_0 b{};
  b.d = f32_to_f16(d);
  std::uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const auto q0 =
        std::min<std::uint8_t>(31, static_cast<std::uint8_t>(static_cast<std::int8_t>(x[j] * id + 16.5f)));
    const auto q1 =
        std::min<std::uint8_t>(31, static_cast<std::uint8_t>(static_cast<std::int8_t>(x[j + 16] * id + 16.5f)));
    b.qs[j] = static_cast<std::uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
    qh |= static_cast<std::uint32_t>((q0 & 0x10U) >> 4) << j;
    qh |= static_cast<std::uint32_t>((q1 & 0x10U) >> 4) << (j + 16);
  }
  std::memcpy(b.qh, &qh, sizeof qh);
  store(b, dst);
}

void quantize_q5_1(const float* x, std::byte* dst) {
  const float lo = *std::min_element(x, x + 32), hi = *std::max_element(x, x + 32);
  const float d = (hi - lo) / 31, id = d != 0 ? 1 / d : 0;
  BlockQ5_1 b{};
  b.d = f32_to_f16(d);
  b.m = f32_to_f16(lo);
  std::uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const auto q0 = static_cast<std::uint8_t>((x[j] - lo) * id + 0.5f);
    const auto q1 = static_cast<std::uint8_t>((x[j + 16] - lo) * id + 0.5f);
    b.qs[j] = static_cast<std::uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
    qh |= static_cast<std::uint32_t>((q0 & 0x10U) >> 4) << j;
    qh |= static_cast<std::uint32_t>((q1 & 0x10U) >> 4) << (j + 16);
  }
  std::memcpy(b.qh, &qh, sizeof qh);
  store(b, dst);
}

void quantize_q4_k(const float* x, std::byte* dst) {
  const KQuant k = quantize_k(x, 15);
  BlockQ4_K b{};
  b.d = k.d;
  b.dmin = k.dmin;
  pack_scales_mins(k.scales, k.mins, b.scales);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      b.qs[32 * c + l] = static_cast<std::uint8_t>(k.q[64 * c + l] | (k.q[64 * c + 32 + l] << 4));
    }
  }
  store(b, dst);
}

void quantize_q5_k(const float* x, std::byte* dst) {
  const KQuant k = quantize_k(x, 31);
  BlockQ5_K b{};
  b.d = k.d;
  b.dmin = k.dmin;
  pack_scales_mins(k.scales, k.mins, b.scales);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      const std::uint8_t q0 = k.q[64 * c + l], q1 = k.q[64 * c + 32 + l];
      b.qs[32 * c + l] = static_cast<std::uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      if ((q0 & 0x10) != 0) b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | (1U << (2 * c)));
      if ((q1 & 0x10) != 0) b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | (1U << (2 * c + 1)));
    }
  }
  store(b, dst);
}

void quantize_q6_k(const float* x, std::byte* dst) {
  // Per sub-block of 16 a signed scale (search_scale_q6), then the scales as int8
  // against d = max |scale| / 127.
  float scale[16];
  float max_scale = 0, max_abs_scale = 0;
  for (int j = 0; j < 16; ++j) {
    scale[j] = search_scale_q6(x + 16 * j, 16);
    if (std::fabs(scale[j]) > max_abs_scale) {
      max_abs_scale = std::fabs(scale[j]);
      max_scale = scale[j];
    }
  }
  BlockQ6_K b{};
  const float d_wanted = max_scale / -127;
  b.d = f32_to_f16(d_wanted);
  const float d = f16_to_f32(b.d);
  std::uint8_t q[256];
  for (int j = 0; j < 16; ++j) {
    b.scales[j] = static_cast<std::int8_t>(d != 0 ? std::clamp(std::lround(scale[j] / d), -127L, 127L) : 0);
    const float step = d * b.scales[j];
    for (int i = 0; i < 16; ++i) {
      const long v = step != 0 ? std::lround(x[16 * j + i] / step) : 0;
      q[16 * j + i] = static_cast<std::uint8_t>(std::clamp(v, -32L, 31L) + 32);
    }
  }
  for (int n = 0; n < 2; ++n) {
    for (int l = 0; l < 32; ++l) {
      const std::uint8_t q1 = q[128 * n + l], q2 = q[128 * n + l + 32], q3 = q[128 * n + l + 64],
                         q4 = q[128 * n + l + 96];
      b.ql[64 * n + l] = static_cast<std::uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
      b.ql[64 * n + l + 32] = static_cast<std::uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
      b.qh[32 * n + l] = static_cast<std::uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
  store(b, dst);
}

}  // namespace helix
