#include "helix/kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "helix/core/error.h"

namespace helix {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnceInContiguousChunks) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (std::int64_t n : {0, 1, 2, 3, 5, 7, 1000, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      std::mutex mutex;
      std::vector<std::pair<std::int64_t, std::int64_t>> chunks;
      pool.parallel_for(n, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1);
        std::lock_guard lock(mutex);
        chunks.emplace_back(begin, end);
      });
      for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<std::size_t>(i)].load(), 1) << "i=" << i;
      // min(threads, n) non-empty chunks (none when n == 0).
      EXPECT_EQ(chunks.size(), static_cast<std::size_t>(std::min<std::int64_t>(n, threads)))
          << "threads=" << threads << " n=" << n;
      for (auto [begin, end] : chunks) EXPECT_LT(begin, end);
    }
  }
}

TEST(ThreadPool, IndexedRunsChunkIOnThreadIWithTheCallerAsThreadZero) {
  ThreadPool pool(3);
  std::mutex mutex;
  std::set<int> indices;
  std::set<std::thread::id> ids;
  std::thread::id caller_id_seen;
  pool.parallel_for_indexed(30, [&](int thread, std::int64_t begin, std::int64_t end) {
    std::lock_guard lock(mutex);
    indices.insert(thread);
    ids.insert(std::this_thread::get_id());
    EXPECT_EQ(begin, thread * 10);  // thirds of 30, in thread order
    EXPECT_EQ(end, (thread + 1) * 10);
    if (thread == 0) caller_id_seen = std::this_thread::get_id();
  });
  EXPECT_EQ(indices, (std::set<int>{0, 1, 2}));
  EXPECT_EQ(ids.size(), 3u);  // three different threads
  EXPECT_EQ(caller_id_seen, std::this_thread::get_id());
}

TEST(ThreadPool, FewerItemsThanThreadsUseOnlyTheFirstThreads) {
  ThreadPool pool(4);
  std::atomic<int> calls{0};
  std::atomic<int> max_thread{-1};
  pool.parallel_for_indexed(2, [&](int thread, std::int64_t begin, std::int64_t end) {
    EXPECT_EQ(end - begin, 1);
    calls.fetch_add(1);
    int seen = max_thread.load();
    while (thread > seen && !max_thread.compare_exchange_weak(seen, thread)) {
    }
  });
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(max_thread.load(), 1);
}

TEST(ThreadPool, SingleThreadRunsInlineOnTheCaller) {
  ThreadPool pool(1);
  std::thread::id seen;
  pool.parallel_for(100, [&](std::int64_t begin, std::int64_t end) {
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 100);
    seen = std::this_thread::get_id();
  });
  EXPECT_EQ(seen, std::this_thread::get_id());
}

TEST(ThreadPool, ExceptionsFromWorkersAndCallerPropagateAndThePoolStaysUsable) {
  ThreadPool pool(2);
  // Thrown on the worker (chunk 1).
  EXPECT_THROW(pool.parallel_for_indexed(10,
                                         [](int thread, std::int64_t, std::int64_t) {
                                           if (thread == 1) throw std::runtime_error("worker failed");
                                         }),
               std::runtime_error);
  // Thrown on the caller (chunk 0), as helix::Error with its message intact.
  try {
    pool.parallel_for(10, [](std::int64_t begin, std::int64_t) {
      if (begin == 0) fail("chunk {} failed", begin);
    });
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "chunk 0 failed");
  }
  // Both throw: one of them is rethrown, and every chunk still ran to completion.
  std::atomic<int> finished{0};
  EXPECT_THROW(pool.parallel_for(10,
                                 [&](std::int64_t, std::int64_t) {
                                   finished.fetch_add(1);
                                   throw std::runtime_error("both");
                                 }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 2);
  // Still works.
  std::atomic<std::int64_t> sum{0};
  pool.parallel_for(100, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) sum.fetch_add(i);
  });
  EXPECT_EQ(sum.load(), 4950);
}

TEST(ThreadPool, TenThousandBackToBackCallsDoNotDeadlock) {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    std::atomic<std::int64_t> sum{0};
    for (int call = 0; call < 10000; ++call) {
      pool.parallel_for(call % 7, [&](std::int64_t begin, std::int64_t end) { sum.fetch_add(end - begin); });
    }
    std::int64_t expected = 0;
    for (int call = 0; call < 10000; ++call) expected += call % 7;
    EXPECT_EQ(sum.load(), expected);
  }
}

TEST(ThreadPool, WorkersSleepingAfterAPauseStillWake) {
  ThreadPool pool(2);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin window
    std::atomic<int> calls{0};
    pool.parallel_for(2, [&](std::int64_t, std::int64_t) { calls.fetch_add(1); });
    EXPECT_EQ(calls.load(), 2);
  }
}

TEST(ThreadPool, ReentrantCallsAreErrorsNotHangs) {
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    try {
      pool.parallel_for(4, [&](std::int64_t, std::int64_t) {
        pool.parallel_for(2, [](std::int64_t, std::int64_t) {});
      });
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not reentrant"), std::string::npos) << e.what();
    }
    std::atomic<int> calls{0};  // usable afterwards
    pool.parallel_for(2, [&](std::int64_t, std::int64_t) { calls.fetch_add(1); });
    EXPECT_EQ(calls.load(), std::min(2, threads));
  }
}

TEST(ThreadPool, RejectsFewerThanOneThread) {
  try {
    ThreadPool pool(0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("threads must be >= 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace helix
