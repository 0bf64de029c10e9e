#include "helix/cuda_emulator/kernel_launch.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "helix/cuda_emulator/runtime_errors.h"
#include "helix/cuda_emulator/settings.h"
#include "helix/cuda_emulator/streams.h"
#include "helix/cuda_emulator/thread_blocks.h"

namespace helix::cuda_emulator {
namespace {

// HELIX_CUDA_EMULATOR_FAIL_AT_KERNEL=N: the process's Nth grid to run (counting
// from 1, graph replays included) fails as it runs, as a kernel that reaches an
// illegal address fails on a GPU, breaking the device: for tests of what a process
// does when its GPU breaks. Unset: none fails.
std::uint64_t kernel_to_fail() {
  static const std::uint64_t n = positive_setting("HELIX_CUDA_EMULATOR_FAIL_AT_KERNEL", 0, "kernels");
  return n;
}

std::atomic<std::uint64_t> grids_run{0};

}  // namespace

void Launch::submit(std::function<void()> thread_body) const {
  const unsigned threads = block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64 || grid.x == 0 ||
      grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || grid.x > 0x7FFFFFFFu) {
    report_failure(cudaErrorInvalidConfiguration,
                   fmt::format("{}: grid ({}, {}, {}) of blocks ({}, {}, {}) is not a launch configuration", kernel,
                               grid.x, grid.y, grid.z, block.x, block.y, block.z));
    return;
  }
  if (shared_bytes > 48 * 1024) {  // above this a kernel must opt in (cudaFuncSetAttribute)
    report_failure(cudaErrorInvalidValue,
                   fmt::format("{}: {} bytes of dynamic shared memory, over the 48 KiB a kernel gets without opting in",
                               kernel, shared_bytes));
    return;
  }
  const Launch launch = *this;
  const cudaError_t queued = enqueue(
      stream,
      [launch, body = std::move(thread_body)] {
        if (++grids_run == kernel_to_fail()) {
          return report_kernel_failure(fmt::format("{}: failed as HELIX_CUDA_EMULATOR_FAIL_AT_KERNEL asked",
                                                   launch.kernel));
        }
        const std::string why = run_grid(launch.grid, launch.block, launch.shared_bytes, body);
        if (!why.empty()) report_kernel_failure(fmt::format("{}: {}", launch.kernel, why));
      },
      kernel);
  if (queued != cudaSuccess) failed(queued);
}

}  // namespace helix::cuda_emulator
