#include "helix/kernels/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "helix/core/error.h"
#include "helix/kernels/matmul_kernels.h"
#include "kernel_isa_scope.h"

namespace helix {
namespace {

using test::KernelIsaScope;

// A weight matrix in `dtype` built from random values, stored `offset` bytes into its
// buffer (mmap'd weights are not aligned), with its dequantised f32 copy.
struct TestWeights {
  std::vector<std::byte> storage;
  std::vector<float> dequantised;  // rows x cols, what the kernels must multiply by
  WeightMatrix w;
};

TestWeights make_weights(DType dtype, std::int64_t rows, std::int64_t cols, std::size_t offset, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> f32(static_cast<std::size_t>(rows * cols));
  for (float& v : f32) v = value(rng);
  TestWeights t;
  std::size_t bytes = dtype_row_bytes(dtype, cols) * static_cast<std::size_t>(rows);
  t.storage.resize(bytes + offset);
  convert_from_f32(dtype, f32.data(), rows * cols, t.storage.data() + offset);
  t.dequantised.resize(f32.size());
  convert_to_f32(dtype, t.storage.data() + offset, rows * cols, t.dequantised.data());
  t.w = WeightMatrix::make(dtype, rows, cols, t.storage.data() + offset);
  return t;
}

std::vector<float> random_activations(std::int64_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> value(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(count));
  for (float& v : x) v = value(rng);
  return x;
}

// y = x Wᵀ accumulated in double from the dequantised weights.
std::vector<double> reference(const TestWeights& t, const float* x, std::int64_t m) {
  std::int64_t rows = t.w.rows, cols = t.w.cols;
  std::vector<double> y(static_cast<std::size_t>(m * rows));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < rows; ++j) {
      double sum = 0.0;
      for (std::int64_t k = 0; k < cols; ++k)
        sum += static_cast<double>(x[i * cols + k]) * t.dequantised[static_cast<std::size_t>(j * cols + k)];
      y[static_cast<std::size_t>(i * rows + j)] = sum;
    }
  return y;
}

// The largest sum_k |x_ik| |W_jk|: the scale of a dot product's rounding error
// (a result near 0 by cancellation has a tiny |ref| but not a tiny error).
double magnitude(const TestWeights& t, const float* x, std::int64_t m) {
  double largest = 0.0;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < t.w.rows; ++j) {
      double sum = 0.0;
      for (std::int64_t k = 0; k < t.w.cols; ++k)
        sum += std::fabs(static_cast<double>(x[i * t.w.cols + k]) *
                         t.dequantised[static_cast<std::size_t>(j * t.w.cols + k)]);
      largest = std::max(largest, sum);
    }
  return largest;
}

// max |y - ref| / scale.
double scaled_error(const std::vector<float>& y, const std::vector<double>& ref, double scale) {
  double max_diff = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) max_diff = std::max(max_diff, std::fabs(y[i] - ref[i]));
  return scale > 0.0 ? max_diff / scale : max_diff;
}

// max |y - ref| / max |ref|.
double relative_error(const std::vector<float>& y, const std::vector<double>& ref) {
  double max_diff = 0.0, max_ref = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(y[i] - ref[i]));
    max_ref = std::max(max_ref, std::fabs(ref[i]));
  }
  return max_ref > 0.0 ? max_diff / max_ref : max_diff;
}

// x as the int8 kernels see it (matmul.h): each `block` values (32, or 256 for the
// amx level's K-quants) scaled by s = max|x| / 127, rounded to the nearest integer
// (ties to even, as the kernels' conversion does) and scaled back.
std::vector<float> int8_rounded(const float* x, std::int64_t count, std::int64_t block) {
  std::vector<float> out(static_cast<std::size_t>(count));
  for (std::int64_t b = 0; b < count; b += block) {
    float amax = 0.0f;
    for (std::int64_t k = b; k < b + block; ++k) amax = std::max(amax, std::fabs(x[k]));
    const float inverse = amax > 0.0f ? 127.0f / amax : 0.0f, scale = amax / 127.0f;
    for (std::int64_t k = b; k < b + block; ++k) out[k] = std::nearbyint(x[k] * inverse) * scale;
  }
  return out;
}

