// ThreadPool: a fixed set of threads that split a loop [0, n) into contiguous chunks.
//
// Why our own: the kernels call it for every matmul of every layer (hundreds of
// calls per decoded token), so a call must allocate nothing and wake the workers
// fast. Workers spin briefly after a job (the next one usually follows within
// microseconds), then sleep, so an idle engine costs no CPU.
//
// Semantics:
//  * `threads` counts the calling thread: ThreadPool(2) starts one worker; with 1
//    everything runs inline and no thread is started.
//  * parallel_for(n, fn) calls fn(begin, end) on min(size(), n) contiguous chunks
//    covering [0, n) exactly once; chunk 0 runs on the caller; it returns when all
//    are done. n <= 0 calls nothing.
//  * An exception thrown by fn (on any thread) is rethrown in the caller after every
//    chunk has finished (the first one, by thread index, if several throw).
//  * Not reentrant: fn must not call back into the same pool, and one pool serves
//    one calling thread at a time. Either misuse throws Error (instead of hanging).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace helix {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  void parallel_for(std::int64_t n, const std::function<void(std::int64_t begin, std::int64_t end)>& fn);
  // Same, with the index 0..size()-1 of the thread running the chunk (for
  // per-thread scratch buffers); chunk i runs on thread i.
  void parallel_for_indexed(std::int64_t n,
                            const std::function<void(int thread, std::int64_t begin, std::int64_t end)>& fn);

 private:
  // A job type-erased by hand (no std::function built per call): run(context, ...).
  using ChunkFn = void (*)(const void* context, int thread, std::int64_t begin, std::int64_t end);
  class InUse;
  void run(std::int64_t n, ChunkFn fn, const void* context);
  void run_chunk(int thread);
  void worker_loop(int thread);

  int size_ = 1;
  // The current job, written by the caller before `generation_` is bumped.
  ChunkFn job_fn_ = nullptr;
  const void* job_context_ = nullptr;
  std::int64_t job_n_ = 0;
  int job_chunks_ = 0;
  std::vector<std::exception_ptr> errors_;  // one slot per thread, reset per job

  alignas(64) std::atomic<std::uint32_t> generation_{0};  // bumped per job; workers wait on it
  alignas(64) std::atomic<std::uint32_t> pending_{0};     // workers still busy with the job
  std::atomic<bool> stop_{false};
  std::atomic<bool> in_use_{false};  // a parallel_for is running (reentrancy check)
  std::vector<std::thread> workers_;
};

}  // namespace helix
