// The hot path allocates nothing once warm: a global operator new counter (this test
// program only) around repeated matmul, vector-op and thread-pool calls.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "helix/kernels/matmul.h"
#include "helix/kernels/thread_pool.h"
#include "helix/kernels/vector_ops.h"
#include "kernel_isa_scope.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC cannot see that the replaced operator new above is what allocated p.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace helix {
namespace {

TEST(Allocation, WarmMatmulVectorOpsAndPoolCallsDoNotAllocate) {
  ThreadPool pool(2);
  const std::int64_t rows = 100, cols = 256;
  std::vector<float> values(static_cast<std::size_t>(rows * cols), 0.25f);
  std::vector<float> x(static_cast<std::size_t>(40 * cols), 0.5f), y(static_cast<std::size_t>(40 * rows));
  for (const std::string& isa : test::runnable_isas()) {
    test::KernelIsaScope scope(isa);
    for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
      std::vector<std::byte> data(dtype_row_bytes(dtype, cols) * rows + 1);
      convert_from_f32(dtype, values.data(), rows * cols, data.data() + 1);
      WeightMatrix w = WeightMatrix::make(dtype, rows, cols, data.data() + 1);
      auto calls = [&] {
        for (std::int64_t m : {1, 3, 8, 40}) {
          matmul(w, x.data(), m, y.data(), pool);
          matmul(w, x.data(), m, y.data(), pool, MatmulStrategy::Streaming);
          matmul(w, x.data(), m, y.data(), pool, MatmulStrategy::TiledGemm);
        }
        rms_norm(x.data(), x.data(), 1e-5f, cols, y.data());
        silu_mul(x.data(), x.data(), cols, y.data());
        softmax(y.data(), cols);
        pool.parallel_for(100, [&](std::int64_t, std::int64_t) {});
      };
      calls();  // warm-up: scratch buffers grow, OpenBLAS sets up
      long before = g_allocations.load();
      for (int repeat = 0; repeat < 5; ++repeat) calls();
      EXPECT_EQ(g_allocations.load() - before, 0) << isa << " " << dtype_name(dtype);
    }
  }
}

}  // namespace
}  // namespace helix