// The bound matmul.h gives for the int8 activations' rounding, per result:
// sum_k |W[j][k]| * s(k) / 2.
std::vector<double> int8_rounding_bound(const TestWeights& t, const float* x, std::int64_t m, std::int64_t block) {
  const std::int64_t rows = t.w.rows, cols = t.w.cols;
  std::vector<double> half_scale(static_cast<std::size_t>(m * cols));
  for (std::int64_t b = 0; b < m * cols; b += block) {
    double amax = 0.0;
    for (std::int64_t k = b; k < b + block; ++k) amax = std::max(amax, std::fabs(static_cast<double>(x[k])));
    for (std::int64_t k = b; k < b + block; ++k) half_scale[static_cast<std::size_t>(k)] = amax / 127.0 / 2.0;
  }
  std::vector<double> bound(static_cast<std::size_t>(m * rows));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < rows; ++j) {
      double sum = 0.0;
      for (std::int64_t k = 0; k < cols; ++k)
        sum += std::fabs(t.dequantised[static_cast<std::size_t>(j * cols + k)]) *
               half_scale[static_cast<std::size_t>(i * cols + k)];
      bound[static_cast<std::size_t>(i * rows + j)] = sum;
    }
  return bound;
}

// x rounded to bf16, nearest even (as vcvtneps2bf16; x is finite here).
std::vector<float> bf16_rounded(const float* x, std::int64_t count) {
  std::vector<float> out(static_cast<std::size_t>(count));
  for (std::int64_t k = 0; k < count; ++k) {
    std::uint32_t bits;
    std::memcpy(&bits, &x[k], sizeof bits);
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000u;
    std::memcpy(&out[static_cast<std::size_t>(k)], &bits, sizeof bits);
  }
  return out;
}

// The bound matmul.h gives for bf16 activations: 2^-8 sum_k |W[j][k] x[k]|.
std::vector<double> bf16_rounding_bound(const TestWeights& t, const float* x, std::int64_t m) {
  std::vector<double> bound(static_cast<std::size_t>(m * t.w.rows));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < t.w.rows; ++j) {
      double sum = 0.0;
      for (std::int64_t k = 0; k < t.w.cols; ++k)
        sum += std::fabs(t.dequantised[static_cast<std::size_t>(j * t.w.cols + k)] * static_cast<double>(x[i * t.w.cols + k]));
      bound[static_cast<std::size_t>(i * t.w.rows + j)] = sum / 256.0;
    }
  return bound;
}

// Checks a result that used rounded activations: equal (within float rounding) to
// the product of the rounded operands, and within the documented bound of the exact one.
void expect_rounded_activation_result(ActivationRounding rounding, const TestWeights& t, const float* x,
                                      std::int64_t m, const std::vector<float>& y, const std::vector<double>& exact,
                                      const std::string& what) {
  const bool int8 = rounding == ActivationRounding::Int8Blocks || rounding == ActivationRounding::Int8Superblocks;
  const std::int64_t block = rounding == ActivationRounding::Int8Superblocks ? 256 : 32;
  std::vector<float> rounded = int8 ? int8_rounded(x, m * t.w.cols, block) : bf16_rounded(x, m * t.w.cols);
  EXPECT_LT(scaled_error(y, reference(t, rounded.data(), m), magnitude(t, rounded.data(), m)), 1e-6) << what;
  std::vector<double> bound = int8 ? int8_rounding_bound(t, x, m, block) : bf16_rounding_bound(t, x, m);
  const double slack = 1e-6 * magnitude(t, x, m);  // float accumulation
  for (std::size_t n = 0; n < y.size(); ++n) {
    ASSERT_LE(std::fabs(y[n] - exact[n]), bound[n] * 1.001 + slack) << what << " result " << n;
  }
}

struct Shape {
  std::int64_t rows, cols;
};

// Awkward shapes: rows 1, 3, 33 (not a multiple of the row tiles or the thread
// split), cols not a multiple of 8 where the dtype allows it, and cols past one
// 512-column chunk (the streaming kernels split the columns for m > 4).
std::vector<Shape> shapes_for(DType dtype) {
  if (dtype_block_elements(dtype) == 256) return {{1, 256}, {3, 512}, {33, 256}, {7, 1024}};
  if (dtype_block_elements(dtype) == 32) return {{1, 32}, {3, 96}, {33, 64}, {20, 160}, {7, 1056}};
  return {{1, 8}, {3, 37}, {33, 13}, {20, 130}, {5, 1}, {7, 1029}};
}

constexpr DType kDTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1,
                             DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};
