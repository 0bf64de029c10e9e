// Helpers for the weights tests: capture an Error's message, build raw file bytes
// (little-endian integers, GGUF strings, a safetensors container around a header) to
// hand-corrupt files, and compare tensor bytes.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "helix/core/error.h"
#include "support/error_expectations.h"
#include "helix/weights/tensor_store.h"

namespace helix::test {

template <typename T>
std::string le(T value) {
  std::string out(sizeof value, '\0');
  std::memcpy(out.data(), &value, sizeof value);
  return out;
}
inline std::string le_u32(std::uint32_t v) { return le(v); }
inline std::string le_u64(std::uint64_t v) { return le(v); }
inline std::string gguf_string(std::string_view s) { return le_u64(s.size()) + std::string(s); }

// A safetensors file: u64 header length, the header text, then `data`.
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return le_u64(header.size()) + header + data;
}

// The bytes a tensor points at.
inline std::string tensor_bytes(const TensorRef& t) {
  return std::string(reinterpret_cast<const char*>(t.data), t.nbytes);
}

inline std::string bytes_text(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// n deterministic values in [-scale, scale), varied enough to exercise rounding.
inline std::vector<float> test_values(std::size_t n, float scale, std::uint32_t seed = 1) {
  std::vector<float> v(n);
  std::uint32_t state = seed * 2654435761u + 12345u;
  for (float& x : v) {
    state = state * 1664525u + 1013904223u;
    x = (static_cast<float>(state >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
  }
  return v;
}

}  // namespace helix::test
