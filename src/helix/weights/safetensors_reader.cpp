#include "helix/weights/safetensors_reader.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "helix/core/error.h"
#include "helix/weights/shape_math.h"

namespace helix {
namespace {

using nlohmann::json;

constexpr std::size_t kLengthBytes = 8;

// Element types that exist in safetensors but that the engine does not handle.
constexpr std::string_view kUnsupportedDtypes[] = {"F64", "I64", "U64", "I32", "U32", "I16", "U16",
                                                   "I8",  "U8",  "BOOL", "F8_E4M3", "F8_E5M2",
                                                   "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"};

// A JSON value for a message, cut short: a corrupt header can hold anything.
std::string brief(const json& value) {
  constexpr std::size_t kMax = 80;
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

DType parse_entry_dtype(const json& value, const std::string& where) {
  if (!value.is_string()) fail("{}: field 'dtype' must be a string, got {}", where, brief(value));
  const auto& name = value.get_ref<const std::string&>();
  if (name == "F32") return DType::F32;
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  for (std::string_view known : kUnsupportedDtypes) {
    if (name == known) fail("{}: dtype '{}' is not supported (supported: F32, F16, BF16)", where, name);
  }
  fail("{}: unknown dtype '{}' (supported: F32, F16, BF16)", where, name);
}

std::int64_t parse_dim(const json& value, const std::string& where, std::size_t index) {
  if (value.is_number_unsigned()) {
    auto dim = value.get<std::uint64_t>();
    if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail("{}: field 'shape' dimension {} is {}, too large", where, index, dim);
    }
    return static_cast<std::int64_t>(dim);
  }
  if (value.is_number_integer()) {
    auto dim = value.get<std::int64_t>();
    if (dim < 0) fail("{}: field 'shape' has a negative dimension {} at index {}", where, dim, index);
    return dim;
  }
  fail("{}: field 'shape' must be an array of non-negative integers, element {} is {}", where, index,
       brief(value));
}

std::vector<std::int64_t> parse_shape(const json& value, const std::string& where) {
  if (!value.is_array()) fail("{}: field 'shape' must be an array, got {}", where, brief(value));
  std::vector<std::int64_t> shape;
  for (std::size_t i = 0; i < value.size(); ++i) shape.push_back(parse_dim(value[i], where, i));
  return shape;
}

std::uint64_t parse_offset(const json& value, const std::string& where, const char* which) {
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<std::int64_t>() >= 0)) {
    fail("{}: field 'data_offsets' {} must be a non-negative integer, got {}", where, which, brief(value));
  }
  return value.get<std::uint64_t>();
}

const json& required_field(const json& entry, const char* field, const std::string& where) {
  auto it = entry.find(field);
  if (it == entry.end()) fail("{}: missing field '{}' (an entry needs dtype, shape, data_offsets)", where, field);
  return *it;
}

TensorRef parse_entry(const std::string& name, const json& entry, const MappedFile& file,
                      std::size_t data_offset) {
  std::string where = fmt::format("{}: tensor '{}'", file.path().string(), name);
  if (!entry.is_object()) fail("{}: expected an object with dtype, shape, data_offsets, got {}", where, brief(entry));
  TensorRef ref;
  ref.name = name;
  ref.source = file.path().string();
  ref.dtype = parse_entry_dtype(required_field(entry, "dtype", where), where);
  ref.shape = parse_shape(required_field(entry, "shape", where), where);
  std::int64_t elements = shape_elements(ref.shape, where);
  std::size_t expected = in_context(where, [&] { return dtype_row_bytes(ref.dtype, elements); });

  const json& offsets = required_field(entry, "data_offsets", where);
  if (!offsets.is_array() || offsets.size() != 2) {
    fail("{}: field 'data_offsets' must be [begin, end], got {}", where, brief(offsets));
  }
  std::uint64_t begin = parse_offset(offsets[0], where, "begin");
  std::uint64_t end = parse_offset(offsets[1], where, "end");
  std::size_t data_size = file.size() - data_offset;
  if (end < begin) fail("{}: field 'data_offsets' end {} is before begin {}", where, end, begin);
  if (end > data_size) {
    fail("{}: field 'data_offsets' [{}, {}] goes past the end of the data section ({} bytes)", where, begin, end,
         data_size);
  }
  if (end - begin != expected) {
    fail("{}: field 'data_offsets' [{}, {}] holds {} bytes, but shape {} of {} needs {}", where, begin, end,
         end - begin, shape_text(ref.shape), dtype_name(ref.dtype), expected);
  }
  ref.data = file.data() + data_offset + begin;
  ref.nbytes = expected;
  return ref;
}