constexpr std::int64_t kBatchSizes[] = {1, 2, 3, 4, 5, 8, 17, 64, 130};

// The int8 block types, which the avx512 and amx levels multiply with one integer
// arithmetic (block-scaled, then K-quants), and BF16 beside them.
constexpr DType kInt8Types[] = {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_1,
                                DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};
constexpr DType kBf16AndInt8Types[] = {DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_1,
                                       DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};
// Columns for the int8 types' bit-identity tests: 73 blocks of 32 (a last run of 32
// values after 64-value steps), 9 superblocks.
std::int64_t int8_cols(DType dtype) { return dtype_block_elements(dtype) == 32 ? 2336 : 2304; }

TEST(Matmul, MatchesADoubleReferenceForEveryDtypeShapeBatchIsaThreadCountAndStrategy) {
  ThreadPool pool1(1), pool2(2);
  unsigned seed = 1;
  for (const std::string& isa : test::runnable_isas()) {
    KernelIsaScope scope(isa);
    ASSERT_EQ(kernel_isa(), isa);
    for (DType dtype : kDTypes) {
      std::size_t offset = 0;
      for (Shape shape : shapes_for(dtype)) {
        TestWeights t = make_weights(dtype, shape.rows, shape.cols, offset, ++seed);
        offset = (offset + 1) % 4;  // 0, 1, 2, 3 bytes off alignment
        for (std::int64_t m : kBatchSizes) {
          // x one float past a 32-byte boundary: activations need not be vector-aligned.
          std::vector<float> x_storage = random_activations(m * shape.cols + 1, ++seed);
          const float* x = x_storage.data() + 1;
          std::vector<double> ref = reference(t, x, m);
          const double scale = magnitude(t, x, m);
          for (ThreadPool* pool : {&pool1, &pool2}) {
            for (int strategy = 0; strategy < 3; ++strategy) {
              std::vector<float> y(static_cast<std::size_t>(m * shape.rows), NAN);
              if (strategy == 0) {
                matmul(t.w, x, m, y.data(), *pool);
              } else {
                matmul(t.w, x, m, y.data(), *pool,
                       strategy == 1 ? MatmulStrategy::Streaming : MatmulStrategy::TiledGemm);
              }
              const std::string what = isa + " " + std::string(dtype_name(dtype)) + " " + std::to_string(shape.rows) +
                                       "x" + std::to_string(shape.cols) + " m=" + std::to_string(m) +
                                       " threads=" + std::to_string(pool->size()) +
                                       " strategy=" + std::to_string(strategy);
              if (const auto rounding = matmul_activation_rounding(dtype); rounding != ActivationRounding::None) {
                expect_rounded_activation_result(rounding, t, x, m, y, ref, what);
              } else {
                EXPECT_LT(scaled_error(y, ref, scale), 1e-6) << what;
              }
            }
          }
        }
      }
    }
  }
}

// More rows than one thread's f32 tile (512 rows), so the TiledGemm strategy runs
// several tiles per thread, rows that do not split evenly, and columns in several
// chunks for the streaming kernels.
TEST(Matmul, LargeMatricesSpanSeveralTilesPerThread) {
  ThreadPool pool(2);
  const std::int64_t rows = 1043, cols = 2048, m = 9;
  std::vector<float> x = random_activations(m * cols, 7);
  for (const std::string& isa : test::runnable_isas()) {
    KernelIsaScope scope(isa);
    for (DType dtype : kBf16AndInt8Types) {
      TestWeights t = make_weights(dtype, rows, cols, 1, 11);
      std::vector<double> ref = reference(t, x.data(), m);
      for (MatmulStrategy strategy : {MatmulStrategy::Streaming, MatmulStrategy::TiledGemm}) {
        std::vector<float> y(static_cast<std::size_t>(m * rows), NAN);
        matmul(t.w, x.data(), m, y.data(), pool, strategy);
        if (const auto rounding = matmul_activation_rounding(dtype); rounding != ActivationRounding::None) {
          expect_rounded_activation_result(rounding, t, x.data(), m, y, ref, isa + " " + std::string(dtype_name(dtype)));
        } else {
          EXPECT_LT(relative_error(y, ref), 1e-5) << isa << " " << dtype_name(dtype);
        }
      }
    }
  }
}

