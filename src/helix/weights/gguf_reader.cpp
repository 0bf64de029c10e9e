#include "helix/weights/gguf_reader.h"

#include <algorithm>
#include <limits>
#include <unordered_set>
#include <vector>

#include "helix/core/error.h"
#include "helix/weights/byte_cursor.h"
#include "helix/weights/gguf_format.h"
#include "helix/weights/shape_math.h"

namespace helix {
namespace {

using nlohmann::json;
using gguf::ValueType;

// Arrays of arrays are legal GGUF; deeper nesting than this is taken as corruption.
constexpr int kMaxArrayDepth = 8;

// Names of the ggml tensor types, for messages about the unsupported ones.
std::string ggml_type_text(std::uint32_t type) {
  constexpr std::string_view kNames[] = {
      "F32",    "F16",   "Q4_0",    "Q4_1",    "",       "",      "Q5_0",   "Q5_1",   "Q8_0",   "Q8_1",
      "Q2_K",   "Q3_K",  "Q4_K",    "Q5_K",    "Q6_K",   "Q8_K",  "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
      "IQ4_NL", "IQ3_S", "IQ2_S",   "IQ4_XS",  "I8",     "I16",   "I32",    "I64",    "F64",    "IQ1_M",
      "BF16",   "",      "",        "",        "TQ1_0",  "TQ2_0", "",       "",       "",       "MXFP4"};
  if (type < std::size(kNames) && !kNames[type].empty()) return fmt::format("{} ({})", type, kNames[type]);
  return fmt::format("{}", type);
}

// Smallest encoded size of one value of `type`, to bound an array's count by the bytes left.
std::uint64_t min_value_bytes(ValueType type) {
  switch (type) {
    case ValueType::Uint8:
    case ValueType::Int8:
    case ValueType::Bool: return 1;
    case ValueType::Uint16:
    case ValueType::Int16: return 2;
    case ValueType::Uint32:
    case ValueType::Int32:
    case ValueType::Float32: return 4;
    case ValueType::String:
    case ValueType::Uint64:
    case ValueType::Int64:
    case ValueType::Float64: return 8;
    case ValueType::Array: return 12;
  }
  return 1;
}

bool known_value_type(std::uint32_t type) { return type <= static_cast<std::uint32_t>(ValueType::Float64); }

class GgufParser {
 public:
  explicit GgufParser(const MappedFile& file)
      : file_(file), where_(file.path().string()), cursor_(file.data(), file.size(), where_) {}

  TensorStore::Contents parse() {
    read_preamble();
    auto tensor_count = cursor_.read<std::uint64_t>("tensor_count");
    auto kv_count = cursor_.read<std::uint64_t>("kv_count");
    for (std::uint64_t i = 0; i < kv_count; ++i) read_key_value(i);
    std::uint64_t alignment = read_alignment();
    std::vector<TensorRef> tensors;
    std::vector<std::uint64_t> offsets;
    for (std::uint64_t i = 0; i < tensor_count; ++i) read_tensor_info(i, alignment, tensors, offsets);
    return finish(alignment, std::move(tensors), offsets);
  }

 private:
  void read_preamble() {
    if (file_.size() < sizeof gguf::kMagic || !std::equal(std::begin(gguf::kMagic), std::end(gguf::kMagic),
                                                          reinterpret_cast<const char*>(file_.data()))) {
      fail("{}: bad magic (the first 4 bytes are not \"GGUF\"): not a GGUF file", where_);
    }
    cursor_.read<std::uint32_t>("magic");
    auto version = cursor_.read<std::uint32_t>("version");
    if (version == 1) fail("{}: GGUF version 1 is not supported (it used 32-bit counts); supported: 2, 3", where_);
    if (version != 2 && version != 3) {
      std::uint32_t swapped = __builtin_bswap32(version);
      fail("{}: unsupported GGUF version {} (supported: 2, 3){}", where_, version,
           swapped == 2 || swapped == 3 ? "; this looks like a big-endian file" : "");
    }
  }

