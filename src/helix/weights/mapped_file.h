// MappedFile: a whole file mapped read-only into memory (mmap, MAP_PRIVATE).
//
// Weight files are large (GBs) and a pipeline stage uses only its own layers' tensors,
// so we map rather than read: the kernel brings a page in only when it is first
// touched, and a stage that maps the whole file but reads 1/8 of the tensors has only
// that 1/8 resident. Tensors point straight into the mapping (zero copy); the mapping
// lives as long as any shared_ptr to it (TensorStore keeps them).
//
// resident_bytes() measures that laziness: the bytes of this mapping that this process
// has mapped in (the "Rss" of its /proc/self/smaps entries). Unlike mincore(), which
// reports page-cache residency (file-wide, including pages someone just wrote), Rss
// counts only pages this process touched (plus the kernel's small fault-around).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

namespace helix {

class MappedFile {
 public:
  // Maps `path`. Throws Error naming the path for a missing, unreadable or non-regular
  // file. An empty file is allowed: size() == 0 and data() == nullptr.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile(std::filesystem::path path, const std::byte* data, std::size_t size);

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Bytes of `file`'s mapping currently mapped into this process (sum of "Rss:" of the
// /proc/self/smaps entries within the mapping's address range). 0 for an empty file,
// or when /proc/self/smaps cannot be read (callers that test laziness should skip then).
std::size_t resident_bytes(const MappedFile& file);

}  // namespace helix
