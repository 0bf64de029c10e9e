#include "helix/weights/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "helix/core/error.h"

namespace helix {
namespace {

// Closes a file descriptor on every path out of open().
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

std::string errno_text() { return std::strerror(errno); }

// "7f12a000-7f12b000 r--p ..." -> [begin, end); false if the line is not a range header.
bool parse_range_header(const std::string& line, std::uintptr_t& begin, std::uintptr_t& end) {
  std::size_t dash = line.find('-');
  std::size_t space = line.find(' ');
  if (dash == std::string::npos || space == std::string::npos || dash > space || dash == 0) return false;
  try {
    std::size_t used = 0;
    begin = std::stoull(line.substr(0, dash), &used, 16);
    if (used != dash) return false;
    end = std::stoull(line.substr(dash + 1, space - dash - 1), &used, 16);
    return used == space - dash - 1;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

MappedFile::MappedFile(std::filesystem::path path, const std::byte* data, std::size_t size)
    : path_(std::move(path)), data_(data), size_(size) {}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open for reading: {}", path.string(), errno_text());
  FdCloser closer(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0) fail("{}: cannot stat: {}", path.string(), errno_text());
  if (!S_ISREG(info.st_mode)) fail("{}: not a regular file", path.string());
  auto size = static_cast<std::size_t>(info.st_size);
  const std::byte* data = nullptr;
  if (size > 0) {
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) fail("{}: cannot mmap {} bytes: {}", path.string(), size, errno_text());
    data = static_cast<const std::byte*>(mapped);
  }
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

std::size_t resident_bytes(const MappedFile& file) {
  if (file.data() == nullptr) return 0;
  std::ifstream smaps("/proc/self/smaps");
  if (!smaps) return 0;
  auto map_begin = reinterpret_cast<std::uintptr_t>(file.data());
  std::uintptr_t map_end = map_begin + file.size();
  bool inside = false;
  std::size_t total_kib = 0;
  std::string line;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    if (parse_range_header(line, begin, end)) {
      // The last VMA ends at the page boundary after the file's last byte.
      inside = begin >= map_begin && begin < map_end;
      continue;
    }
    if (inside && line.rfind("Rss:", 0) == 0) total_kib += std::stoull(line.substr(4));
  }
  return total_kib * 1024;
}

}  // namespace helix
