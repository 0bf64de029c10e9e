// GGUF constants shared by the reader and the writer (ggml's GGUF spec, v2/v3).
//
// Layout: "GGUF", u32 version, u64 tensor_count, u64 kv_count, the key/values
// (gguf string key = u64 length + bytes, u32 value type, value), the tensor infos
// (name, u32 n_dims, u64 ne[n_dims] innermost first, u32 ggml type, u64 offset into the
// data section, a multiple of the alignment), padding to the alignment, the data.
// v1 used u32 counts and lengths and is not supported.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "helix/weights/dtype.h"

namespace helix::gguf {

inline constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
inline constexpr std::uint32_t kVersion = 3;
inline constexpr std::uint32_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";
inline constexpr std::uint32_t kMaxDims = 4;

enum class ValueType : std::uint32_t {
  Uint8 = 0,
  Int8 = 1,
  Uint16 = 2,
  Int16 = 3,
  Uint32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  Uint64 = 10,
  Int64 = 11,
  Float64 = 12,
};

// ggml tensor types this module reads and writes (ggml numbers the others too).
enum class TensorType : std::uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
};

std::optional<DType> dtype_of(std::uint32_t ggml_type);
TensorType tensor_type_of(DType dtype);
std::string_view value_type_name(std::uint32_t type);  // "UINT32", ...; "?" if unknown

}  // namespace helix::gguf
