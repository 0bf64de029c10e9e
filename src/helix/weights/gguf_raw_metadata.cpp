#include "helix/weights/gguf_raw_metadata.h"

#include <cstring>

#include "helix/core/error.h"
#include "helix/weights/gguf_format.h"
#include "helix/weights/mapped_file.h"

namespace helix {
namespace {

using gguf::ValueType;

// A bounds-checked reader over the mapped file.
class Reader {
 public:
  Reader(const std::byte* data, std::size_t size) : data_(data), size_(size) {}

  template <typename T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof value), sizeof value);
    return value;
  }
  const std::byte* take(std::size_t n) {
    if (n > size_ - pos_) fail("the header is cut short at byte {}", pos_);
    const std::byte* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  std::string string() {
    const auto n = get<std::uint64_t>();
    if (n > size_ - pos_) fail("a string of {} bytes at byte {} goes past the end", n, pos_);
    const std::byte* p = take(static_cast<std::size_t>(n));
    return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)};
  }
  std::size_t pos() const { return pos_; }

 private:
  const std::byte* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

std::size_t scalar_size(std::uint32_t type) {
  switch (static_cast<ValueType>(type)) {
    case ValueType::Uint8:
    case ValueType::Int8:
    case ValueType::Bool: return 1;
    case ValueType::Uint16:
    case ValueType::Int16: return 2;
    case ValueType::Uint32:
    case ValueType::Int32:
    case ValueType::Float32: return 4;
    case ValueType::Uint64:
    case ValueType::Int64:
    case ValueType::Float64: return 8;
    default: return 0;
  }
}

// Moves past one value of `type` (nested arrays included).
void skip_value(Reader& in, std::uint32_t type, int depth) {
  if (type == static_cast<std::uint32_t>(ValueType::String)) {
    in.string();
    return;
  }
  if (type == static_cast<std::uint32_t>(ValueType::Array)) {
    if (depth > 4) fail("arrays nested deeper than 4");
    const auto element = in.get<std::uint32_t>();
    const auto count = in.get<std::uint64_t>();
    if (const std::size_t size = scalar_size(element); size > 0) {
      if (count > (std::uint64_t{1} << 40) / size) fail("an array of {} elements is implausibly long", count);
      in.take(static_cast<std::size_t>(count) * size);
      return;
    }
    for (std::uint64_t i = 0; i < count; ++i) skip_value(in, element, depth + 1);
    return;
  }
  const std::size_t size = scalar_size(type);
  if (size == 0) fail("unknown value type {}", type);
  in.take(size);
}

}  // namespace

std::vector<GgufEntry> read_gguf_raw_metadata(const std::filesystem::path& file) {
  const auto mapped = MappedFile::open(file);
  return in_context(file.string(), [&] {
    Reader in(mapped->data(), mapped->size());
    if (std::memcmp(in.take(4), gguf::kMagic, 4) != 0) fail("bad magic: not a GGUF file");
    const auto version = in.get<std::uint32_t>();
    if (version < 2) fail("GGUF version {} is not supported (2 or 3)", version);
    in.get<std::uint64_t>();  // tensor count
    const auto count = in.get<std::uint64_t>();
    std::vector<GgufEntry> entries;
    for (std::uint64_t i = 0; i < count; ++i) {
      GgufEntry entry;
      entry.key = in.string();
      GgufRawValue raw;
      raw.type = in.get<std::uint32_t>();
      const std::size_t begin = in.pos();
      in_context(entry.key, [&] { skip_value(in, raw.type, 0); });
      raw.bytes.assign(reinterpret_cast<const char*>(mapped->data()) + begin, in.pos() - begin);
      entry.value = std::move(raw);
      entries.push_back(std::move(entry));
    }
    return entries;
  });
}

}  // namespace helix
