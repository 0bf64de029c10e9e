// An array in the current CUDA device's memory, owned (freed when it goes), with
// copies to and from the host. Plain device allocations, never managed memory.
#pragma once

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace helix {
namespace cuda_detail {
void* device_allocate(std::size_t count, std::size_t element_bytes);
// Bytes device_allocate has handed out in this process so far (never decreases): a
// stage counts what it allocated itself as the difference, which other processes'
// allocations on the same device do not change.
std::size_t device_bytes_allocated();
void device_free(void* p) noexcept;
void copy_to_device(void* to, const void* from, std::size_t bytes);
void copy_to_host(void* to, const void* from, std::size_t bytes);
}  // namespace cuda_detail

template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(std::size_t size)
      : data_(static_cast<T*>(cuda_detail::device_allocate(size, sizeof(T)))), size_(size) {}
  // A copy of `values` on the device.
  explicit DeviceArray(std::span<const T> values) : DeviceArray(values.size()) { upload(values); }
  ~DeviceArray() { cuda_detail::device_free(data_); }
  DeviceArray(DeviceArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

  // Copies from the host, values.size() == size() (fails otherwise).
  void upload(std::span<const T> values) {
    check_size(values.size());
    cuda_detail::copy_to_device(data_, values.data(), size_ * sizeof(T));
  }
  std::vector<T> download() const {
    std::vector<T> values(size_);
    cuda_detail::copy_to_host(values.data(), data_, size_ * sizeof(T));
    return values;
  }

 private:
  void check_size(std::size_t n) const;
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace cuda_detail {
[[noreturn]] void fail_size(std::size_t expected, std::size_t got);
}  // namespace cuda_detail

template <typename T>
void DeviceArray<T>::check_size(std::size_t n) const {
  if (n != size_) cuda_detail::fail_size(size_, n);
}

}  // namespace helix
