// Writing safetensors files, single or sharded the way Hugging Face shards them.
//
// The header is {"__metadata__": {...}, "<name>": {"dtype", "shape", "data_offsets"},
// ...} with the tensors in the given order and packed back to back (the format allows
// no holes). The header is padded with spaces so that the data section starts at a
// file offset that is a multiple of 8 (safetensors' own writer does the same); a
// tensor is then aligned to the sum of the sizes before it. Q8_0 is not a safetensors
// dtype and is refused; so are empty, duplicate and "__metadata__" names.
// Files are written under "<file>.partial" and renamed when complete.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "helix/weights/tensor_data.h"

namespace helix {

void write_safetensors(const std::filesystem::path& file, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes dir/model-00001-of-0000N.safetensors ... and dir/model.safetensors.index.json
// ({"metadata": {"total_size": <tensor bytes>}, "weight_map": {tensor: shard}}); `dir`
// is created if needed. Tensors keep the given order; a new shard starts when the next
// tensor would take the current one past max_shard_bytes of tensor data (a tensor
// larger than the limit gets a shard of its own). `metadata` goes into every shard.
void write_sharded_safetensors(const std::filesystem::path& dir, const std::vector<TensorData>& tensors,
                               std::size_t max_shard_bytes, const std::map<std::string, std::string>& metadata = {});

// Shard file name i (0-based) of n: "model-00001-of-00003.safetensors".
std::string safetensors_shard_name(std::size_t index, std::size_t count);

}  // namespace helix
