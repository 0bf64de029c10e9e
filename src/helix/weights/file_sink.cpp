#include "helix/weights/file_sink.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "helix/core/error.h"

namespace helix {

FileSink::FileSink(std::filesystem::path file) : file_(std::move(file)) {
  partial_ = file_;
  partial_ += ".partial";
  out_.open(partial_, std::ios::binary | std::ios::trunc);
  if (!out_) fail("{}: cannot open for writing: {}", partial_.string(), std::strerror(errno));
}

FileSink::~FileSink() {
  if (committed_) return;
  out_.close();
  std::error_code ec;
  std::filesystem::remove(partial_, ec);
}

void FileSink::write(std::span<const std::byte> bytes) {
  out_.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out_) fail("{}: write of {} bytes at offset {} failed", partial_.string(), bytes.size(), offset_);
  offset_ += bytes.size();
}

void FileSink::write(std::string_view text) { write(std::as_bytes(std::span(text.data(), text.size()))); }

void FileSink::write_zeros(std::size_t count) {
  static constexpr std::byte kZeros[256] = {};
  while (count > 0) {
    std::size_t n = std::min(count, sizeof kZeros);
    write(std::span(kZeros, n));
    count -= n;
  }
}

void FileSink::commit() {
  out_.close();
  if (!out_) fail("{}: closing after {} bytes failed", partial_.string(), offset_);
  std::error_code ec;
  std::filesystem::rename(partial_, file_, ec);
  if (ec) fail("{}: cannot rename {} into place: {}", file_.string(), partial_.string(), ec.message());
  committed_ = true;
}

}  // namespace helix
