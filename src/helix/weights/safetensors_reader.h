// Reading safetensors files (Hugging Face's format) into a TensorStore.
//
// A file is: u64 little-endian header length N, N bytes of JSON
//   {"<name>": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// then the data section; offsets are relative to its start. Every entry is checked
// against the file (dtype known and supported, shape non-negative without overflow,
// offsets inside the data section, end - begin == bytes of the shape) before any
// tensor is handed out. Only F32, F16 and BF16 are supported; other safetensors dtypes
// (F64, I8, U8, ..., F8_*) are refused by name.
//
// Sharded checkpoints: model.safetensors.index.json holds {"weight_map": {tensor:
// shard file}} (and "metadata", ignored). The index is authoritative: each listed
// tensor must be in its shard; tensors a shard holds but the index does not list are
// not exposed (as in Hugging Face's loader). The shards' "__metadata__" are merged.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "helix/weights/mapped_file.h"
#include "helix/weights/tensor_store.h"

namespace helix {

struct SafetensorsHeader {
  std::map<std::string, TensorRef> tensors;
  nlohmann::json metadata = nlohmann::json::object();  // "__metadata__", strings only
  std::size_t data_offset = 0;                         // file offset of the data section
};

// Parses and validates the header of a mapped safetensors file. Errors name the file
// and the tensor/field.
SafetensorsHeader read_safetensors_header(const MappedFile& file);

TensorStore open_safetensors(const std::filesystem::path& file);
TensorStore open_sharded_safetensors(const std::filesystem::path& index_json);

}  // namespace helix
