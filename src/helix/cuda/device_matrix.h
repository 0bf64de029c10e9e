// A weight matrix on the current CUDA device, uploaded once: BF16 and F32 in their
// stored dtype (a stage's weights take on the GPU the bytes they take in the file),
// F16 widened to F32 (twice the bytes), so that x stays f32 as on the CPU: cuBLAS
// multiplies two 16-bit operands of one type, and x rounded to f16 would overflow
// past 65504. The block types (Q8_0, K-quants) are refused by name for now.
#pragma once

#include <cstddef>
#include <cstdint>

#include "helix/cuda/device_array.h"
#include "helix/kernels/weight_matrix.h"

namespace helix {

struct DeviceMatrix {
  DType dtype = DType::F32;  // as held on the device: F32 or BF16
  std::int64_t rows = 0, cols = 0;
  DeviceArray<std::byte> data;  // rows x cols, row-major, rows row_bytes() apart
  std::size_t row_bytes() const { return dtype_row_bytes(dtype, cols); }
};

// Fails (before touching the device) for a dtype the GPU kernels do not read yet.
DeviceMatrix upload_matrix(const WeightMatrix& w);

}  // namespace helix
