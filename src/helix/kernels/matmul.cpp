#include "helix/kernels/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "helix/core/error.h"
#include "helix/kernels/cpu_features.h"
#include "helix/kernels/matmul_kernels.h"
#include "helix/kernels/scratch.h"

namespace helix {
namespace {

using kernels_detail::ScratchSlot;

// From this many activation rows on, decoding a tile to f32 once and running sgemm
// beats converting the weights again for every 4 activation rows (bench/kernels_bench).
std::int64_t gemm_min_m = 8;
// Rows are handed to threads in multiples of this (the streaming kernels' row block).
constexpr std::int64_t kRowGrain = 16;
// Weight rows of one thread's decoded f32 tile in the TiledGemm strategy.
std::int64_t tile_rows_max = 512;

void check_arguments(const WeightMatrix& w, const float* x, std::int64_t m, const float* y) {
  if (m < 0) fail("matmul: m (activation rows) must be >= 0, got {}", m);
  if (w.rows < 1 || w.cols < 1 || w.data == nullptr) {
    fail("matmul: WeightMatrix {} x {} (data {}) is empty; build it with WeightMatrix::make", w.rows, w.cols,
         w.data == nullptr ? "null" : "set");
  }
  if (w.dtype == DType::Q8_0 && w.cols % kQ8BlockElements != 0) {
    fail("matmul: Q8_0 WeightMatrix cols must be a multiple of 32, got {}", w.cols);
  }
  std::size_t expected = dtype_row_bytes(w.dtype, w.cols);
  if (w.row_bytes != expected) {
    fail("matmul: WeightMatrix row_bytes is {}, but {} cols of {} take {}; build it with WeightMatrix::make",
         w.row_bytes, w.cols, dtype_name(w.dtype), expected);
  }
  if (m > 0 && (x == nullptr || y == nullptr)) fail("matmul: {} is null (m = {})", x == nullptr ? "x" : "y", m);
  if (m > INT_MAX || w.rows > INT_MAX || w.cols > INT_MAX) {
    fail("matmul: shape m = {}, rows = {}, cols = {} exceeds the BLAS int range", m, w.rows, w.cols);
  }
}

// matmul parallelises over the pool; a multi-threaded OpenBLAS inside each
// thread's call would oversubscribe the cores.
void use_single_threaded_openblas() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

// The call's arguments, captured by one pointer so that the std::function the pool
// takes fits its small buffer (no allocation per call).
struct Call {
  const WeightMatrix& w;
  const float* x;
  std::int64_t m;
  float* y;
  bool avx2;
};

// Rows [begin, end) of grains of kRowGrain rows.
std::int64_t grain_row(const WeightMatrix& w, std::int64_t grain) { return std::min(w.rows, grain * kRowGrain); }

void streaming(const Call& c, ThreadPool& pool) {
  std::int64_t grains = (c.w.rows + kRowGrain - 1) / kRowGrain;
  pool.parallel_for(grains, [&c](std::int64_t begin, std::int64_t end) {
    std::int64_t row_begin = grain_row(c.w, begin), row_end = grain_row(c.w, end);
    if (c.avx2) {
      kernels_detail::gemv_rows_avx2(c.w, c.x, c.m, c.y, row_begin, row_end);
    } else {
      kernels_detail::gemv_rows_scalar(c.w, c.x, c.m, c.y, row_begin, row_end);
    }
  });
}

// y[:, row_begin : row_begin + count] = x · Wtileᵀ, Wtile count x cols f32 row-major.
void sgemm_rows(const Call& c, const float* tile, std::int64_t row_begin, std::int64_t count) {
  auto m = static_cast<int>(c.m), n = static_cast<int>(count), k = static_cast<int>(c.w.cols);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, c.x, k, tile, k, 0.0f, c.y + row_begin,
              static_cast<int>(c.w.rows));
}

// F32 weights go to sgemm in place when they are float-aligned (BLAS may assume it).
bool usable_in_place(const WeightMatrix& w) {
  return w.dtype == DType::F32 && reinterpret_cast<std::uintptr_t>(w.data) % alignof(float) == 0;
}

void tiled_gemm_share(const Call& c, std::int64_t row_begin, std::int64_t row_end) {
  if (usable_in_place(c.w)) {
    sgemm_rows(c, reinterpret_cast<const float*>(c.w.row(row_begin)), row_begin, row_end - row_begin);
    return;
  }
  std::int64_t tile_rows = std::min(tile_rows_max, row_end - row_begin);
  float* tile = kernels_detail::thread_scratch(ScratchSlot::WeightTile,
                                               static_cast<std::size_t>(tile_rows * c.w.cols));
  for (std::int64_t r = row_begin; r < row_end; r += tile_rows) {
    std::int64_t count = std::min(tile_rows, row_end - r);
    if (c.avx2) {
      kernels_detail::convert_rows_avx2(c.w, r, count, tile);
    } else {
      kernels_detail::convert_rows_scalar(c.w, r, count, tile);
    }
    sgemm_rows(c, tile, r, count);
  }
}

void tiled_gemm(const Call& c, ThreadPool& pool) {
  use_single_threaded_openblas();
  std::int64_t grains = (c.w.rows + kRowGrain - 1) / kRowGrain;
  pool.parallel_for(grains, [&c](std::int64_t begin, std::int64_t end) {
    tiled_gemm_share(c, grain_row(c.w, begin), grain_row(c.w, end));
  });
}

// Tuning knobs read once from the environment (development aid, see kernels_bench).
[[maybe_unused]] const bool g_tuning_read = [] {
  if (const char* v = std::getenv("HELIX_GEMM_MIN_M")) gemm_min_m = std::atoll(v);
  if (const char* v = std::getenv("HELIX_TILE_ROWS")) tile_rows_max = std::atoll(v);
  return true;
}();

}  // namespace

MatmulStrategy matmul_strategy(const WeightMatrix&, std::int64_t m) {
  return m >= gemm_min_m ? MatmulStrategy::TiledGemm : MatmulStrategy::Streaming;
}

void matmul(const WeightMatrix& w, const float* x, std::int64_t m, float* y, ThreadPool& pool) {
  matmul(w, x, m, y, pool, matmul_strategy(w, m));
}

void matmul(const WeightMatrix& w, const float* x, std::int64_t m, float* y, ThreadPool& pool,
            MatmulStrategy strategy) {
  check_arguments(w, x, m, y);
  if (m == 0) return;
  Call call{w, x, m, y, active_kernel_isa() == KernelIsa::Avx2};
  if (strategy == MatmulStrategy::Streaming) {
    streaming(call, pool);
  } else {
    tiled_gemm(call, pool);
  }
}

}  // namespace helix
