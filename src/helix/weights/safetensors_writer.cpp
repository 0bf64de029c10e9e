#include "helix/weights/safetensors_writer.h"

#include <cstdint>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "helix/core/error.h"
#include "helix/weights/file_sink.h"

namespace helix {
namespace {

constexpr std::size_t kDataAlignment = 8;

// Byte sizes of `tensors`, after checking they can be written as safetensors.
std::vector<std::size_t> checked_sizes(const std::vector<TensorData>& tensors, const std::string& where) {
  std::set<std::string> seen;
  std::vector<std::size_t> sizes;
  for (const TensorData& t : tensors) {
    if (t.name.empty()) fail("{}: a tensor has an empty name", where);
    if (t.name == "__metadata__") fail("{}: '__metadata__' is reserved and cannot name a tensor", where);
    if (!seen.insert(t.name).second) fail("{}: tensor '{}' is given twice", where, t.name);
    if (is_block_quantized(t.dtype)) {
      fail("{}: tensor '{}': {} is not a safetensors dtype (write it as GGUF, or as F32/F16/BF16)", where, t.name,
           dtype_name(t.dtype));
    }
    if (!t.fill) fail("{}: tensor '{}' has no fill callback", where, t.name);
    sizes.push_back(in_context(where, [&] { return tensor_nbytes(t); }));
  }
  return sizes;
}

std::string header_text(const std::vector<TensorData>& tensors, const std::vector<std::size_t>& sizes,
                        const std::map<std::string, std::string>& metadata, const std::string& where) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    header[tensors[i].name] = {{"dtype", dtype_name(tensors[i].dtype)},
                               {"shape", tensors[i].shape},
                               {"data_offsets", {offset, offset + sizes[i]}}};
    offset += sizes[i];
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: cannot encode the header (names and metadata must be UTF-8): {}", where, e.what());
  }
  while ((sizeof(std::uint64_t) + text.size()) % kDataAlignment != 0) text.push_back(' ');
  return text;
}

void write_checked(const std::filesystem::path& file, const std::vector<TensorData>& tensors,
                   const std::vector<std::size_t>& sizes, const std::map<std::string, std::string>& metadata) {
  const std::string where = file.string();
  std::string header = header_text(tensors, sizes, metadata, where);
  FileSink sink(file);
  std::uint64_t length = header.size();
  std::byte length_bytes[sizeof length];
  std::memcpy(length_bytes, &length, sizeof length);
  sink.write(length_bytes);
  sink.write(header);
  std::vector<std::byte> buffer;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    buffer.assign(sizes[i], std::byte{0});
    in_context(fmt::format("{}: tensor '{}'", where, tensors[i].name), [&] { tensors[i].fill(buffer); });
    sink.write(buffer);
  }
  sink.commit();
}

}  // namespace

std::string safetensors_shard_name(std::size_t index, std::size_t count) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, count);
}

void write_safetensors(const std::filesystem::path& file, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_checked(file, tensors, checked_sizes(tensors, file.string()), metadata);
}

void write_sharded_safetensors(const std::filesystem::path& dir, const std::vector<TensorData>& tensors,
                               std::size_t max_shard_bytes, const std::map<std::string, std::string>& metadata) {
  const std::string where = dir.string();
  if (max_shard_bytes == 0) fail("{}: max_shard_bytes must be positive", where);
  std::vector<std::size_t> sizes = checked_sizes(tensors, where);

  std::vector<std::vector<std::size_t>> shards;  // tensor indices per shard
  std::size_t shard_bytes = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    bool full = shard_bytes > 0 && (shard_bytes >= max_shard_bytes || sizes[i] > max_shard_bytes - shard_bytes);
    if (shards.empty() || full) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(i);
    shard_bytes += sizes[i];
  }

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("{}: cannot create the directory: {}", where, ec.message());
  nlohmann::json weight_map = nlohmann::json::object();
  std::uint64_t total_size = 0;
  for (std::size_t s = 0; s < shards.size(); ++s) {
    std::string shard_name = safetensors_shard_name(s, shards.size());
    std::vector<TensorData> shard_tensors;
    std::vector<std::size_t> shard_sizes;
    for (std::size_t i : shards[s]) {
      shard_tensors.push_back(tensors[i]);
      shard_sizes.push_back(sizes[i]);
      weight_map[tensors[i].name] = shard_name;
      total_size += sizes[i];
    }
    write_checked(dir / shard_name, shard_tensors, shard_sizes, metadata);
  }
  nlohmann::json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
  FileSink sink(dir / "model.safetensors.index.json");
  sink.write(index.dump(2) + "\n");
  sink.commit();
}

}  // namespace helix
