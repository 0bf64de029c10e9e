// TensorData: a tensor to be written, described by name, dtype and shape, with a
// callback that produces its bytes.
//
// Models are GBs, so the writers never hold a whole model: they lay out the header
// from names/dtypes/shapes, then call each tensor's `fill` once, in order, with a
// zeroed buffer of exactly dtype_row_bytes(dtype, elements) bytes, and write it out
// before asking for the next. Only one tensor's bytes are in memory at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "helix/weights/dtype.h"

namespace helix {

struct TensorData {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;                  // outermost first, as TensorRef
  std::function<void(std::span<std::byte>)> fill;  // writes the tensor's bytes into the span
};

// Byte size of `tensor`; Error naming the tensor for a negative or overflowing shape,
// or a Q8_0 element count that is not a multiple of 32.
std::size_t tensor_nbytes(const TensorData& tensor);

// A tensor holding `values` (row-major, outermost first), converted or quantized to
// `dtype` when written. Error unless values.size() is the product of `shape`.
TensorData tensor_from_f32(std::string name, DType dtype, std::vector<std::int64_t> shape, std::vector<float> values);

// A tensor whose bytes are given as they go into the file (e.g. already quantized).
// Error unless bytes.size() == dtype_row_bytes(dtype, product of shape).
TensorData tensor_from_bytes(std::string name, DType dtype, std::vector<std::int64_t> shape,
                             std::vector<std::byte> bytes);

}  // namespace helix
