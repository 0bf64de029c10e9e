// WeightMatrix: a view of one Linear layer's weight as stored in a weight file.
//
// Row-major [rows = out features][cols = in features], exactly as a Hugging Face
// Linear weight (and a GGUF tensor with ne0 = cols) is laid out, in its file dtype.
// The kernels read it in place, so `data` may point into a read-only mmap and need
// not be aligned (safetensors and GGUF do not promise alignment). The view does not
// own the bytes; they must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "helix/weights/dtype.h"

namespace helix {

struct WeightMatrix {
  DType dtype = DType::F32;
  std::int64_t rows = 0, cols = 0;
  const std::byte* data = nullptr;
  std::size_t row_bytes = 0;  // bytes of one row: dtype_row_bytes(dtype, cols)

  // Checks the shape (rows, cols >= 1; Q8_0 cols a multiple of 32) and data != null,
  // and computes row_bytes. Throws Error naming the field at fault.
  static WeightMatrix make(DType dtype, std::int64_t rows, std::int64_t cols, const std::byte* data);

  // Bytes of the whole matrix.
  std::size_t bytes() const { return row_bytes * static_cast<std::size_t>(rows); }
  const std::byte* row(std::int64_t r) const { return data + static_cast<std::size_t>(r) * row_bytes; }
};

}  // namespace helix
