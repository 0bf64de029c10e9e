// A kernel launch for the emulator: HELIX_LAUNCH(grid, block, shared, stream,
// kernel)(arguments) (helix/cuda/kernel_launch.h) becomes
// Launch{...}.of(kernel)(arguments). The arguments are copied at the launch, as
// CUDA copies a kernel's parameters, and every emulated thread gets its own copy.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>

namespace helix::cuda_emulator {

struct Launch {
  const char* kernel;  // its name, for errors
  dim3 grid, block;
  std::size_t shared_bytes;
  cudaStream_t stream;

  // Checks the configuration as the runtime does at a launch (its error is the next
  // cudaGetLastError's), then queues the grid on the stream.
  void submit(std::function<void()> thread_body) const;

  template <typename... P>
  auto of(void (*k)(P...)) const {
    return [launch = *this, k](auto&&... args) {
      launch.submit([k, params = std::tuple<std::decay_t<P>...>(static_cast<P>(args)...)] { std::apply(k, params); });
    };
  }
};

}  // namespace helix::cuda_emulator
