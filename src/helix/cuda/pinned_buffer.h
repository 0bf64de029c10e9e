// Page-locked host memory (cudaMallocHost), the host end of a stage's copies: the
// GPU reads and writes it directly, so a copy queued on a stream overlaps with the
// host and costs one transfer, not a staging copy and a transfer.
#pragma once

#include <cstddef>
#include <utility>

namespace helix::cuda {

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  // At least `bytes` bytes; what was held is not kept when it grows.
  void reserve(std::size_t bytes);
  std::byte* data() { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace helix::cuda