json parse_metadata(const json& value, const std::string& where) {
  if (!value.is_object()) fail("{}: '__metadata__' must be an object of strings, got {}", where, brief(value));
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) fail("{}: '__metadata__' key '{}' must be a string, got {}", where, key, brief(item));
  }
  return value;
}

json parse_json_text(const char* begin, const char* end, const std::string& where, const char* what) {
  try {
    return json::parse(begin, end);
  } catch (const json::parse_error& e) {
    fail("{}: {} is not valid JSON: {}", where, what, e.what());
  }
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open for reading", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// weight_map: tensor -> shard file name, grouped by shard (names in index order).
std::map<std::string, std::vector<std::string>> shard_groups(const json& index, const std::string& where) {
  auto it = index.find("weight_map");
  if (it == index.end() || !it->is_object()) {
    fail("{}: missing 'weight_map' object (tensor name -> shard file)", where);
  }
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& [tensor, shard] : it->items()) {
    if (!shard.is_string() || shard.get_ref<const std::string&>().empty()) {
      fail("{}: weight_map['{}'] must be a shard file name, got {}", where, tensor, brief(shard));
    }
    const auto& shard_name = shard.get_ref<const std::string&>();
    if (std::filesystem::path(shard_name).is_absolute()) {
      fail("{}: weight_map['{}'] = '{}' must be a file name relative to the index", where, tensor, shard_name);
    }
    groups[shard_name].push_back(tensor);
  }
  return groups;
}

}  // namespace

SafetensorsHeader read_safetensors_header(const MappedFile& file) {
  const std::string where = file.path().string();
  if (file.size() < kLengthBytes) {
    fail("{}: file is {} bytes, shorter than the 8-byte header length", where, file.size());
  }
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, file.data(), kLengthBytes);
  if (header_length > file.size() - kLengthBytes) {
    fail("{}: header length {} goes beyond the end of the file ({} bytes after the 8-byte length)", where,
         header_length, file.size() - kLengthBytes);
  }
  const char* text = reinterpret_cast<const char*>(file.data()) + kLengthBytes;
  json header = parse_json_text(text, text + header_length, where, "the header");
  if (!header.is_object()) fail("{}: the header must be a JSON object, got {}", where, header.type_name());

  SafetensorsHeader out;
  out.data_offset = kLengthBytes + static_cast<std::size_t>(header_length);
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      out.metadata = parse_metadata(entry, where);
    } else {
      out.tensors.emplace(key, parse_entry(key, entry, file, out.data_offset));
    }
  }
  return out;
}

TensorStore open_safetensors(const std::filesystem::path& file) {
  auto mapped = MappedFile::open(file);
  SafetensorsHeader header = read_safetensors_header(*mapped);
  TensorStore::Contents contents;
  contents.format = "safetensors";
  contents.source = file.string();
  contents.files.push_back(std::move(mapped));
  contents.tensors = std::move(header.tensors);
  contents.metadata = std::move(header.metadata);
  return TensorStore(std::move(contents));
}

TensorStore open_sharded_safetensors(const std::filesystem::path& index_json) {
  const std::string where = index_json.string();
  std::string text = read_text(index_json);
  json index = parse_json_text(text.data(), text.data() + text.size(), where, "the index");
  if (!index.is_object()) fail("{}: the index must be a JSON object, got {}", where, index.type_name());

  TensorStore::Contents contents;
  contents.format = "safetensors";
  contents.source = where;
  for (const auto& [shard_name, tensor_names] : shard_groups(index, where)) {
    std::filesystem::path shard_path = index_json.parent_path() / shard_name;
    if (!std::filesystem::is_regular_file(shard_path)) {
      fail("{}: shard '{}' (weight_map of tensor '{}') does not exist: {}", where, shard_name, tensor_names.front(),
           shard_path.string());
    }
    auto mapped = MappedFile::open(shard_path);
    SafetensorsHeader header = read_safetensors_header(*mapped);
    for (const std::string& name : tensor_names) {
      auto it = header.tensors.find(name);
      if (it == header.tensors.end()) {
        fail("{}: weight_map puts tensor '{}' in shard '{}', but {} does not contain it", where, name, shard_name,
             shard_path.string());
      }
      contents.tensors.emplace(name, std::move(it->second));
    }
    for (const auto& [key, value] : header.metadata.items()) contents.metadata[key] = value;
    contents.files.push_back(std::move(mapped));
  }
  return TensorStore(std::move(contents));
}

}  // namespace helix
