#include "helix/weights/gguf_writer.h"

#include <cstring>
#include <set>
#include <type_traits>

#include "helix/core/error.h"
#include "helix/weights/file_sink.h"
#include "helix/weights/gguf_format.h"

namespace helix {
namespace {

using gguf::ValueType;

constexpr std::size_t kMaxNameBytes = 63;  // ggml's GGML_MAX_NAME (64) minus the terminator

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

template <typename T>
constexpr ValueType value_type_of() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return ValueType::Uint8;
  else if constexpr (std::is_same_v<T, std::int8_t>) return ValueType::Int8;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return ValueType::Uint16;
  else if constexpr (std::is_same_v<T, std::int16_t>) return ValueType::Int16;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return ValueType::Uint32;
  else if constexpr (std::is_same_v<T, std::int32_t>) return ValueType::Int32;
  else if constexpr (std::is_same_v<T, float>) return ValueType::Float32;
  else if constexpr (std::is_same_v<T, bool>) return ValueType::Bool;
  else if constexpr (std::is_same_v<T, std::string>) return ValueType::String;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return ValueType::Uint64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return ValueType::Int64;
  else if constexpr (std::is_same_v<T, double>) return ValueType::Float64;
  else static_assert(IsVector<T>::value, "every GgufValue alternative needs a GGUF type");
  return ValueType::Array;
}

// The header (everything before the data section), built in memory: it is small next
// to the tensors, even with a tokenizer's vocabulary in it.
class HeaderBytes {
 public:
  template <typename T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const char*>(&value);
    bytes_.append(p, sizeof value);
  }
  void put_bytes(std::string_view s) { bytes_.append(s); }
  void put_string(std::string_view s) {
    put<std::uint64_t>(s.size());
    put_bytes(s);
  }
  void put_type(ValueType type) { put(static_cast<std::uint32_t>(type)); }

  template <typename T>
  void put_scalar(const T& value) {
    if constexpr (std::is_same_v<T, std::string>) put_string(value);
    else if constexpr (std::is_same_v<T, bool>) put<std::uint8_t>(value ? 1 : 0);
    else put(value);
  }

  void put_value(const GgufValue& value) {
    std::visit(
        [this](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, GgufRawValue>) {
            put(v.type);
            put_bytes(v.bytes);
          } else if constexpr (IsVector<T>::value) {
            put_type(ValueType::Array);
            put_type(value_type_of<typename T::value_type>());
            put<std::uint64_t>(v.size());
            for (const auto& item : v) put_scalar(item);
          } else {
            put_type(value_type_of<T>());
            put_scalar(v);
          }
        },
        value);
  }

  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

std::uint64_t alignment_of(const std::vector<GgufEntry>& metadata, const std::string& where) {
  std::set<std::string> seen;
  std::uint64_t alignment = gguf::kDefaultAlignment;
  for (const GgufEntry& entry : metadata) {
    if (entry.key.empty()) fail("{}: a metadata entry has an empty key", where);
    if (!seen.insert(entry.key).second) fail("{}: metadata key '{}' is given twice", where, entry.key);
    if (entry.key != gguf::kAlignmentKey) continue;
    const auto* value = std::get_if<std::uint32_t>(&entry.value);
    if (value == nullptr || *value == 0 || (*value & (*value - 1)) != 0) {
      fail("{}: metadata '{}' must be a UINT32 power of two", where, gguf::kAlignmentKey);
    }
    alignment = *value;
  }
  return alignment;
}

std::size_t checked_size(const TensorData& t, const std::string& where) {
  std::string what = fmt::format("{}: tensor '{}'", where, t.name);
  if (t.name.empty()) fail("{}: a tensor has an empty name", where);
  if (t.name.size() > kMaxNameBytes) fail("{}: the name is longer than ggml's {} bytes", what, kMaxNameBytes);
  if (t.shape.size() > gguf::kMaxDims) fail("{}: GGUF allows at most {} dimensions, got {}", what, gguf::kMaxDims, t.shape.size());
  if (const int block = dtype_block_elements(t.dtype);
      block > 1 && (t.shape.empty() || t.shape.back() % block != 0)) {
    fail("{}: {} needs the innermost dimension to be a multiple of {}", what, dtype_name(t.dtype), block);
  }
  if (!t.fill) fail("{}: no fill callback", what);
  return in_context(where, [&] { return tensor_nbytes(t); });
}

std::uint64_t align_up(std::uint64_t offset, std::uint64_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

}  // namespace

void write_gguf(const std::filesystem::path& file, const std::vector<GgufEntry>& metadata,
                const std::vector<TensorData>& tensors) {
  const std::string where = file.string();
  std::uint64_t alignment = alignment_of(metadata, where);
  std::set<std::string> names;
  std::vector<std::size_t> sizes;
  std::vector<std::uint64_t> offsets;
  std::uint64_t data_bytes = 0;
  for (const TensorData& t : tensors) {
    if (!names.insert(t.name).second) fail("{}: tensor '{}' is given twice", where, t.name);
    sizes.push_back(checked_size(t, where));
    offsets.push_back(data_bytes);
    data_bytes = align_up(data_bytes + sizes.back(), alignment);
  }

  HeaderBytes header;
  header.put_bytes(std::string_view(gguf::kMagic, sizeof gguf::kMagic));
  header.put(gguf::kVersion);
  header.put<std::uint64_t>(tensors.size());
  header.put<std::uint64_t>(metadata.size());
  for (const GgufEntry& entry : metadata) {
    header.put_string(entry.key);
    header.put_value(entry.value);
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    header.put_string(tensors[i].name);
    header.put(static_cast<std::uint32_t>(tensors[i].shape.size()));
    for (auto d = tensors[i].shape.rbegin(); d != tensors[i].shape.rend(); ++d) header.put(static_cast<std::uint64_t>(*d));
    header.put(static_cast<std::uint32_t>(gguf::tensor_type_of(tensors[i].dtype)));
    header.put(offsets[i]);
  }

  FileSink sink(file);
  sink.write(header.bytes());
  std::uint64_t data_start = align_up(sink.offset(), alignment);
  sink.write_zeros(static_cast<std::size_t>(data_start - sink.offset()));
  std::vector<std::byte> buffer;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    sink.write_zeros(static_cast<std::size_t>(data_start + offsets[i] - sink.offset()));
    buffer.assign(sizes[i], std::byte{0});
    in_context(fmt::format("{}: tensor '{}'", where, tensors[i].name), [&] { tensors[i].fill(buffer); });
    sink.write(buffer);
  }
  sink.write_zeros(static_cast<std::size_t>(data_start + data_bytes - sink.offset()));
  sink.commit();
}

}  // namespace helix