// The AMX kernels decode Q8_0's rows in panels of 1024 values (1280 columns: two)
// and the K-quants' a 256-value superblock at a time (five), in groups of 16 weight
// rows (67: a partial group) against blocks of 16 tokens (600: a partial block), and
// BF16 in four groups at a time, straight from the matrix.
TEST(Matmul, AmxTilesSpanSeveralPanelsAndPartialBlocks) {
  if (!cpu_supports(KernelIsa::Amx)) GTEST_SKIP() << "no AMX on this CPU";
  KernelIsaScope scope("amx");
  ThreadPool pool(2);
  const std::int64_t rows = 67, cols = 1280, m = 600;
  std::vector<float> x = random_activations(m * cols, 12);
  for (DType dtype : kBf16AndInt8Types) {
    TestWeights t = make_weights(dtype, rows, cols, 2, 13);
    std::vector<double> ref = reference(t, x.data(), m);
    std::vector<float> y(static_cast<std::size_t>(m * rows), NAN);
    ASSERT_EQ(matmul_strategy(t.w, m), MatmulStrategy::TiledGemm);
    matmul(t.w, x.data(), m, y.data(), pool);
    expect_rounded_activation_result(matmul_activation_rounding(dtype), t, x.data(), m, y,
                                     ref, "amx " + std::string(dtype_name(dtype)));
  }
}

TEST(Matmul, StreamingResultsDoNotDependOnTheThreadCount) {
  ThreadPool pool1(1), pool2(2), pool3(3);
  const std::int64_t m = 3;
  for (DType dtype : kBf16AndInt8Types) {
    // Not a multiple of 64 (BF16: of 16); Q6_K two superblocks.
    std::int64_t cols = dtype_block_elements(dtype) == 32 ? 224 : 256;
    if (dtype == DType::BF16) cols = 200;
    if (dtype == DType::Q6_K) cols = 512;
    TestWeights t = make_weights(dtype, 77, cols, 3, 5);
    std::vector<float> x = random_activations(m * cols, 6);
    for (const std::string& isa : test::runnable_isas()) {
      KernelIsaScope scope(isa);
      std::vector<float> y1(m * 77), y2(m * 77), y3(m * 77);
      matmul(t.w, x.data(), m, y1.data(), pool1, MatmulStrategy::Streaming);
      matmul(t.w, x.data(), m, y2.data(), pool2, MatmulStrategy::Streaming);
      matmul(t.w, x.data(), m, y3.data(), pool3, MatmulStrategy::Streaming);
      EXPECT_EQ(y1, y2) << isa << " " << dtype_name(dtype);
      EXPECT_EQ(y1, y3) << isa << " " << dtype_name(dtype);
    }
  }
}

