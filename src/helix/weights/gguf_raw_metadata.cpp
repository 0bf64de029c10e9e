#include "helix/weights/gguf_raw_metadata.h"

#include <array>
#include <cstring>

#include "helix/core/error.h"
#include "helix/weights/byte_cursor.h"
#include "helix/weights/gguf_format.h"
#include "helix/weights/mapped_file.h"

namespace helix {
namespace {

using gguf::ValueType;

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
void skip_value(ByteCursor& in, std::uint32_t type, int depth) {
  if (type == static_cast<std::uint32_t>(ValueType::String)) {
    in.read_string("a string value");
    return;
  }
  if (type == static_cast<std::uint32_t>(ValueType::Array)) {
    if (depth > 4) fail("arrays nested deeper than 4");
    const auto element = in.read<std::uint32_t>("an array's element type");
    const auto count = in.read<std::uint64_t>("an array's length");
    if (const std::size_t size = scalar_size(element); size > 0) {
      if (count > (std::uint64_t{1} << 40) / size) fail("an array of {} elements is implausibly long", count);
      in.skip(count * size, "an array's elements");
      return;
    }
    for (std::uint64_t i = 0; i < count; ++i) skip_value(in, element, depth + 1);
    return;
  }
  const std::size_t size = scalar_size(type);
  if (size == 0) fail("unknown value type {}", type);
  in.skip(size, "a value");
}

}  // namespace

std::vector<GgufEntry> read_gguf_raw_metadata(const std::filesystem::path& file) {
  const auto mapped = MappedFile::open(file);
  return in_context(file.string(), [&] {
    ByteCursor in(mapped->data(), mapped->size(), "header");  // in_context names the file
    const auto magic = in.read<std::array<char, 4>>("the magic");
    if (std::memcmp(magic.data(), gguf::kMagic, 4) != 0) fail("bad magic: not a GGUF file");
    const auto version = in.read<std::uint32_t>("the version");
    if (version < 2) fail("GGUF version {} is not supported (2 or 3)", version);
    in.read<std::uint64_t>("the tensor count");
    const auto count = in.read<std::uint64_t>("the key/value count");
    std::vector<GgufEntry> entries;
    for (std::uint64_t i = 0; i < count; ++i) {
      GgufEntry entry;
      entry.key = in.read_string("a key");
      GgufRawValue raw;
      raw.type = in.read<std::uint32_t>("a value type");
      const std::size_t begin = in.offset();
      in_context(entry.key, [&] { skip_value(in, raw.type, 0); });
      raw.bytes.assign(reinterpret_cast<const char*>(mapped->data()) + begin, in.offset() - begin);
      entry.value = std::move(raw);
      entries.push_back(std::move(entry));
    }
    return entries;
  });
}

}  // namespace helix