  void read_key_value(std::uint64_t index) {
    std::string key = cursor_.read_string(fmt::format("the key of key/value #{}", index));
    std::string what = fmt::format("key '{}'", key);
    auto type = cursor_.read<std::uint32_t>(what + " value type");
    json value = read_value(type, what, 0);
    if (metadata_.contains(key)) fail("{}: {} appears twice", where_, what);
    metadata_[key] = std::move(value);
  }

  json read_value(std::uint32_t type, const std::string& what, int depth) {
    if (!known_value_type(type)) fail("{}: {}: unknown value type {}", where_, what, type);
    switch (static_cast<ValueType>(type)) {
      case ValueType::Uint8: return cursor_.read<std::uint8_t>(what);
      case ValueType::Int8: return cursor_.read<std::int8_t>(what);
      case ValueType::Uint16: return cursor_.read<std::uint16_t>(what);
      case ValueType::Int16: return cursor_.read<std::int16_t>(what);
      case ValueType::Uint32: return cursor_.read<std::uint32_t>(what);
      case ValueType::Int32: return cursor_.read<std::int32_t>(what);
      case ValueType::Float32: return static_cast<double>(cursor_.read<float>(what));
      case ValueType::Uint64: return cursor_.read<std::uint64_t>(what);
      case ValueType::Int64: return cursor_.read<std::int64_t>(what);
      case ValueType::Float64: return cursor_.read<double>(what);
      case ValueType::Bool: return read_bool(what);
      case ValueType::String: return cursor_.read_string(what);
      case ValueType::Array: return read_array(what, depth);
    }
    return nullptr;
  }

  json read_bool(const std::string& what) {
    auto byte = cursor_.read<std::uint8_t>(what);
    if (byte > 1) fail("{}: {}: a BOOL must be 0 or 1, got {}", where_, what, byte);
    return byte == 1;
  }

  json read_array(const std::string& what, int depth) {
    if (depth >= kMaxArrayDepth) fail("{}: {}: arrays nested more than {} deep", where_, what, kMaxArrayDepth);
    auto element_type = cursor_.read<std::uint32_t>(what + " array element type");
    if (!known_value_type(element_type)) fail("{}: {}: unknown array element type {}", where_, what, element_type);
    auto count = cursor_.read<std::uint64_t>(what + " array length");
    std::uint64_t min_bytes = min_value_bytes(static_cast<ValueType>(element_type));
    if (count > cursor_.remaining() / min_bytes) {
      fail("{}: truncated at offset {}: {} is an array of {} {} values, more than the {} bytes left can hold", where_,
           cursor_.offset(), what, count, gguf::value_type_name(element_type), cursor_.remaining());
    }
    json array = json::array();
    auto& items = array.get_ref<json::array_t&>();
    items.reserve(static_cast<std::size_t>(count));
    // Vocabularies have 10^5 entries: name the element only if one fails.
    std::string element = what + " array element";
    for (std::uint64_t i = 0; i < count; ++i) {
      try {
        items.push_back(read_value(element_type, element, depth + 1));
      } catch (const Error& e) {
        throw Error(fmt::format("{} (element {} of {})", e.what(), i, count));
      }
    }
    return array;
  }

  std::uint64_t read_alignment() const {
    auto it = metadata_.find(gguf::kAlignmentKey);
    if (it == metadata_.end()) return gguf::kDefaultAlignment;
    if (!it->is_number_integer() || it->get<std::int64_t>() <= 0) {
      fail("{}: key '{}' must be a positive integer, got {}", where_, gguf::kAlignmentKey,
           it->dump(-1, ' ', false, json::error_handler_t::replace));
    }
    auto alignment = it->get<std::uint64_t>();
    if ((alignment & (alignment - 1)) != 0 || alignment > (1u << 30)) {
      fail("{}: key '{}' must be a power of two (at most 2^30), got {}", where_, gguf::kAlignmentKey, alignment);
    }
    return alignment;
  }

