// A weight matrix on the current CUDA device: uploaded once, in its stored dtype, so
// a stage's weights take on the GPU the bytes they take in the file. F32, F16 and
// BF16 for now; the block types (Q8_0, K-quants) are refused by name.
#pragma once

#include <cstddef>
#include <cstdint>

#include "helix/cuda/device_array.h"
#include "helix/kernels/weight_matrix.h"

namespace helix {

struct DeviceMatrix {
  DType dtype = DType::F32;
  std::int64_t rows = 0, cols = 0;
  DeviceArray<std::byte> data;  // rows x cols, row-major, rows row_bytes() apart
  std::size_t row_bytes() const { return dtype_row_bytes(dtype, cols); }
};

// Fails (before touching the device) for a dtype the GPU kernels do not read yet.
DeviceMatrix upload_matrix(const WeightMatrix& w);

}  // namespace helix
