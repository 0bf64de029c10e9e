// A weight matrix on the device as the kernels see it: plain pointers and sizes, no
// CUDA or C++20 types, so that the .cu files (C++17) and the host code share it.
// DeviceMatrix (device_matrix.h) owns the memory; view_of() gives this view.
#pragma once

#include <cstdint>

namespace helix::cuda_detail {

enum class WeightsKind { kF32, kBf16, kQ8_0 };

// `values`: rows x cols, row-major, no padding: f32, bf16 bits, or int8 quants; for
// Q8_0 also `scales`, rows x cols / 32 f16 bits (value = quant * scale).
struct WeightsView {
  WeightsKind kind = WeightsKind::kF32;
  const void* values = nullptr;
  const std::uint16_t* scales = nullptr;
  std::int64_t rows = 0, cols = 0;
};

}  // namespace helix::cuda_detail
