// TensorStore: the tensors of a model's weight files, by name, read straight out of
// memory-mapped files (zero copy).
//
// One API over the formats a model comes in:
//   - a single .safetensors file (Hugging Face),
//   - sharded safetensors: model.safetensors.index.json naming the shard of each tensor,
//   - a .gguf file (llama.cpp; v2 and v3).
// Opening reads and validates only the headers; tensor bytes are paged in when the
// engine first touches them, so a pipeline stage that uses layers [a, b) pays memory
// only for those layers (see MappedFile).
//
// Shapes are always outermost first (PyTorch/HF order; a Linear weight is {out, in}).
// GGUF lists dimensions innermost first; its reader reverses them. Tensor names are
// the file's own (HF names for safetensors, "blk.N.*" for GGUF): mapping them onto the
// model's parameters is the engine's job.
//
// Data pointers are as aligned as the file makes them: a GGUF tensor is aligned to the
// file's alignment (default 32); a safetensors tensor is at its data offset from an
// 8-byte-aligned data section (our writer's files) — readers should not assume more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "helix/weights/dtype.h"
#include "helix/weights/mapped_file.h"

namespace helix {

struct TensorRef {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;  // outermost first; {} is a scalar
  const std::byte* data = nullptr;  // into the mapping, valid while the store lives
  std::size_t nbytes = 0;
  std::string source;  // the file it came from, for error messages

  std::int64_t elements() const;  // product of shape (1 for a scalar)
};

class TensorStore {
 public:
  // What a reader hands over (see safetensors_reader.h, gguf_reader.h).
  struct Contents {
    std::string format;                                // "safetensors" or "gguf"
    std::string source;                                // what was opened, for messages
    std::vector<std::shared_ptr<const MappedFile>> files;
    std::map<std::string, TensorRef> tensors;
    nlohmann::json metadata = nlohmann::json::object();
  };
  explicit TensorStore(Contents contents);

  // `path`: a .safetensors file, a .gguf file, a *.index.json (sharded safetensors), or
  // a directory holding exactly one of model.safetensors.index.json, model.safetensors
  // or one *.gguf (Error if none or several, listing what was found). A file of another
  // extension is read as GGUF if it starts with "GGUF", else as safetensors.
  static TensorStore open(const std::filesystem::path& path);

  bool contains(const std::string& name) const;
  const TensorRef* find(const std::string& name) const;  // nullptr if absent
  const TensorRef& at(const std::string& name) const;    // Error "tensor 'x' not in <source>"
  std::vector<std::string> names() const;                // sorted
  std::size_t size() const { return tensors_.size(); }
  std::string_view format() const { return format_; }
  const std::string& source() const { return source_; }
  // safetensors: the "__metadata__" object (string values; merged over the shards).
  // GGUF: every key/value (numbers, strings, bools; arrays as JSON arrays).
  const nlohmann::json& metadata() const { return metadata_; }
  const std::vector<std::shared_ptr<const MappedFile>>& files() const { return files_; }
  std::size_t file_bytes() const;  // total size of the mapped files

 private:
  std::string format_;
  std::string source_;
  std::vector<std::shared_ptr<const MappedFile>> files_;
  std::map<std::string, TensorRef> tensors_;
  nlohmann::json metadata_;
};

// Sum of resident_bytes() over the store's files.
std::size_t resident_bytes(const TensorStore& store);

}  // namespace helix
