// ByteCursor: bounds-checked little-endian reads from an untrusted byte buffer (a
// mapped GGUF header). Every read names what it was reading, so a truncated or
// corrupt file gives "<file>: truncated at offset N reading <what> ...", never a read
// past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "helix/core/error.h"

namespace helix {

class ByteCursor {
 public:
  ByteCursor(const std::byte* data, std::size_t size, std::string source)
      : data_(data), size_(size), source_(std::move(source)) {}

  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return size_ - offset_; }
  const std::string& source() const { return source_; }

  template <typename T>
  T read(std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T>);
    require(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }

  // A gguf string: u64 length, then that many bytes (no terminator).
  std::string read_string(std::string_view what) {
    auto length = read<std::uint64_t>(what);
    require(length, what);
    std::string out(reinterpret_cast<const char*>(data_ + offset_), static_cast<std::size_t>(length));
    offset_ += static_cast<std::size_t>(length);
    return out;
  }

  // Moves past `bytes` bytes (failing unless they are there).
  void skip(std::uint64_t bytes, std::string_view what) {
    require(bytes, what);
    offset_ += static_cast<std::size_t>(bytes);
  }

  // Fails unless `bytes` more bytes are there.
  void require(std::uint64_t bytes, std::string_view what) const {
    if (bytes > remaining()) {
      fail("{}: truncated at offset {} reading {}: needs {} bytes, only {} left", source_, offset_, what, bytes,
           remaining());
    }
  }

 private:
  const std::byte* data_;
  std::size_t size_;
  std::string source_;
  std::size_t offset_ = 0;
};

}  // namespace helix
