#include "helix/weights/tensor_data.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "helix/core/error.h"
#include "helix/weights/shape_math.h"

namespace helix {

std::size_t tensor_nbytes(const TensorData& tensor) {
  std::string where = fmt::format("tensor '{}'", tensor.name);
  std::int64_t elements = shape_elements(tensor.shape, where);
  return in_context(where, [&] { return dtype_row_bytes(tensor.dtype, elements); });
}

TensorData tensor_from_f32(std::string name, DType dtype, std::vector<std::int64_t> shape, std::vector<float> values) {
  std::int64_t elements = shape_elements(shape, fmt::format("tensor '{}'", name));
  if (values.size() != static_cast<std::uint64_t>(elements)) {
    fail("tensor '{}': shape {} needs {} values, got {}", name, shape_text(shape), elements, values.size());
  }
  TensorData tensor{std::move(name), dtype, std::move(shape), {}};
  tensor_nbytes(tensor);  // a Q8_0 block-multiple error now, not at write time
  auto shared = std::make_shared<const std::vector<float>>(std::move(values));
  tensor.fill = [shared, dtype](std::span<std::byte> out) {
    convert_from_f32(dtype, shared->data(), static_cast<std::int64_t>(shared->size()), out.data());
  };
  return tensor;
}

TensorData tensor_from_bytes(std::string name, DType dtype, std::vector<std::int64_t> shape,
                             std::vector<std::byte> bytes) {
  TensorData tensor{std::move(name), dtype, std::move(shape), {}};
  std::size_t expected = tensor_nbytes(tensor);
  if (bytes.size() != expected) {
    fail("tensor '{}': shape {} of {} needs {} bytes, got {}", tensor.name, shape_text(tensor.shape),
         dtype_name(dtype), expected, bytes.size());
  }
  auto shared = std::make_shared<const std::vector<std::byte>>(std::move(bytes));
  tensor.fill = [shared](std::span<std::byte> out) { std::copy(shared->begin(), shared->end(), out.begin()); };
  return tensor;
}

}  // namespace helix
