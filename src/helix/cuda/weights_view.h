// A weight matrix on the device as the kernels see it: plain pointers and sizes, no
// CUDA or C++20 types, so that the .cu files (C++17) and the host code share it.
// DeviceMatrix (device_matrix.h) owns the memory; view_of() gives this view.
#pragma once

#include <cstdint>

namespace helix::cuda_detail {

enum class WeightsKind { kF32, kBf16, kQ8_0, kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ4_K, kQ5_K, kQ6_K };

// Row-major, no padding:
//  * F32, BF16: `values` rows x cols f32 or bf16 bits;
//  * Q8_0: `values` rows x cols int8 quants, `scales` rows x cols / 32 f16 bits
//    (value = quant * scale);
//  * Q4_0, Q4_1, Q5_0, Q5_1 (18, 20, 22, 24 bytes per 32 values), Q4_K (144 per
//    256) and Q5_K (176 per 256): `values` the GGUF blocks as stored;
//  * Q6_K: planes of its super-blocks: `values` the low bits (ql, cols / 2 bytes a
//    row), `high` the high bits (qh, cols / 4), `small_scales` the int8 scales
//    (cols / 16), `scales` the f16 d (cols / 256).
// The arithmetic of every block type is weights/block_values.h's.
struct WeightsView {
  WeightsKind kind = WeightsKind::kF32;
  const void* values = nullptr;
  const std::uint16_t* scales = nullptr;
  const std::uint8_t* high = nullptr;
  const std::int8_t* small_scales = nullptr;
  std::int64_t rows = 0, cols = 0;
};

}  // namespace helix::cuda_detail
