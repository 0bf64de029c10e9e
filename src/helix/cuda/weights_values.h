// Eight consecutive values of a block-quantized matrix row on the device, as the
// CPU dequantizes them: Q8_0's q * d (exact in f32), and every other block type
// through weights/block_values.h, the functions the CPU's tests hold to its
// dequantizers' bits. For the kernels (.cu files) only.
#pragma once

#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>

#include "helix/cuda/weights_view.h"
#include "helix/weights/block_quants.h"
#include "helix/weights/block_values.h"

namespace helix::cuda_detail {

__device__ inline float f16_value(std::uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

// An f16 field of a block, read byte by byte: the blocks of 18 and 22 bytes leave
// their fields only 2-byte aligned, and the K-quants' after the first block of a
// row not even that within a wider load.
__device__ inline float f16_field(const std::uint8_t* block, std::size_t offset) {
  return f16_value(static_cast<std::uint16_t>(block[offset] | (block[offset + 1] << 8)));
}

// The block (as stored, `Block` bytes per `Values` values) that holds value `at`
// of a row-major matrix whose rows are whole blocks.
template <typename Block, int Values>
__device__ inline const std::uint8_t* block_of(const WeightsView& w, std::int64_t at) {
  return static_cast<const std::uint8_t*>(w.values) + (at / Values) * static_cast<std::int64_t>(sizeof(Block));
}

// Values k..k+7 of row r (k a multiple of 8) of a block-type matrix; the kind a
// template argument where the caller knows it (the matvec kernels).
template <WeightsKind Kind>
__device__ inline void values8_of(const WeightsView& w, std::int64_t r, std::int64_t k, float* out) {
  namespace bv = block_values;
  const std::int64_t at = r * w.cols + k;
  const int in32 = static_cast<int>(at % 32), in256 = static_cast<int>(at % 256);
  if constexpr (Kind == WeightsKind::kQ8_0) {
    const float d = f16_value(w.scales[at >> 5]);
    const auto* q = static_cast<const std::int8_t*>(w.values) + at;
    for (int i = 0; i < 8; ++i) out[i] = static_cast<float>(q[i]) * d;
  } else if constexpr (Kind == WeightsKind::kQ4_0) {
    const std::uint8_t* b = block_of<BlockQ4_0, 32>(w, at);
    bv::q4_0_values8(b + offsetof(BlockQ4_0, qs), f16_field(b, offsetof(BlockQ4_0, d)), in32, out);
  } else if constexpr (Kind == WeightsKind::kQ4_1) {
    const std::uint8_t* b = block_of<BlockQ4_1, 32>(w, at);
    bv::q4_1_values8(b + offsetof(BlockQ4_1, qs), f16_field(b, offsetof(BlockQ4_1, d)),
                     f16_field(b, offsetof(BlockQ4_1, m)), in32, out);
  } else if constexpr (Kind == WeightsKind::kQ5_0) {
    const std::uint8_t* b = block_of<BlockQ5_0, 32>(w, at);
    bv::q5_0_values8(b + offsetof(BlockQ5_0, qh), b + offsetof(BlockQ5_0, qs), f16_field(b, offsetof(BlockQ5_0, d)),
                     in32, out);
  } else if constexpr (Kind == WeightsKind::kQ5_1) {
    const std::uint8_t* b = block_of<BlockQ5_1, 32>(w, at);
    bv::q5_1_values8(b + offsetof(BlockQ5_1, qh), b + offsetof(BlockQ5_1, qs), f16_field(b, offsetof(BlockQ5_1, d)),
                     f16_field(b, offsetof(BlockQ5_1, m)), in32, out);
  } else if constexpr (Kind == WeightsKind::kQ4_K) {
    const std::uint8_t* b = block_of<BlockQ4_K, 256>(w, at);
    bv::q4_k_values8(b + offsetof(BlockQ4_K, scales), b + offsetof(BlockQ4_K, qs), f16_field(b, offsetof(BlockQ4_K, d)),
                     f16_field(b, offsetof(BlockQ4_K, dmin)), in256, out);
  } else if constexpr (Kind == WeightsKind::kQ5_K) {
    const std::uint8_t* b = block_of<BlockQ5_K, 256>(w, at);
    bv::q5_k_values8(b + offsetof(BlockQ5_K, scales), b + offsetof(BlockQ5_K, qh), b + offsetof(BlockQ5_K, qs),
                     f16_field(b, offsetof(BlockQ5_K, d)), f16_field(b, offsetof(BlockQ5_K, dmin)), in256, out);
  } else {
    static_assert(Kind == WeightsKind::kQ6_K, "a block type");
    const std::int64_t b = at / 256;
    bv::q6_k_values8(static_cast<const std::uint8_t*>(w.values) + b * 128, w.high + b * 64, w.small_scales + b * 16,
                     f16_value(w.scales[b]), in256, out);
  }
}

// The same, the kind read from the view (the widening and embedding kernels).
__device__ inline void values8(const WeightsView& w, std::int64_t r, std::int64_t k, float* out) {
  switch (w.kind) {
    case WeightsKind::kQ8_0: return values8_of<WeightsKind::kQ8_0>(w, r, k, out);
    case WeightsKind::kQ4_0: return values8_of<WeightsKind::kQ4_0>(w, r, k, out);
    case WeightsKind::kQ4_1: return values8_of<WeightsKind::kQ4_1>(w, r, k, out);
    case WeightsKind::kQ5_0: return values8_of<WeightsKind::kQ5_0>(w, r, k, out);
    case WeightsKind::kQ5_1: return values8_of<WeightsKind::kQ5_1>(w, r, k, out);
    case WeightsKind::kQ4_K: return values8_of<WeightsKind::kQ4_K>(w, r, k, out);
    case WeightsKind::kQ5_K: return values8_of<WeightsKind::kQ5_K>(w, r, k, out);
    case WeightsKind::kQ6_K: return values8_of<WeightsKind::kQ6_K>(w, r, k, out);
    default:
      for (int i = 0; i < 8; ++i) out[i] = 0.0f;  // not a block type: the callers never ask
  }
}

}  // namespace helix::cuda_detail
