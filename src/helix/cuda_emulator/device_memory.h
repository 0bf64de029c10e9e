// The emulated device's memory (device_memory.cpp), for the runtime's other files.
#pragma once

#include <cstddef>

namespace helix::cuda_emulator {

// The device's size: HELIX_CUDA_EMULATOR_MEMORY bytes, default 4 GiB.
std::size_t device_bytes();

// Where an address lies: in device memory (cudaMalloc), pinned host memory
// (cudaMallocHost), or else pageable host memory, which the driver must stage to
// copy to the device, and copies differently.
enum class MemoryKind { device, pinned, pageable };
MemoryKind kind_of(const void* p);

// While one lives (nested: the outermost counts), device memory is accessible to
// the process: queued work (kernels, copies, cuBLAS) runs inside one. Otherwise the
// host's reads and writes of it fault, as they do on a GPU's host.
class DeviceAccess {
 public:
  DeviceAccess();
  ~DeviceAccess();
  DeviceAccess(const DeviceAccess&) = delete;
  DeviceAccess& operator=(const DeviceAccess&) = delete;
};

}  // namespace helix::cuda_emulator
