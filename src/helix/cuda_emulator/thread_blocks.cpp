#include "helix/cuda_emulator/thread_blocks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "helix/cuda_emulator/fiber_context.h"

namespace helix::cuda_emulator {
namespace {

// A fiber's stack: kernels keep a few registers' worth of locals, and the emulated
// tensor-core fragments (wmma.h) a few KiB; AddressSanitizer's redzones take more.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kStackBytes = std::size_t{1} << 20;
#else
constexpr std::size_t kStackBytes = std::size_t{256} << 10;
#endif
constexpr int kWarpLanes = 32;

enum class Wait { kNone, kBlock, kWarp };

struct Fiber {
  FiberContext context;
  std::unique_ptr<std::byte[]> stack;
  bool done = false;
  Wait waiting = Wait::kNone;
};

struct WarpBarrier {
  int lanes = 0, live = 0, arrived = 0;
  std::uint64_t generation = 0;
  const char* meeting = nullptr;  // what the lanes that arrived meet at
  std::vector<std::function<void()>> deferred;  // writes its lanes see after they next meet
};

struct alignas(256) SharedChunk {
  std::byte bytes[256];
};

// One block's run. Its threads switch from one to the next themselves when they
// must wait (the next lane of the warp at a warp's barrier, the next thread of the
// block at the block's), and back to the scheduler when all have returned, one
// failed, or a whole cycle of them got no further (a deadlock).
struct Block {
  const std::function<void()>* body = nullptr;
  std::vector<ThreadPlace> places;  // per thread
  int threads = 0, live = 0, current = -1;
  int block_arrived = 0;
  std::uint64_t block_generation = 0;
  std::vector<WarpBarrier> warps;
  std::vector<std::uint64_t> offered[2];  // per thread: its value at a shuffle, by turns
  std::vector<std::uint64_t> exchanges;   // per thread: the shuffles and gathers it has been through
  std::vector<std::byte> gathered[2];     // per thread, kMostGatheredBytes: its offer at a gather, by turns
  std::vector<SharedChunk> shared;
  std::size_t shared_bytes = 0;
  int step = 1;             // +1: threads in order; -1: in reverse (odd blocks)
  bool progressed = false;  // since the running thread was resumed
  int idle_resumes = 0;     // resumes in a row that got no thread further
  std::string error;
  FiberContext scheduler;
};

std::mutex grids;                    // one grid at a time
thread_local Block* running = nullptr;  // the block whose threads run now, on this thread
std::vector<Fiber> fibers;  // reused from block to block, their stacks allocated once
const ThreadPlace outside{};

Block& running_block(const char* what) {
  if (running == nullptr || running->current < 0) throw std::logic_error(fmt::format("{} outside a kernel", what));
  return *running;
}

Fiber& fiber(int thread) { return fibers[static_cast<std::size_t>(thread)]; }

// From thread `from` to thread `to` (-1: the scheduler).
void switch_to(Block& b, int from, int to, bool from_ends) {
  b.current = to;
  switch_fiber(fiber(from).context, to < 0 ? b.scheduler : fiber(to).context, from_ends);
}

// The thread to resume after `from`, which waits for `what` (kNone: it returned):
// the next lane of its warp at a warp's barrier, else the next thread of the block
// that has not returned; -1 when none is left.
// In the block's order (b.step).
int next_thread(const Block& b, int from, Wait what) {
  if (what == Wait::kWarp) {
    const int first = from / kWarpLanes * kWarpLanes;
    const int lanes = b.warps[static_cast<std::size_t>(from / kWarpLanes)].lanes;
    for (int i = 1; i < lanes; ++i) {
      const int t = first + (from - first + b.step * i + lanes) % lanes;
      if (!fiber(t).done) return t;
    }
  }
  for (int i = 1; i <= b.threads; ++i) {
    const int t = (from + b.step * i + b.threads) % b.threads;
    if (!fiber(t).done) return t;
  }
  return -1;
}

std::string deadlock(const Block& b) {
  int at_block = 0, at_warp = 0, first_block = -1, first_warp = -1;
  for (int i = 0; i < b.threads; ++i) {
    const Fiber& f = fiber(i);
    if (f.done) continue;
    if (f.waiting == Wait::kBlock && at_block++ == 0) first_block = i;
    if (f.waiting == Wait::kWarp && at_warp++ == 0) first_warp = i;
  }
  return fmt::format("deadlock: {} thread(s) wait at __syncthreads (first: thread {}), {} at a warp-wide operation "
                     "(a shuffle, __syncwarp or wmma; first: thread {}), {} returned",
                     at_block, first_block, at_warp, first_warp, b.threads - b.live);
}

// Yields to the other threads until `generation` moves on (the barrier completed).
// Every thread resumed in turn without getting further, twice over, is a deadlock:
// the block is given up (its fibers are never resumed).
void wait_until_changed(Block& b, const std::uint64_t& generation, Wait what) {
  const int me = b.current;
  const std::uint64_t seen = generation;
  fiber(me).waiting = what;
  while (generation == seen) {
    b.idle_resumes = b.progressed ? 0 : b.idle_resumes + 1;
    b.progressed = false;
    if (b.idle_resumes > 2 * b.live + kWarpLanes) {
      b.error = deadlock(b);
      switch_to(b, me, -1, false);
    }
    const int next = next_thread(b, me, what);
    if (next != me) switch_to(b, me, next, false);
  }
  fiber(me).waiting = Wait::kNone;
  b.progressed = true;
}

void flush(WarpBarrier& w) {
  std::vector<std::function<void()>> writes;
  writes.swap(w.deferred);
  for (const auto& write : writes) write();
}

// Every thread of the block is at __syncthreads (or returned): they go on, and the
// writes deferred to it land.
void complete_block_barrier(Block& b) {
  b.block_arrived = 0;
  ++b.block_generation;
  for (WarpBarrier& w : b.warps) flush(w);
}

// A thread returned: it no longer holds back a __syncthreads (as on the GPU, where
// an exited thread counts as arrived), but its warp can no longer shuffle.
void thread_returned(Block& b, int thread) {
  fiber(thread).done = true;
  --b.live;
  b.progressed = true;
  WarpBarrier& w = b.warps[static_cast<std::size_t>(thread / kWarpLanes)];
  --w.live;
  if (w.arrived > 0 && b.error.empty()) {
    b.error = fmt::format("thread {} returned while other lanes of its warp wait at {}", thread, w.meeting);
  }
  if (b.block_arrived > 0 && b.block_arrived == b.live) complete_block_barrier(b);
}

void fiber_main() {
  fiber_started();
  Block& b = *running;
  const int me = b.current;
  try {
    (*b.body)();
  } catch (const std::exception& e) {
    if (b.error.empty()) b.error = fmt::format("thread {}: {}", me, e.what());
  } catch (...) {
    if (b.error.empty()) b.error = fmt::format("thread {}: an exception", me);
  }
  thread_returned(b, me);
  b.idle_resumes = 0;
  b.progressed = false;
  switch_to(b, me, b.error.empty() ? next_thread(b, me, Wait::kNone) : -1, true);  // never resumed
}

std::string run_block(Block& b) {
  b.live = b.threads;
  b.block_arrived = 0;
  b.idle_resumes = 0;
  b.progressed = false;
  b.error.clear();
  std::fill(b.exchanges.begin(), b.exchanges.end(), 0);
  for (std::size_t w = 0; w < b.warps.size(); ++w) {
    const int lanes = std::min(kWarpLanes, b.threads - static_cast<int>(w) * kWarpLanes);
    b.warps[w].lanes = b.warps[w].live = lanes;
    b.warps[w].arrived = 0;
    b.warps[w].meeting = nullptr;
  }
  if (b.shared_bytes > 0) std::memset(b.shared.data(), 0xFF, b.shared_bytes);
  if (fibers.size() < static_cast<std::size_t>(b.threads)) fibers.resize(static_cast<std::size_t>(b.threads));
  for (int i = 0; i < b.threads; ++i) {
    Fiber& f = fiber(i);
    if (!f.stack) f.stack = std::make_unique_for_overwrite<std::byte[]>(kStackBytes);  // untouched pages stay unmapped
    make_fiber(f.context, f.stack.get(), kStackBytes, fiber_main);
    f.done = false;
    f.waiting = Wait::kNone;
  }
  b.current = b.step > 0 ? 0 : b.threads - 1;
  switch_fiber(b.scheduler, fiber(b.current).context);  // back when all returned or the block failed
  b.current = -1;
  for (WarpBarrier& w : b.warps) {
    if (b.error.empty()) flush(w);
    w.deferred.clear();
  }
  return b.error;
}

// `what` must be what the lanes already waiting meet at; `flushes`: the writes
// deferred to the warp's next meeting land when it completes (__syncwarp).
void warp_barrier(Block& b, unsigned mask, const char* what, bool flushes) {
  const int thread = b.current;
  WarpBarrier& w = b.warps[static_cast<std::size_t>(thread / kWarpLanes)];
  const unsigned all = w.lanes == kWarpLanes ? 0xFFFFFFFFu : (1u << w.lanes) - 1;
  if (mask != all) {
    throw std::runtime_error(
        fmt::format("{} with mask {:#x}: the emulator runs whole warps only (this warp's lanes: {:#x})", what, mask,
                    all));
  }
  if (w.live != w.lanes) throw std::runtime_error(fmt::format("{} after a lane of this warp returned", what));
  if (w.arrived == 0) {
    w.meeting = what;
  } else if (std::strcmp(w.meeting, what) != 0) {
    throw std::runtime_error(fmt::format("{} while other lanes of this warp wait at {}", what, w.meeting));
  }
  b.progressed = true;
  if (++w.arrived == w.live) {
    w.arrived = 0;
    ++w.generation;
    if (flushes) flush(w);
    return;
  }
  wait_until_changed(b, w.generation, Wait::kWarp);
}

struct RunningGuard {
  explicit RunningGuard(Block& b) { running = &b; }
  ~RunningGuard() { running = nullptr; }
  RunningGuard(const RunningGuard&) = delete;
  RunningGuard& operator=(const RunningGuard&) = delete;
};

}  // namespace

const ThreadPlace& place() {
  if (running == nullptr || running->current < 0) return outside;
  return running->places[static_cast<std::size_t>(running->current)];
}

void sync_block() {
  Block& b = running_block("__syncthreads");
  b.progressed = true;
  if (++b.block_arrived == b.live) {
    complete_block_barrier(b);
    return;
  }
  wait_until_changed(b, b.block_generation, Wait::kBlock);
}

void sync_warp(unsigned mask) { warp_barrier(running_block("__syncwarp"), mask, "__syncwarp", true); }

void meet_in_warp(unsigned mask, const char* what) { warp_barrier(running_block(what), mask, what, false); }

void defer_to_warp_sync(std::function<void()> write) {
  Block& b = running_block("a deferred write");
  b.warps[static_cast<std::size_t>(b.current / kWarpLanes)].deferred.push_back(std::move(write));
}

std::uint64_t exchange_in_warp(unsigned mask, std::uint64_t bits, int source_lane) {
  Block& b = running_block("a shuffle");
  const int thread = b.current, first = thread / kWarpLanes * kWarpLanes;
  const WarpBarrier& w = b.warps[static_cast<std::size_t>(thread / kWarpLanes)];
  if (source_lane < 0 || source_lane >= w.lanes) {
    throw std::runtime_error(fmt::format("a shuffle from lane {}", source_lane));
  }
  // Two slots per lane, used in turn: a lane that has read this exchange and offers
  // its next value cannot overwrite one that a slower lane has yet to read (it
  // would have to pass the next exchange's barrier, which the slower lane holds).
  const std::size_t turn = b.exchanges[static_cast<std::size_t>(thread)]++ % 2;
  b.offered[turn][static_cast<std::size_t>(thread)] = bits;
  warp_barrier(b, mask, "a shuffle", false);
  return b.offered[turn][static_cast<std::size_t>(first + source_lane)];
}

const std::byte* gather_in_warp(unsigned mask, const char* what, const void* mine, std::size_t bytes) {
  Block& b = running_block(what);
  if (bytes == 0 || bytes > kMostGatheredBytes) {
    throw std::logic_error(fmt::format("{}: a gather of {} bytes (1..{})", what, bytes, kMostGatheredBytes));
  }
  const int thread = b.current, first = thread / kWarpLanes * kWarpLanes;
  // By turns, as exchange_in_warp's offers: lanes write their offers side by side
  // (lane i at i * bytes), so that each reads the warp's in one piece.
  std::vector<std::byte>& slots = b.gathered[b.exchanges[static_cast<std::size_t>(thread)]++ % 2];
  std::byte* warp_slots = slots.data() + static_cast<std::size_t>(first) * kMostGatheredBytes;
  std::memcpy(warp_slots + static_cast<std::size_t>(thread - first) * bytes, mine, bytes);
  warp_barrier(b, mask, what, false);
  return warp_slots;
}

void* dynamic_shared() {
  Block& b = running_block("dynamic shared memory");
  return b.shared.data();
}

std::string run_grid(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const std::function<void()>& body) {
  const std::lock_guard<std::mutex> lock(grids);
  Block b;
  b.body = &body;
  thread_local const FiberContext this_thread = thread_context();
  b.scheduler = this_thread;
  b.threads = static_cast<int>(block.x * block.y * block.z);
  b.places.resize(static_cast<std::size_t>(b.threads));
  for (int i = 0; i < b.threads; ++i) {
    const auto u = static_cast<unsigned>(i);
    ThreadPlace& p = b.places[static_cast<std::size_t>(i)];
    p.thread = uint3{u % block.x, u / block.x % block.y, u / (block.x * block.y)};
    p.block_dim = block;
    p.grid_dim = grid;
    p.linear = u;
  }
  b.warps.resize(static_cast<std::size_t>((b.threads + kWarpLanes - 1) / kWarpLanes));
  for (auto& slots : b.offered) slots.resize(static_cast<std::size_t>(b.threads));
  for (auto& slots : b.gathered) slots.resize(static_cast<std::size_t>(b.threads) * kMostGatheredBytes);
  b.exchanges.resize(static_cast<std::size_t>(b.threads));
  b.shared_bytes = dynamic_shared_bytes;
  b.shared.resize((dynamic_shared_bytes + sizeof(SharedChunk) - 1) / sizeof(SharedChunk));
  const RunningGuard guard(b);
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x) {
        for (ThreadPlace& p : b.places) p.block = uint3{x, y, z};
        b.step = (x + y + z) % 2 == 0 ? 1 : -1;
        std::string error = run_block(b);
        if (!error.empty()) return fmt::format("block ({}, {}, {}): {}", x, y, z, error);
      }
    }
  }
  return "";
}

}  // namespace helix::cuda_emulator
