// Runs a kernel's grid on the CPU the way the GPU defines it: every thread of every
// block runs the kernel's body, and within a block the threads meet at __syncthreads,
// a warp's lanes at __syncwarp and at every shuffle. The blocks run one after another
// (no kernel here lets blocks wait on each other); a block's threads are fibers on
// the calling thread, each switched out only where it must wait for the others. So a
// kernel's indexing, its shared memory and its reductions run as written. Refused,
// with the block and a reason: a barrier that not every thread reaches (a deadlock:
// how many threads wait at which kind of barrier, and the first of each); lanes of
// a warp meeting at different operations; and, stricter than CUDA (which allows
// them where no lane reads a missing one), a warp-wide operation after a lane
// returned, or with a mask short of the warp's lanes.
//
// Between two barriers a block's threads run one after another: in thread order in
// even blocks, in reverse order in odd ones, so that a kernel whose result hangs on
// which thread writes or reads first gets two answers. Other races between threads
// that the GPU runs at once go unseen, as do the device's float rounding of expf and
// friends, and speed.
#pragma once

#include <vector_types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace helix::cuda_emulator {

// Where the running thread is: what CUDA calls threadIdx, blockIdx, blockDim, gridDim.
struct ThreadPlace {
  uint3 thread{};
  uint3 block{};
  dim3 block_dim{};
  dim3 grid_dim{};
  unsigned linear = 0;  // the thread's index in its block, x fastest: its warp is linear / 32
};

// The running emulated thread's place (all zero outside a kernel).
const ThreadPlace& place();

// __syncthreads: waits until every thread of the block that has not returned is here.
void sync_block();
// __syncwarp(mask): waits until every lane of the warp is here; `mask` must name them all.
void sync_warp(unsigned mask);
// A warp-wide operation other than a barrier or a shuffle (the tensor cores'):
// waits until every lane of the warp is at `what` as well.
void meet_in_warp(unsigned mask, const char* what);
// Runs `write` when the running thread's warp next meets at __syncwarp, or its block
// at __syncthreads, or the block ends: a write other lanes may see only after such
// a barrier (wmma's stores).
void defer_to_warp_sync(std::function<void()> write);
// The shuffles' exchange: this lane offers `bits` and gets those of `source_lane`
// (0..31 within the warp); `mask` must name every lane of the warp.
std::uint64_t exchange_in_warp(unsigned mask, std::uint64_t bits, int source_lane);
// A warp-wide exchange of more than a shuffle moves (the tensor cores' mma.sync,
// whose operands are spread over the lanes' registers): this lane offers `bytes`
// bytes (at most kMostGatheredBytes) at the warp-wide operation `what`, and gets
// every lane's offer, lane i's at i * bytes. Valid until this lane's next warp-wide
// operation.
inline constexpr std::size_t kMostGatheredBytes = 64;
const std::byte* gather_in_warp(unsigned mask, const char* what, const void* mine, std::size_t bytes);
// The block's dynamic shared memory (the launch's third argument), filled with
// 0xFF bytes at each block's start: a float read before it is written is a NaN.
void* dynamic_shared();

// Runs `body` as every thread of `grid` x `block`. Returns "" or why the grid stopped
// (the first failure: a deadlock, an exception thrown by a thread, a refused
// shuffle). One grid runs at a time in the process (kernels' static __shared__ arrays
// are shared by whoever runs); others wait.
std::string run_grid(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const std::function<void()>& body);

}  // namespace helix::cuda_emulator
