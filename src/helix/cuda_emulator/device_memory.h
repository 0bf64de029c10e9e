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

}  // namespace helix::cuda_emulator
