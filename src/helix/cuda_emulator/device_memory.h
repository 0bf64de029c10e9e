// The emulated device's memory (device_memory.cpp), for the runtime's other files.
#pragma once

#include <cstddef>

namespace helix::cuda_emulator {

// The device's size: HELIX_CUDA_EMULATOR_MEMORY bytes, default 4 GiB.
std::size_t device_bytes();

}  // namespace helix::cuda_emulator
