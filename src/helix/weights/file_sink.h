// FileSink: writes a file under a temporary name ("<file>.partial") and renames it into
// place on commit(), so a failed or interrupted write (a fill callback that throws, a
// full disk) never leaves a truncated weight file behind under the real name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string_view>

namespace helix {

class FileSink {
 public:
  explicit FileSink(std::filesystem::path file);
  ~FileSink();  // removes the partial file unless committed
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  void write(std::span<const std::byte> bytes);
  void write(std::string_view text);
  void write_zeros(std::size_t count);
  std::uint64_t offset() const { return offset_; }
  void commit();

 private:
  std::filesystem::path file_;
  std::filesystem::path partial_;
  std::ofstream out_;
  std::uint64_t offset_ = 0;
  bool committed_ = false;
};

}  // namespace helix
