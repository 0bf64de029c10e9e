#include "helix/cuda/stream.h"

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/launch_stream.h"

namespace helix {
namespace {

thread_local cudaStream_t current = nullptr;

cudaStream_t as_stream(void* p) { return static_cast<cudaStream_t>(p); }

}  // namespace

namespace cuda {

// Non-blocking: the stage's work does not wait for, nor hold up, what other code
// queues on the default stream (the synchronous cudaMemcpy of an upload).
Stream::Stream() {
  cudaStream_t s = nullptr;
  cuda_detail::check_cuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  handle_ = s;
}

Stream::~Stream() {
  if (handle_ != nullptr) cudaStreamDestroy(as_stream(handle_));
}

void Stream::synchronize() const { cuda_detail::check_cuda(cudaStreamSynchronize(as_stream(handle_)), "cudaStreamSynchronize"); }

void Stream::synchronize_after_failure() const {
  const cudaError_t status = cudaStreamSynchronize(as_stream(handle_));
  if (cuda_detail::leaves_device_unusable(status)) cuda_detail::check_cuda(status, "cudaStreamSynchronize");
  if (status != cudaSuccess) cudaGetLastError();
}

StreamScope::StreamScope(const Stream& stream) : previous_(current) { current = as_stream(stream.handle()); }

StreamScope::~StreamScope() { current = as_stream(previous_); }

}  // namespace cuda

namespace cuda_detail {

cudaStream_t launch_stream() { return current; }

void copy_to_device_async(void* to, const void* from, std::size_t bytes) {
  if (bytes > 0) check_cuda(cudaMemcpyAsync(to, from, bytes, cudaMemcpyHostToDevice, current), "cudaMemcpyAsync to the device");
}

void copy_to_host_async(void* to, const void* from, std::size_t bytes) {
  if (bytes > 0) check_cuda(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToHost, current), "cudaMemcpyAsync to the host");
}

void copy_on_device_async(void* to, const void* from, std::size_t bytes) {
  if (bytes > 0) check_cuda(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, current), "cudaMemcpyAsync on the device");
}

}  // namespace cuda_detail
}  // namespace helix
