#include "helix/weights/tensor_store.h"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "helix/core/error.h"
#include "helix/weights/gguf_reader.h"
#include "helix/weights/safetensors_reader.h"
#include "helix/weights/shape_math.h"

namespace helix {
namespace {

namespace fs = std::filesystem;

constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

// The directory's entries; Error (not filesystem_error) if it cannot be listed.
std::vector<fs::directory_entry> list_directory(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) fail("{}: cannot list the directory: {}", dir.string(), ec.message());
  std::vector<fs::directory_entry> entries;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) fail("{}: cannot list the directory: {}", dir.string(), ec.message());
    entries.push_back(*it);
  }
  return entries;
}

std::vector<std::string> weight_like_files(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& entry : list_directory(dir)) {
    std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".safetensors" || ext == ".gguf" || ext == ".json")) {
      found.push_back(entry.path().filename().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

// The one weights entry point in `dir` (see TensorStore::open).
fs::path resolve_directory(const fs::path& dir) {
  std::vector<fs::path> candidates;
  for (const char* name : {kIndexName, kSingleName}) {
    if (fs::is_regular_file(dir / name)) candidates.push_back(dir / name);
  }
  std::vector<fs::path> ggufs;
  for (const auto& entry : list_directory(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".gguf") ggufs.push_back(entry.path());
  }
  std::sort(ggufs.begin(), ggufs.end());
  candidates.insert(candidates.end(), ggufs.begin(), ggufs.end());
  if (candidates.size() == 1) return candidates.front();

  if (candidates.empty()) {
    std::vector<std::string> found = weight_like_files(dir);
    fail("{}: no weights found (expected {}, {} or one *.gguf); found: {}", dir.string(), kIndexName, kSingleName,
         found.empty() ? std::string("no .safetensors/.gguf/.json files") : fmt::format("{}", fmt::join(found, ", ")));
  }
  std::vector<std::string> names;
  for (const fs::path& c : candidates) names.push_back(c.filename().string());
  fail("{}: ambiguous weights, found {}: pass the one to use", dir.string(), fmt::join(names, ", "));
}

bool starts_with_gguf_magic(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 4 && std::string_view(magic, 4) == "GGUF";
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::int64_t TensorRef::elements() const {
  // Called in hot paths: multiply first, format a message only if the shape is bad
  // (never for a store's tensors, whose shapes were checked on open).
  std::int64_t product = 1;
  for (std::int64_t dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(product, dim, &product)) {
      return shape_elements(shape, fmt::format("{}: tensor '{}'", source, name));
    }
  }
  return product;
}

TensorStore::TensorStore(Contents contents)
    : format_(std::move(contents.format)),
      source_(std::move(contents.source)),
      files_(std::move(contents.files)),
      tensors_(std::move(contents.tensors)),
      metadata_(std::move(contents.metadata)) {}

TensorStore TensorStore::open(const fs::path& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) fail("{}: no such file or directory (expected weights)", path.string());
  fs::path file = fs::is_directory(status) ? resolve_directory(path) : path;
  std::string name = file.filename().string();
  if (ends_with(name, ".gguf")) return open_gguf(file);
  if (ends_with(name, ".json")) return open_sharded_safetensors(file);
  if (ends_with(name, ".safetensors")) return open_safetensors(file);
  return starts_with_gguf_magic(file) ? open_gguf(file) : open_safetensors(file);
}

bool TensorStore::contains(const std::string& name) const { return tensors_.count(name) != 0; }

const TensorRef* TensorStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorRef& TensorStore::at(const std::string& name) const {
  const TensorRef* ref = find(name);
  if (ref == nullptr) fail("tensor '{}' not in {}", name, source_);
  return *ref;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, ref] : tensors_) out.push_back(name);
  return out;
}

std::size_t TensorStore::file_bytes() const {
  std::size_t total = 0;
  for (const auto& file : files_) total += file->size();
  return total;
}

std::size_t resident_bytes(const TensorStore& store) {
  std::size_t total = 0;
  for (const auto& file : store.files()) total += resident_bytes(*file);
  return total;
}

}  // namespace helix
