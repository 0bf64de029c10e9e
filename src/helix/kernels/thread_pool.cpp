#include "helix/kernels/thread_pool.h"

#include <algorithm>
#include <chrono>

#include "helix/core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace helix {
namespace {

// How long a thread spins on an atomic before it sleeps in atomic::wait: long
// enough to catch the next matmul of a decode step, short enough that an idle pool
// gives the CPU back at once (the machine may be shared).
constexpr auto kSpin = std::chrono::microseconds(50);

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Waits until `value` differs from `old`: spins for kSpin, then blocks.
std::uint32_t wait_for_change(const std::atomic<std::uint32_t>& value, std::uint32_t old) {
  auto start = std::chrono::steady_clock::now();
  for (int spins = 0;; ++spins) {
    std::uint32_t now = value.load(std::memory_order_acquire);
    if (now != old) return now;
    cpu_relax();
    // The clock is read every 64 pauses only: it costs more than a pause.
    if ((spins & 63) == 63 && std::chrono::steady_clock::now() - start > kSpin) break;
  }
  for (;;) {
    value.wait(old, std::memory_order_acquire);
    std::uint32_t now = value.load(std::memory_order_acquire);
    if (now != old) return now;
  }
}

// Chunk `index` of `chunks` contiguous chunks of [0, n).
std::int64_t chunk_begin(std::int64_t n, int chunks, int index) { return n * index / chunks; }

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) fail("ThreadPool: threads must be >= 1, got {}", threads);
  size_ = threads;
  errors_.resize(static_cast<std::size_t>(threads));
  workers_.reserve(static_cast<std::size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::parallel_for(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  run(n,
      [](const void* context, int, std::int64_t begin, std::int64_t end) {
        (*static_cast<const std::function<void(std::int64_t, std::int64_t)>*>(context))(begin, end);
      },
      &fn);
}

void ThreadPool::parallel_for_indexed(std::int64_t n,
                                      const std::function<void(int, std::int64_t, std::int64_t)>& fn) {
  run(n,
      [](const void* context, int thread, std::int64_t begin, std::int64_t end) {
        (*static_cast<const std::function<void(int, std::int64_t, std::int64_t)>*>(context))(thread, begin, end);
      },
      &fn);
}

// Marks the pool busy for the duration of one call.
class ThreadPool::InUse {
 public:
  explicit InUse(std::atomic<bool>& flag) : flag_(flag) {
    if (flag_.exchange(true, std::memory_order_acquire)) {
      fail("ThreadPool::parallel_for: called while the pool is already running a parallel_for "
           "(from inside a chunk, or from a second thread); the pool is not reentrant");
    }
  }
  ~InUse() { flag_.store(false, std::memory_order_release); }
  InUse(const InUse&) = delete;
  InUse& operator=(const InUse&) = delete;

 private:
  std::atomic<bool>& flag_;
};

void ThreadPool::run(std::int64_t n, ChunkFn fn, const void* context) {
  if (n <= 0) return;
  InUse in_use(in_use_);
  int chunks = static_cast<int>(std::min<std::int64_t>(n, size_));
  if (chunks == 1) {  // inline: no hand-off, exceptions propagate directly
    fn(context, 0, 0, n);
    return;
  }
  job_fn_ = fn;
  job_context_ = context;
  job_n_ = n;
  job_chunks_ = chunks;
  for (std::exception_ptr& e : errors_) e = nullptr;
  // Every worker acknowledges every job (even without a chunk), so none can still be
  // reading the job fields when the next call rewrites them.
  pending_.store(static_cast<std::uint32_t>(size_ - 1), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();

  run_chunk(0);
  for (std::uint32_t left = pending_.load(std::memory_order_acquire); left != 0;)
    left = wait_for_change(pending_, left);

  for (std::exception_ptr& e : errors_)
    if (e) std::rethrow_exception(e);
}

void ThreadPool::run_chunk(int thread) {
  if (thread >= job_chunks_) return;
  try {
    job_fn_(job_context_, thread, chunk_begin(job_n_, job_chunks_, thread),
            chunk_begin(job_n_, job_chunks_, thread + 1));
  } catch (...) {
    errors_[static_cast<std::size_t>(thread)] = std::current_exception();
  }
}

void ThreadPool::worker_loop(int thread) {
  // The generation at construction, not a fresh load: a worker that starts late
  // must still see the first job.
  std::uint32_t seen = 0;
  for (;;) {
    seen = wait_for_change(generation_, seen);
    if (stop_.load(std::memory_order_relaxed)) return;
    run_chunk(thread);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_all();
  }
}

}  // namespace helix
