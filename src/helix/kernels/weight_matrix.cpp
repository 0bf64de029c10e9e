#include "helix/kernels/weight_matrix.h"

#include "helix/core/error.h"

namespace helix {

WeightMatrix WeightMatrix::make(DType dtype, std::int64_t rows, std::int64_t cols, const std::byte* data) {
  if (rows < 1) fail("WeightMatrix ({}): rows must be >= 1, got {}", dtype_name(dtype), rows);
  if (cols < 1) fail("WeightMatrix ({}): cols must be >= 1, got {}", dtype_name(dtype), cols);
  if (const int block = dtype_block_elements(dtype); block > 1 && cols % block != 0) {
    fail("WeightMatrix ({}): cols must be a multiple of {} (one block per {} inputs), got {}", dtype_name(dtype),
         block, block, cols);
  }
  if (data == nullptr) fail("WeightMatrix ({}, {} x {}): data is null", dtype_name(dtype), rows, cols);
  WeightMatrix w;
  w.dtype = dtype;
  w.rows = rows;
  w.cols = cols;
  w.data = data;
  w.row_bytes = dtype_row_bytes(dtype, cols);
  // The whole matrix must be addressable too (row_bytes * rows without overflow).
  if (static_cast<std::size_t>(rows) > static_cast<std::size_t>(-1) / w.row_bytes) {
    fail("WeightMatrix ({}): {} rows of {} bytes do not fit in memory", dtype_name(dtype), rows, w.row_bytes);
  }
  return w;
}

}  // namespace helix
