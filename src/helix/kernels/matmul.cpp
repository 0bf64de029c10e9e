#include "helix/kernels/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "helix/core/error.h"
#include "helix/kernels/cpu_features.h"
#include "helix/kernels/matmul_kernels.h"
#include "helix/kernels/scratch.h"

namespace helix {
namespace {

using kernels_detail::ScratchSlot;

// From this many activation rows on, TiledGemm (decode a tile to f32 once, then
// sgemm, near the CPU's peak: AVX-512 where there is one) beats the streaming
// kernels (which widen the weights again for every 4 activation rows). Crossovers
// measured on one 7B layer (bench/kernels_bench part 4 and the same sweep for the
// other dtypes): F32 needs no conversion, Q8_0's streaming kernel is the slowest.
std::int64_t gemm_min_m(DType dtype) {
  switch (dtype) {
    case DType::F32: return 16;
    case DType::Q8_0: return 20;
    case DType::F16:
    case DType::BF16: return 40;
    default: return 16;  // the other block types decode a row at a time in the streaming kernel
  }
  return 16;
}
// Rows are handed to threads in multiples of this (the streaming kernels' row block).
constexpr std::int64_t kRowGrain = 24;
// Weight rows of one thread's decoded f32 tile in the TiledGemm strategy. sgemm packs
// the whole activation matrix (m x cols) again on every call, so a tile needs many
// rows for that to be cheap: at m = 512, L2-sized 1 MiB tiles ran at 79% (cols 4096,
// 64 rows) and 47% (cols 11008, 23 rows) of the speed of 512-row tiles, which come
// within ~10% of one sgemm over all rows. The scratch is 512 x cols floats per thread
// (8 MiB for cols = 4096, 22 MiB for 11008), reused across calls.
constexpr std::int64_t kTileRows = 512;

void check_arguments(const WeightMatrix& w, const float* x, std::int64_t m, const float* y) {
  if (m < 0) fail("matmul: m (activation rows) must be >= 0, got {}", m);
  if (w.rows < 1 || w.cols < 1 || w.data == nullptr) {
    fail("matmul: WeightMatrix {} x {} (data {}) is empty; build it with WeightMatrix::make", w.rows, w.cols,
         w.data == nullptr ? "null" : "set");
  }
  if (const int block = dtype_block_elements(w.dtype); block > 1 && w.cols % block != 0) {
    fail("matmul: {} WeightMatrix cols must be a multiple of {}, got {}", dtype_name(w.dtype), block, w.cols);
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
  KernelIsa isa;
};

// The first row of grain `grain` (rows are handed out in grains), clamped to w.rows.
std::int64_t grain_row(const WeightMatrix& w, std::int64_t grain) { return std::min(w.rows, grain * kRowGrain); }

// Below this many multiply-adds a product takes less time than waking the other
// thread (tens of microseconds when it sleeps): run it on the caller alone.
constexpr std::int64_t kInlineMultiplyAdds = std::int64_t{1} << 17;

void streaming(const Call& c, ThreadPool& pool) {
  // The avx512 kernel's copy of x is made here, before the split (in the calling
  // thread's scratch, which the pool threads only read).
  kernels_detail::FloatActivations x{c.x, c.w.cols};
  if (has_avx512_kernels(c.isa)) x = kernels_detail::prepare_activations_avx512(c.w, c.x, c.m);
  std::int64_t grains = (c.w.rows + kRowGrain - 1) / kRowGrain;
  auto rows = [&c, &x](std::int64_t begin, std::int64_t end) {
    std::int64_t row_begin = grain_row(c.w, begin), row_end = grain_row(c.w, end);
    switch (c.isa) {
      case KernelIsa::Amx:
      case KernelIsa::Avx512: kernels_detail::gemv_rows_avx512(c.w, x, c.m, c.y, row_begin, row_end); break;
      case KernelIsa::Avx2: kernels_detail::gemv_rows_avx2(c.w, c.x, c.m, c.y, row_begin, row_end); break;
      case KernelIsa::Scalar: kernels_detail::gemv_rows_scalar(c.w, c.x, c.m, c.y, row_begin, row_end); break;
    }
  };
  if (c.w.rows * c.w.cols * c.m < kInlineMultiplyAdds) {
    rows(0, grains);
  } else {
    pool.parallel_for(grains, rows);
  }
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
  std::int64_t tile_rows = std::min(kTileRows, row_end - row_begin);
  float* tile = kernels_detail::thread_scratch(ScratchSlot::WeightTile,
                                               static_cast<std::size_t>(tile_rows * c.w.cols));
  for (std::int64_t r = row_begin; r < row_end; r += tile_rows) {
    std::int64_t count = std::min(tile_rows, row_end - r);
    if (c.isa != KernelIsa::Scalar) {
      kernels_detail::convert_rows_avx2(c.w, r, count, tile);
    } else {
      kernels_detail::convert_rows_scalar(c.w, r, count, tile);
    }
    sgemm_rows(c, tile, r, count);
  }
}

// Whether the amx level's arithmetic (int8_block_arithmetic.h) multiplies this dtype:
// the int8 block types under avx512 and amx (VNNI, and the tile unit under amx from
// 16 tokens), and BF16 under amx (tiles at every batch).
bool one_arithmetic(KernelIsa isa, DType dtype) {
  return (has_avx512_kernels(isa) && kernels_detail::is_int8_block_type(dtype)) ||
         (isa == KernelIsa::Amx && kernels_detail::amx_multiplies(dtype));
}

// The VNNI and AMX kernels work on groups of 16 weight rows; threads get whole groups.
constexpr std::int64_t kAmxRowGrain = 16;

// rows(row_begin, row_end) over the pool in whole groups of 16 rows.
template <typename Rows>
void for_row_groups(const Call& c, ThreadPool& pool, const Rows& rows) {
  const std::int64_t grains = (c.w.rows + kAmxRowGrain - 1) / kAmxRowGrain;
  auto share = [&](std::int64_t begin, std::int64_t end) {
    rows(begin * kAmxRowGrain, std::min(c.w.rows, end * kAmxRowGrain));
  };
  if (c.w.rows * c.w.cols * c.m < kInlineMultiplyAdds) {
    share(0, grains);
  } else {
    pool.parallel_for(grains, share);
  }
}

// The one arithmetic, as the strategy asks: Streaming runs the VNNI kernel for
// fewer than 16 tokens (gemv_rows_vnni), on 15 tokens at a time where there
// are more; TiledGemm from 16 tokens the tile unit (amx) or the VNNI GEMM (avx512).
// Every path gives a row the same bits.
void one_arithmetic_gemm(const Call& c, ThreadPool& pool, MatmulStrategy strategy) {
  using kernels_detail::kVnniGemmMinTokens;
  const bool tiles = c.isa == KernelIsa::Amx;
  if (tiles && (c.w.dtype == DType::BF16 || (strategy == MatmulStrategy::TiledGemm && c.m >= kVnniGemmMinTokens))) {
    const kernels_detail::BlockActivations x = kernels_detail::prepare_activations_amx(c.w, c.x, c.m, pool);
    for_row_groups(c, pool, [&](std::int64_t row_begin, std::int64_t row_end) {
      kernels_detail::gemm_rows_amx(c.w, x, c.y, row_begin, row_end);
    });
    return;
  }
  const kernels_detail::BlockActivations x = kernels_detail::prepare_activations_vnni(c.w, c.x, c.m, pool);
  if (strategy == MatmulStrategy::TiledGemm && c.m >= kVnniGemmMinTokens) {
    const kernels_detail::BlockActivations runs = kernels_detail::interleave_token_runs(x, c.w.dtype, pool);
    for_row_groups(c, pool, [&](std::int64_t row_begin, std::int64_t row_end) {
      kernels_detail::gemm_rows_vnni(c.w, runs, c.y, row_begin, row_end);
    });
    return;
  }
  for (std::int64_t t0 = 0; t0 < c.m; t0 += kVnniGemmMinTokens - 1) {
    const std::int64_t count = std::min(kVnniGemmMinTokens - 1, c.m - t0);
    const kernels_detail::BlockActivations slice = kernels_detail::token_slice(x, t0, count);
    float* y = c.y + t0 * c.w.rows;
    for_row_groups(c, pool, [&](std::int64_t row_begin, std::int64_t row_end) {
      kernels_detail::gemv_rows_vnni(c.w, slice, y, row_begin, row_end);
    });
  }
}

void tiled_gemm(const Call& c, ThreadPool& pool) {
  use_single_threaded_openblas();
  std::int64_t grains = (c.w.rows + kRowGrain - 1) / kRowGrain;
  pool.parallel_for(grains, [&c](std::int64_t begin, std::int64_t end) {
    tiled_gemm_share(c, grain_row(c.w, begin), grain_row(c.w, end));
  });
}

}  // namespace

MatmulStrategy matmul_strategy(const WeightMatrix& w, std::int64_t m) {
  const KernelIsa isa = active_kernel_isa();
  // BF16 under amx: tiles at every batch size, decode included (one arithmetic per
  // row whatever its batch, at least as fast as streaming).
  if (isa == KernelIsa::Amx && w.dtype == DType::BF16) return MatmulStrategy::TiledGemm;
  // The int8 block types under avx512 and amx: the VNNI kernel below 16 tokens, the
  // tiles or the VNNI GEMM from 16 (the same arithmetic).
  if (one_arithmetic(isa, w.dtype)) {
    return m >= kernels_detail::kVnniGemmMinTokens ? MatmulStrategy::TiledGemm : MatmulStrategy::Streaming;
  }
  // BF16 and F16 under avx512 (and F16 under amx): the level's own kernel at every
  // m, one arithmetic per row in any batch (a recomputed request keeps its tokens;
  // sgemm's other summation order could turn into other tokens).
  if (has_avx512_kernels(isa) && kernels_detail::avx512_float_kernel(w.dtype)) return MatmulStrategy::Streaming;
  return m >= gemm_min_m(w.dtype) ? MatmulStrategy::TiledGemm : MatmulStrategy::Streaming;
}

ActivationRounding matmul_activation_rounding(DType dtype) {
  const KernelIsa isa = active_kernel_isa();
  if (has_avx512_kernels(isa) && kernels_detail::is_int8_block_type(dtype)) {
    return kernels_detail::is_block_scaled(dtype) ? ActivationRounding::Int8Blocks : ActivationRounding::Int8Superblocks;
  }
  if (isa == KernelIsa::Amx && dtype == DType::BF16) return ActivationRounding::Bf16;  // tiles at every batch
  return ActivationRounding::None;
}

void matmul(const WeightMatrix& w, const float* x, std::int64_t m, float* y, ThreadPool& pool) {
  matmul(w, x, m, y, pool, matmul_strategy(w, m));
}

void matmul(const WeightMatrix& w, const float* x, std::int64_t m, float* y, ThreadPool& pool,
            MatmulStrategy strategy) {
  check_arguments(w, x, m, y);
  if (m == 0) return;
  Call call{w, x, m, y, active_kernel_isa()};
  if (one_arithmetic(call.isa, w.dtype)) {
    one_arithmetic_gemm(call, pool, strategy);
  } else if (strategy == MatmulStrategy::Streaming) {
    streaming(call, pool);
  } else {
    tiled_gemm(call, pool);
  }
}

}  // namespace helix
