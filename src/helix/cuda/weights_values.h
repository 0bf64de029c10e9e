// Eight consecutive values of a block-quantized matrix row on the device, as the
// CPU dequantizes them: Q8_0's q * d (exact in f32), and the K-quants through
// weights/k_quant_values.h, the very functions the CPU's dequantizers call. For the
// kernels (.cu files) only.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "helix/cuda/weights_view.h"
#include "helix/weights/k_quant_values.h"

namespace helix::cuda_detail {

__device__ inline float f16_value(std::uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

// Values k..k+7 of row r (k a multiple of 8) of a Q8_0, Q4_K or Q6_K matrix; the
// kind a template argument where the caller knows it (the matvec kernels).
template <WeightsKind Kind>
__device__ inline void values8_of(const WeightsView& w, std::int64_t r, std::int64_t k, float* out) {
  const std::int64_t at = r * w.cols + k;
  if constexpr (Kind == WeightsKind::kQ8_0) {
    const float d = f16_value(w.scales[at >> 5]);
    const auto* q = static_cast<const std::int8_t*>(w.values) + at;
    for (int i = 0; i < 8; ++i) out[i] = static_cast<float>(q[i]) * d;
  } else if constexpr (Kind == WeightsKind::kQ4_K) {
    const auto* block = static_cast<const std::uint8_t*>(w.values) + (at / 256) * 144;
    const float d = f16_value(static_cast<std::uint16_t>(block[0] | (block[1] << 8)));
    const float dmin = f16_value(static_cast<std::uint16_t>(block[2] | (block[3] << 8)));
    kquant::q4_k_values8(block + 4, block + 16, d, dmin, static_cast<int>(at % 256), out);
  } else {
    static_assert(Kind == WeightsKind::kQ6_K, "a block type");
    const std::int64_t b = at / 256;
    kquant::q6_k_values8(static_cast<const std::uint8_t*>(w.values) + b * 128, w.high + b * 64,
                         w.small_scales + b * 16, f16_value(w.scales[b]), static_cast<int>(at % 256), out);
  }
}

// The same, the kind read from the view (the widening and embedding kernels).
__device__ inline void values8(const WeightsView& w, std::int64_t r, std::int64_t k, float* out) {
  switch (w.kind) {
    case WeightsKind::kQ8_0: return values8_of<WeightsKind::kQ8_0>(w, r, k, out);
    case WeightsKind::kQ4_K: return values8_of<WeightsKind::kQ4_K>(w, r, k, out);
    case WeightsKind::kQ6_K: return values8_of<WeightsKind::kQ6_K>(w, r, k, out);
    default:
      for (int i = 0; i < 8; ++i) out[i] = 0.0f;  // not a block type: the callers never ask
  }
}

}  // namespace helix::cuda_detail