  void read_tensor_info(std::uint64_t index, std::uint64_t alignment, std::vector<TensorRef>& tensors,
                        std::vector<std::uint64_t>& offsets) {
    TensorRef ref;
    ref.name = cursor_.read_string(fmt::format("the name of tensor #{}", index));
    ref.source = where_;
    std::string what = fmt::format("{}: tensor '{}'", where_, ref.name);
    auto n_dims = cursor_.read<std::uint32_t>(what + " n_dims");
    if (n_dims > gguf::kMaxDims) fail("{}: n_dims is {}, more than {}", what, n_dims, gguf::kMaxDims);
    std::vector<std::int64_t> ne;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      auto dim = cursor_.read<std::uint64_t>(fmt::format("{} ne[{}]", what, d));
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail("{}: ne[{}] = {} is too large", what, d, dim);
      }
      ne.push_back(static_cast<std::int64_t>(dim));
    }
    auto type = cursor_.read<std::uint32_t>(what + " type");
    auto offset = cursor_.read<std::uint64_t>(what + " offset");

    std::optional<DType> dtype = gguf::dtype_of(type);
    if (!dtype) {
      fail("{}: unsupported ggml type {} (supported: F32=0, F16=1, Q4_0=2, Q4_1=3, Q5_0=6, Q5_1=7, Q8_0=8, Q4_K=12, "
           "Q5_K=13, Q6_K=14, BF16=30)",
           what, ggml_type_text(type));
    }
    ref.dtype = *dtype;
    ref.shape.assign(ne.rbegin(), ne.rend());
    std::int64_t elements = shape_elements(ref.shape, what);
    if (const int block = dtype_block_elements(ref.dtype); block > 1 && !ne.empty() && ne[0] % block != 0) {
      fail("{}: {} needs ne[0] (the innermost dimension) to be a multiple of {}, got {}", what,
           dtype_name(ref.dtype), block, ne[0]);
    }
    ref.nbytes = in_context(what, [&] { return dtype_row_bytes(ref.dtype, elements); });
    if (offset % alignment != 0) {
      fail("{}: offset {} is not a multiple of the alignment {}", what, offset, alignment);
    }
    if (!names_.insert(ref.name).second) fail("{}: the tensor name appears twice", what);
    tensors.push_back(std::move(ref));
    offsets.push_back(offset);
  }

  TensorStore::Contents finish(std::uint64_t alignment, std::vector<TensorRef> tensors,
                               const std::vector<std::uint64_t>& offsets) {
    std::uint64_t data_start = (cursor_.offset() + alignment - 1) / alignment * alignment;
    TensorStore::Contents contents;
    contents.format = "gguf";
    contents.source = where_;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      TensorRef& ref = tensors[i];
      std::uint64_t size = file_.size();
      bool inside = data_start <= size && offsets[i] <= size - data_start &&
                    ref.nbytes <= size - data_start - offsets[i];
      if (!inside) {
        fail("{}: tensor '{}': data [{}, +{}) at file offset {} goes past the end of the file ({} bytes)", where_,
             ref.name, offsets[i], ref.nbytes, data_start + offsets[i], size);
      }
      ref.data = file_.data() + data_start + offsets[i];
      std::string name = ref.name;
      contents.tensors.emplace(std::move(name), std::move(ref));
    }
    contents.metadata = std::move(metadata_);
    return contents;
  }

  const MappedFile& file_;
  std::string where_;
  ByteCursor cursor_;
  json metadata_ = json::object();
  std::unordered_set<std::string> names_;
};

}  // namespace

TensorStore open_gguf(const std::filesystem::path& file) {
  auto mapped = MappedFile::open(file);
  TensorStore::Contents contents = GgufParser(*mapped).parse();
  contents.files.push_back(std::move(mapped));
  return TensorStore(std::move(contents));
}

}  // namespace helix
