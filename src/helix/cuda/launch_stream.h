// The calling thread's launch stream (stream.h's StreamScope), for the launches and
// asynchronous copies inside this module: the default stream (0) outside any scope.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace helix::cuda_detail {

cudaStream_t launch_stream();

// Copies queued on the launch stream. With pageable host memory the runtime stages
// them and they may return early or late; with pinned memory (pinned_buffer.h) they
// overlap with the host.
void copy_to_device_async(void* to, const void* from, std::size_t bytes);
void copy_to_host_async(void* to, const void* from, std::size_t bytes);
void copy_on_device_async(void* to, const void* from, std::size_t bytes);

}  // namespace helix::cuda_detail
