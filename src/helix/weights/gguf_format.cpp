#include "helix/weights/gguf_format.h"

namespace helix::gguf {

std::optional<DType> dtype_of(std::uint32_t ggml_type) {
  switch (static_cast<TensorType>(ggml_type)) {
    case TensorType::F32: return DType::F32;
    case TensorType::F16: return DType::F16;
    case TensorType::Q8_0: return DType::Q8_0;
    case TensorType::BF16: return DType::BF16;
    case TensorType::Q4_0: return DType::Q4_0;
    case TensorType::Q4_1: return DType::Q4_1;
    case TensorType::Q5_0: return DType::Q5_0;
    case TensorType::Q5_1: return DType::Q5_1;
    case TensorType::Q4_K: return DType::Q4_K;
    case TensorType::Q5_K: return DType::Q5_K;
    case TensorType::Q6_K: return DType::Q6_K;
  }
  return std::nullopt;
}

TensorType tensor_type_of(DType dtype) {
  switch (dtype) {
    case DType::F32: return TensorType::F32;
    case DType::F16: return TensorType::F16;
    case DType::Q8_0: return TensorType::Q8_0;
    case DType::BF16: return TensorType::BF16;
    case DType::Q4_0: return TensorType::Q4_0;
    case DType::Q4_1: return TensorType::Q4_1;
    case DType::Q5_0: return TensorType::Q5_0;
    case DType::Q5_1: return TensorType::Q5_1;
    case DType::Q4_K: return TensorType::Q4_K;
    case DType::Q5_K: return TensorType::Q5_K;
    case DType::Q6_K: return TensorType::Q6_K;
  }
  return TensorType::F32;
}

std::string_view value_type_name(std::uint32_t type) {
  constexpr std::string_view kNames[] = {"UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32", "FLOAT32",
                                         "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64"};
  return type < std::size(kNames) ? kNames[type] : std::string_view("?");
}

}  // namespace helix::gguf