// On the avx512 and amx levels a row gets one arithmetic at every batch size
// (BF16/F16: f32 fma with the weights widened per use, 4 rows at a time, below 64
// tokens and once per block of 192 rows from 64; the int8 types: VNNI below 16 tokens, the VNNI GEMM or tiles from
// 16, with one integer arithmetic), so its result is the same bits whether it comes
// alone or in a batch of any size: what lets a preempted request be recomputed in a
// prefill without changing its tokens. (scalar and avx2 switch to sgemm for larger
// batches.) 37 weight rows: a partial group of 16; Q8_0 with 73 blocks per row: a
// last run of 32 values; BF16 with 1029 columns: a partial last step; batches on
// both sides of 16 and 64 (the VNNI GEMM's runs of 12, 4 and 1 at 17 and 40).
TEST(Matmul, OneRowGivesTheSameBitsAloneAndInAnyBatch) {
  if (!cpu_supports(KernelIsa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  ThreadPool pool(2);
  const std::int64_t rows = 37, compared = 2;  // activation row 2 of every batch below
  for (const std::string& isa : test::runnable_isas()) {
    if (isa != "avx512" && isa != "amx") continue;
    KernelIsaScope scope(isa);
    std::vector<std::pair<DType, std::int64_t>> cases = {{DType::BF16, 2304}, {DType::BF16, 1029}, {DType::F16, 2304}};
    for (DType dtype : kInt8Types) cases.emplace_back(dtype, int8_cols(dtype));
    for (auto [dtype, cols] : cases) {
      std::vector<float> x = random_activations(64 * cols, 21);
      TestWeights t = make_weights(dtype, rows, cols, 1, 22);
      std::vector<float> alone(rows);
      matmul(t.w, x.data() + compared * cols, 1, alone.data(), pool);
      for (std::int64_t m : {3, 8, 15, 16, 17, 31, 32, 40, 63, 64}) {
        std::vector<float> batch(static_cast<std::size_t>(m * rows));
        matmul(t.w, x.data(), m, batch.data(), pool);
        for (std::int64_t j = 0; j < rows; ++j) {
          ASSERT_EQ(alone[j], batch[static_cast<std::size_t>(compared * rows + j)])
              << isa << " " << dtype_name(dtype) << " cols=" << cols << " m=" << m << " row " << j;
        }
      }
    }
  }
}

// From kParallelPrepareValues values of x on, the threads share quantizing and
// regrouping x (tokens, runs of 12, token blocks of 16): 150 tokens of 2304 values
// (345600) split in the middle of a run and of a token block. Every token must still
// get the bits it gets alone.
TEST(Matmul, ActivationsPreparedByEveryThreadGiveEachTokenItsBits) {
  if (!cpu_supports(KernelIsa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  ThreadPool pool(3);
  const std::int64_t rows = 37, cols = 2304, m = 150;
  static_assert(m * cols >= kernels_detail::kParallelPrepareValues);
  std::vector<float> x = random_activations(m * cols, 51);
  for (const std::string& isa : test::runnable_isas()) {
    if (isa != "avx512" && isa != "amx") continue;
    KernelIsaScope scope(isa);
    for (DType dtype : kBf16AndInt8Types) {
      TestWeights t = make_weights(dtype, rows, cols, 1, 52);
      std::vector<float> batch(static_cast<std::size_t>(m * rows)), alone(rows);
      matmul(t.w, x.data(), m, batch.data(), pool);
      for (std::int64_t token = 0; token < m; ++token) {
        matmul(t.w, x.data() + token * cols, 1, alone.data(), pool);
        for (std::int64_t j = 0; j < rows; ++j)
          ASSERT_EQ(alone[j], batch[static_cast<std::size_t>(token * rows + j)]) << isa << " " << dtype_name(dtype) << " token " << token << " row " << j;
      }
    }
  }
}

// The VNNI GEMM folds the K-quants' group scales in with vpdpwssd, on sums that it
// keeps within int16 by centring the quants (matmul_vnni_gemm.cpp). Blocks written
// byte by byte put those sums at their bound: every quant at the far end from the
// centre (Q4_K 0 against 8, Q5_K 0 against 16, Q6_K 0 as stored against 32), the
// largest scales (Q4_K, Q5_K 63; Q6_K -128, whose sign the fold must keep), and
// tokens whose x is one value (+1 or -1), so that every part of a group sums to
// -+32512 (int16 ends at 32767). Rows of random bytes lie between them. Each token
// must get the bits it gets alone (the VNNI kernel, whose sums are 32-bit
// throughout); 29 tokens: runs of 12, 4, 1.
TEST(Matmul, KQuantGemmKeepsItsSumsWithinInt16AtTheExtremes) {
  if (!cpu_supports(KernelIsa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  ThreadPool pool(2);
  const std::int64_t rows = 20, cols = 512, m = 29;
  std::vector<float> x = random_activations(m * cols, 41);
  for (std::int64_t t = 0; t < m; t += 3)
    std::fill(x.begin() + t * cols, x.begin() + (t + 1) * cols, t % 2 == 0 ? 1.0f : -1.0f);
  for (DType dtype : {DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const bool mins = dtype != DType::Q6_K;  // Q4_K, Q5_K: d, dmin, 12 bytes of 6-bit scales and mins, then quants
    const std::size_t row_bytes = dtype_row_bytes(dtype, cols), block_bytes = row_bytes / (cols / 256);
    std::vector<std::byte> storage(row_bytes * rows);
    std::mt19937 rng(42);
    for (std::size_t at = 0; at < storage.size(); at += block_bytes) {
      std::byte* block = storage.data() + at;
      const bool extreme = at / row_bytes % 2 == 0;
      for (std::size_t i = 0; i < block_bytes; ++i) block[i] = static_cast<std::byte>(rng() & 0xFF);
      // Q4_K: nibbles from byte 16; Q5_K: fifth bits from 16, nibbles from 48. Q6_K:
      // 128 bytes of low nibbles, 64 of high bits, 16 int8 scales, d.
      const std::size_t quants = mins ? 16 : 0, quant_bytes = mins ? block_bytes - 16 : 192, scales = mins ? 4 : 192;
      if (extreme) {
        std::memset(block + quants, 0, quant_bytes);
        std::memset(block + scales, mins ? 0xFF : 0x80, mins ? 12 : 16);
      }
      const std::uint16_t d = 0x2C00;  // 1/16 in f16 (dmin too)
      std::memcpy(block + (mins ? 0 : 208), &d, 2);
      if (mins) std::memcpy(block + 2, &d, 2);
    }
    const WeightMatrix w = WeightMatrix::make(dtype, rows, cols, storage.data());
    for (const std::string& isa : test::runnable_isas()) {
      if (isa != "avx512" && isa != "amx") continue;
      KernelIsaScope scope(isa);
      std::vector<float> batch(static_cast<std::size_t>(m * rows)), alone(rows);
      matmul(w, x.data(), m, batch.data(), pool);
      for (std::int64_t t = 0; t < m; ++t) {
        matmul(w, x.data() + t * cols, 1, alone.data(), pool);
        for (std::int64_t j = 0; j < rows; ++j)
          ASSERT_EQ(alone[j], batch[static_cast<std::size_t>(t * rows + j)]) << isa << " " << dtype_name(dtype) << " token " << t << " row " << j;
      }
    }
  }
}

// The int8 block types have one arithmetic on both levels (the VNNI kernels on
// avx512, the same VNNI kernel and the tile unit on amx): the same bits, at batches
// below and above 16 tokens, with partial groups of rows and tokens (165 rows: each
// thread's share spans a whole block of row groups stored together and a partial one).
TEST(Matmul, Avx512AndAmxGiveTheSameBits) {
  if (!cpu_supports(KernelIsa::Amx)) GTEST_SKIP() << "no AMX on this CPU";
  ThreadPool pool(2);
  const std::int64_t rows = 165;
  for (DType dtype : kInt8Types) {
    const std::int64_t cols = int8_cols(dtype);
    TestWeights t = make_weights(dtype, rows, cols, 3, 31);
    for (std::int64_t m : {1, 5, 16, 40}) {
      std::vector<float> x = random_activations(m * cols, 32);
      std::vector<float> avx512(static_cast<std::size_t>(m * rows)), amx(avx512.size());
      {
        KernelIsaScope scope("avx512");
        matmul(t.w, x.data(), m, avx512.data(), pool);
      }
      {
        KernelIsaScope scope("amx");
        matmul(t.w, x.data(), m, amx.data(), pool);
      }
      EXPECT_EQ(avx512, amx) << dtype_name(dtype) << " m=" << m;
    }
  }
}

TEST(Matmul, ScalarAndAvx2AgreeWithinRounding) {
  if (test::runnable_isas().size() < 2) GTEST_SKIP() << "no AVX2 on this CPU";
  ThreadPool pool(2);
  for (DType dtype : kDTypes) {
    TestWeights t = make_weights(dtype, 40, 256, 1, 9);
    std::vector<float> x = random_activations(4 * 256, 10);
    std::vector<float> scalar(4 * 40), avx2(4 * 40);
    {
      KernelIsaScope scope("scalar");
      matmul(t.w, x.data(), 4, scalar.data(), pool);
    }
    {
      KernelIsaScope scope("avx2");
      matmul(t.w, x.data(), 4, avx2.data(), pool);
    }
    for (std::size_t i = 0; i < scalar.size(); ++i)
      EXPECT_NEAR(scalar[i], avx2[i], 1e-5f * std::max(1.0f, std::fabs(scalar[i]))) << dtype_name(dtype) << " " << i;
  }
}

// scalar and avx2: decode streams, prefill runs the tiled GEMM (sgemm), f32
// activations. avx512 and amx: one arithmetic per row at every batch size: BF16 and
// F16 stream at every batch on avx512 (f32 activations), BF16 is on the tile unit
// at every batch under amx (bf16 activations); the int8 block types stream below 16
// tokens and run the VNNI GEMM or the tiles from 16, with x quantized per 32
// values (the types of 32-value blocks) or 256 (the K-quants) on both levels.
TEST(Matmul, StrategyFollowsTheBatchSizeAndTheKernels) {
  std::vector<DType> dtypes = {DType::F16, DType::BF16};
  dtypes.insert(dtypes.end(), std::begin(kInt8Types), std::end(kInt8Types));
  for (const std::string& isa : test::runnable_isas()) {
    KernelIsaScope scope(isa);
    const bool avx512 = isa == "avx512" || isa == "amx";
    for (DType dtype : dtypes) {
      const std::string what = isa + " " + std::string(dtype_name(dtype));
      TestWeights t = make_weights(dtype, 4, 256, 0, 1);
      const bool int8 = is_block_quantized(dtype);
      ActivationRounding rounding = ActivationRounding::None;
      if (avx512 && int8) {
        rounding = dtype_block_elements(dtype) == 32 ? ActivationRounding::Int8Blocks : ActivationRounding::Int8Superblocks;
        for (std::int64_t m : {1, 4, 15}) EXPECT_EQ(matmul_strategy(t.w, m), MatmulStrategy::Streaming) << what;
        for (std::int64_t m : {16, 512}) EXPECT_EQ(matmul_strategy(t.w, m), MatmulStrategy::TiledGemm) << what;
      } else if (isa == "amx" && dtype == DType::BF16) {
        rounding = ActivationRounding::Bf16;
        for (std::int64_t m : {1, 4, 16, 512}) EXPECT_EQ(matmul_strategy(t.w, m), MatmulStrategy::TiledGemm) << what;
      } else if (avx512) {
        for (std::int64_t m : {1, 4, 16, 512}) EXPECT_EQ(matmul_strategy(t.w, m), MatmulStrategy::Streaming) << what;
      } else {
        EXPECT_EQ(matmul_strategy(t.w, 1), MatmulStrategy::Streaming) << what;
        EXPECT_EQ(matmul_strategy(t.w, 512), MatmulStrategy::TiledGemm) << what;
      }
      EXPECT_EQ(matmul_activation_rounding(dtype), rounding) << what;
    }
  }
}

TEST(Matmul, ZeroRowsDoNothing) {
  ThreadPool pool(2);
  TestWeights t = make_weights(DType::F16, 4, 32, 0, 1);
  EXPECT_NO_THROW(matmul(t.w, nullptr, 0, nullptr, pool));  // null x / y are fine: nothing is read
}

void expect_error(const std::function<void()>& body, const std::vector<std::string>& fragments) {
  try {
    body();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string message = e.what();
    for (const std::string& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << message;
  }
}

TEST(Matmul, BadArgumentsAreErrorsNamingTheField) {
  ThreadPool pool(1);
  TestWeights t = make_weights(DType::BF16, 4, 32, 0, 1);
  std::vector<float> x(64), y(8);
  expect_error([&] { matmul(t.w, x.data(), -1, y.data(), pool); }, {"m (activation rows)", "-1"});
  expect_error([&] { matmul(t.w, nullptr, 2, y.data(), pool); }, {"x is null"});
  expect_error([&] { matmul(t.w, x.data(), 2, nullptr, pool); }, {"y is null"});
  WeightMatrix hand_made = t.w;
  hand_made.row_bytes = 32;  // half of what 32 BF16 cols take
  expect_error([&] { matmul(hand_made, x.data(), 1, y.data(), pool); }, {"row_bytes is 32", "64"});
  WeightMatrix empty;
  expect_error([&] { matmul(empty, x.data(), 1, y.data(), pool); }, {"WeightMatrix::make"});
}

TEST(WeightMatrix, MakeChecksTheShape) {
  std::vector<std::byte> data(4096);
  WeightMatrix w = WeightMatrix::make(DType::Q8_0, 2, 64, data.data());
  EXPECT_EQ(w.row_bytes, 68u);  // two 34-byte blocks
  EXPECT_EQ(w.bytes(), 136u);
  EXPECT_EQ(w.row(1), data.data() + 68);
  EXPECT_EQ(WeightMatrix::make(DType::BF16, 3, 7, data.data()).row_bytes, 14u);
  EXPECT_EQ(WeightMatrix::make(DType::F32, 3, 7, data.data()).row_bytes, 28u);
  expect_error([&] { WeightMatrix::make(DType::Q8_0, 2, 33, data.data()); }, {"Q8_0", "cols", "multiple of 32", "33"});
  expect_error([&] { WeightMatrix::make(DType::F16, 0, 8, data.data()); }, {"rows", ">= 1", "0"});
  expect_error([&] { WeightMatrix::make(DType::F16, 2, -8, data.data()); }, {"cols", ">= 1", "-8"});
  expect_error([&] { WeightMatrix::make(DType::F32, 2, 8, nullptr); }, {"data is null"});
}

}  // namespace
}  // namespace helix
