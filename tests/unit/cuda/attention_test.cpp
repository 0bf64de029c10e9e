// Paged attention on the GPU against float64 on the host over the same cache:
// sequences whose blocks lie out of order in the cache, prefill chunks and decode
// tokens in one call, grouped-query heads, with and without a sliding window. The
// GPU test skips, saying why, where no GPU is visible; the shape checks run
// everywhere.
#include "helix/cuda/attention.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "helix/core/error.h"
#include "helix/cuda/device_array.h"
#include "helix/engine/rope.h"
#include "helix/kernels/vector_ops.h"
#include "unit/cuda/gpu_test.h"

namespace helix {
namespace {

// n values drawn from N(0, sigma^2) by a generator of `seed`.
std::vector<float> normal_values(std::size_t n, unsigned seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

struct Case {
  cuda::PagedAttentionShape shape;
  std::vector<float> q, keys, values;         // q: tokens x q_dim; cache: blocks x block_tokens x kv_dim
  std::vector<std::int32_t> tables, table_starts, positions;
};

// Four sequences of 37 (or `first_length`), 5, 20 and 2 cached positions, their
// blocks dealt out of order; tokens: the last 6 (or `chunk`) of the first (a
// prefill chunk), then the last of each other (the last attends to 2 positions:
// warps with none to merge).
Case make_case(int head_dim, int window, int block_tokens, int first_length = 37, int chunk = 6) {
  Case c;
  c.shape = {8, 2, head_dim, block_tokens, window};
  const int kv_dim = c.shape.kv_heads * head_dim, q_dim = c.shape.heads * head_dim, bt = c.shape.block_tokens;
  const std::vector<int> lengths = {first_length, 5, 20, 2};
  std::vector<std::vector<std::int32_t>> tables(lengths.size());
  std::int32_t next = 0;
  for (int round = 0; round * bt < first_length; ++round)  // block i of every sequence before block i + 1 of any
    for (std::size_t s = 0; s < lengths.size(); ++s)
      if (round * bt < lengths[s]) tables[s].push_back(next++);
  for (auto& t : tables) std::reverse(t.begin(), t.end());
  std::mt19937 rng(static_cast<unsigned>(head_dim + window + block_tokens));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  c.keys.resize(static_cast<std::size_t>(next) * bt * kv_dim);
  c.values.resize(c.keys.size());
  for (float& v : c.keys) v = normal(rng);
  for (float& v : c.values) v = normal(rng);
  for (std::size_t s = 0; s < lengths.size(); ++s) {
    const auto start = static_cast<std::int32_t>(c.tables.size());
    c.tables.insert(c.tables.end(), tables[s].begin(), tables[s].end());
    const int first = s == 0 ? lengths[s] - chunk : lengths[s] - 1;
    for (int p = first; p < lengths[s]; ++p) {
      c.table_starts.push_back(start);
      c.positions.push_back(p);
    }
  }
  c.q.resize(c.positions.size() * static_cast<std::size_t>(q_dim));
  for (float& v : c.q) v = normal(rng);
  return c;
}

std::vector<double> reference(const Case& c) {
  const auto& s = c.shape;
  const int hd = s.head_dim, q_dim = s.heads * hd, kv_dim = s.kv_heads * hd;
  std::vector<double> out(c.q.size());
  for (std::size_t t = 0; t < c.positions.size(); ++t) {
    const int p = c.positions[t], lo = s.sliding_window > 0 ? std::max(0, p - s.sliding_window + 1) : 0;
    for (int h = 0; h < s.heads; ++h) {
      const int g = h / (s.heads / s.kv_heads);
      std::vector<double> scores;
      for (int j = lo; j <= p; ++j) {
        const std::size_t row = static_cast<std::size_t>(c.tables[c.table_starts[t] + j / s.block_tokens]) * s.block_tokens + j % s.block_tokens;
        double dot = 0.0;
        for (int d = 0; d < hd; ++d) dot += double(c.q[t * q_dim + h * hd + d]) * c.keys[row * kv_dim + g * hd + d];
        scores.push_back(dot / std::sqrt(double(hd)));
      }
      const double top = *std::max_element(scores.begin(), scores.end());
      double total = 0.0;
      for (double& v : scores) total += (v = std::exp(v - top));
      for (int j = lo; j <= p; ++j) {
        const std::size_t row = static_cast<std::size_t>(c.tables[c.table_starts[t] + j / s.block_tokens]) * s.block_tokens + j % s.block_tokens;
        for (int d = 0; d < hd; ++d) out[t * q_dim + h * hd + d] += scores[j - lo] / total * c.values[row * kv_dim + g * hd + d];
      }
    }
  }
  return out;
}

// The case's tokens become the first sequence's `length` positions, one prefill,
// with new queries (N(0, 1), from `seed`).
void whole_first_sequence(Case& c, int length, unsigned seed) {
  c.table_starts.assign(static_cast<std::size_t>(length), c.table_starts[0]);
  c.positions.clear();
  for (int p = 0; p < length; ++p) c.positions.push_back(p);
  c.q = normal_values(static_cast<std::size_t>(length) * static_cast<std::size_t>(c.shape.heads * c.shape.head_dim),
                      seed, 1.0f);
}

class CudaAttention : public test::GpuTest {};

TEST_F(CudaAttention, MatchesFloat64OverAPagedCache) {
  for (int head_dim : {8, 16, 32, 64, 96, 128, 256})
    for (int window : {0, 2, 9}) {
      const int block_tokens = head_dim == 64 ? 12 : 16;  // 12: positions split unevenly
      const Case c = make_case(head_dim, window, block_tokens);
      DeviceArray<float> q{std::span<const float>(c.q)}, keys{std::span<const float>(c.keys)},
          values{std::span<const float>(c.values)}, out(c.q.size());
      DeviceArray<std::int32_t> tables{std::span<const std::int32_t>(c.tables)},
          starts{std::span<const std::int32_t>(c.table_starts)}, positions{std::span<const std::int32_t>(c.positions)};
      cuda::paged_attention(c.shape, q.data(), keys.data(), values.data(), tables.data(), starts.data(),
                            positions.data(), static_cast<std::int64_t>(c.positions.size()), out.data());
      const std::vector<float> got = out.download();
      const std::vector<double> want = reference(c);
      for (std::size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 2e-5)
            << "head_dim " << head_dim << " window " << window << " block " << block_tokens << " at " << i;
    }
}

// The same cases split over the context: 4 splits of 10 positions (the first
// sequence's 37 positions over all four, the short ones leaving splits empty),
// merged by the second kernel; the same float64 answers.
TEST_F(CudaAttention, SplitOverTheContextMatchesFloat64) {
  for (int head_dim : {32, 64, 128})
    for (int window : {0, 9}) {
      const Case c = make_case(head_dim, window, 16);
      const auto tokens = static_cast<std::int64_t>(c.positions.size());
      DeviceArray<float> q{std::span<const float>(c.q)}, keys{std::span<const float>(c.keys)},
          values{std::span<const float>(c.values)}, out(c.q.size());
      DeviceArray<std::int32_t> tables{std::span<const std::int32_t>(c.tables)},
          starts{std::span<const std::int32_t>(c.table_starts)}, positions{std::span<const std::int32_t>(c.positions)};
      DeviceArray<float> workspace(static_cast<std::size_t>(cuda::split_workspace_floats(c.shape, tokens, 4)));
      cuda::paged_attention(c.shape, q.data(), keys.data(), values.data(), tables.data(), starts.data(),
                            positions.data(), tokens, out.data(), {4, 10, workspace.data()});
      const std::vector<float> got = out.download();
      const std::vector<double> want = reference(c);
      for (std::size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 2e-5) << "head_dim " << head_dim << " window " << window << " at " << i;
    }
}

// A step's attention as the engine plans it (plan_step_attention) on the same
// cases: the first sequence's 6 tokens one prefill tile, each other token by token
// through paged_attention's token list (split in two: 2 splits of 20 positions);
// then the first sequence's 37 positions as one prefill (tiles of 16, 12 and 9; key
// tiles of 32 positions, crossing blocks; windows shorter and longer than a key
// tile). Every token against float64.
TEST_F(CudaAttention, PrefillTilesAndListedTokensMatchFloat64) {
  for (int head_dim : {8, 32, 64, 96, 128})
    for (int window : {0, 2, 9, 33}) {
      const int block_tokens = head_dim == 64 ? 12 : 16;
      Case c = make_case(head_dim, window, block_tokens);
      std::vector<int> lengths = {6, 1, 1, 1};
      for (int whole : {0, 1}) {
        if (whole == 1) {
          whole_first_sequence(c, 37, 5);
          lengths = {37};
        }
        const cuda::StepAttention plan = cuda::plan_step_attention(lengths);
        DeviceArray<float> q{std::span<const float>(c.q)}, keys{std::span<const float>(c.keys)},
            values{std::span<const float>(c.values)}, out(c.q.size());
        DeviceArray<std::int32_t> tables{std::span<const std::int32_t>(c.tables)},
            starts{std::span<const std::int32_t>(c.table_starts)}, positions{std::span<const std::int32_t>(c.positions)},
            tiles{std::span<const std::int32_t>(plan.tiles)}, singles{std::span<const std::int32_t>(plan.single_tokens)};
        const auto single_count = static_cast<std::int64_t>(plan.single_tokens.size());
        DeviceArray<float> workspace(static_cast<std::size_t>(cuda::split_workspace_floats(c.shape, 3, 2)));
        cuda::prefill_attention(c.shape, cuda::PrefillKernel::kCudaCores, q.data(), keys.data(), values.data(),
                                tables.data(), starts.data(), positions.data(), tiles.data(),
                                static_cast<std::int64_t>(plan.tiles.size() / 2), out.data());
        if (single_count > 0) {
          cuda::paged_attention(c.shape, q.data(), keys.data(), values.data(), tables.data(), starts.data(),
                                positions.data(), single_count, out.data(), {2, 20, workspace.data()}, singles.data());
        }
        const std::vector<float> got = out.download();
        const std::vector<double> want = reference(c);
        for (std::size_t i = 0; i < want.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 2e-5)
              << "head_dim " << head_dim << " window " << window << (whole ? " whole prefill" : " mixed") << " at " << i;
      }
    }
}

// The case's cache as an f16 cache holds it: keys and values rounded to f16, and
// the floats those halves are (the float64 reference's inputs).
struct F16Cache {
  std::vector<std::uint16_t> keys, values;
};
F16Cache round_cache(Case& c) {
  F16Cache h{std::vector<std::uint16_t>(c.keys.size()), std::vector<std::uint16_t>(c.values.size())};
  round_to_f16(c.keys.data(), static_cast<std::int64_t>(c.keys.size()), h.keys.data());
  round_to_f16(c.values.data(), static_cast<std::int64_t>(c.values.size()), h.values.data());
  widen_f16(reinterpret_cast<const std::byte*>(h.keys.data()), static_cast<std::int64_t>(h.keys.size()), c.keys.data());
  widen_f16(reinterpret_cast<const std::byte*>(h.values.data()), static_cast<std::int64_t>(h.values.size()),
            c.values.data());
  c.shape.kv_f16 = true;
  return h;
}

// An f16 cache's prefill on the tensor cores (the engine's choice from compute
// capability 8.0 on), on a first sequence of 100 positions: its last 70 as a chunk
// (tiles of 48 and 22 tokens from positions 30 and 78, key steps of 32 not aligned
// with them; warps with 16, 6 and no queries) beside three decode tokens, then all
// 100 as one prefill (tiles of 64 and 36). Against float64 over the same halves: within 5e-5 (the values
// are N(0, 1)), as the CUDA cores' kernel is within 2e-5 on the same cache. Had q
// or the softmax weights been rounded to f16 rather than split in two, the error
// would be 1e-3 (the emulator's: 9.5e-4 rounded; split, 2e-6 where its adds round
// to nearest and 1.9e-5 where, as now, each truncates: more often than a GPU's).
TEST_F(CudaAttention, TensorCorePrefillOnAnF16CacheMatchesFloat64AsTheCudaCoresDo) {
  if (compute_major() < 8) GTEST_SKIP() << "mma.m16n8k16 needs compute capability 8.0, cuda:0 has " << compute_major();
  for (int head_dim : {16, 32, 64, 80, 96, 128})
    for (int window : {0, 9, 33}) {
      Case c = make_case(head_dim, window, 16, 100, 70);
      const F16Cache cache = round_cache(c);
      std::vector<int> lengths = {70, 1, 1, 1};
      for (int whole : {0, 1}) {
        if (whole == 1) {
          whole_first_sequence(c, 100, 7);
          lengths = {100};
        }
        const std::vector<double> want = reference(c);
        for (cuda::PrefillKernel kernel : {cuda::PrefillKernel::kTensorCores, cuda::PrefillKernel::kCudaCores}) {
          const bool tensor_cores = kernel == cuda::PrefillKernel::kTensorCores;
          const cuda::StepAttention plan = cuda::plan_step_attention(lengths, kernel);
          DeviceArray<float> q{std::span<const float>(c.q)}, out(c.q.size());
          DeviceArray<std::uint16_t> keys{std::span<const std::uint16_t>(cache.keys)},
              values{std::span<const std::uint16_t>(cache.values)};
          DeviceArray<std::int32_t> tables{std::span<const std::int32_t>(c.tables)},
              starts{std::span<const std::int32_t>(c.table_starts)},
              positions{std::span<const std::int32_t>(c.positions)}, tiles{std::span<const std::int32_t>(plan.tiles)},
              singles{std::span<const std::int32_t>(plan.single_tokens)};
          cuda::prefill_attention(c.shape, kernel, q.data(), keys.data(), values.data(), tables.data(), starts.data(),
                                  positions.data(), tiles.data(), static_cast<std::int64_t>(plan.tiles.size() / 2),
                                  out.data());
          if (!plan.single_tokens.empty()) {
            cuda::paged_attention(c.shape, q.data(), keys.data(), values.data(), tables.data(), starts.data(),
                                  positions.data(), static_cast<std::int64_t>(plan.single_tokens.size()), out.data(),
                                  {}, singles.data());
          }
          const std::vector<float> got = out.download();
          const double bound = tensor_cores ? 5e-5 : 2e-5;
          for (std::size_t i = 0; i < want.size(); ++i)
            ASSERT_NEAR(got[i], want[i], bound) << "head_dim " << head_dim << " window " << window
                                                << (whole ? " whole prefill" : " mixed")
                                                << (tensor_cores ? " tensor cores" : " CUDA cores") << " at " << i;
        }
      }
    }
}

// q outside f16's range: 2^17 times larger (the keys 2^17 times smaller, so the
// scores stay as they were; in the f16 cache they are subnormal, coarse but exact),
// which split as they are would be infinite in f16; and 2^-17 times smaller, which
// would be subnormal (scores near 0: nearly even weights, so this one shows only
// that nothing breaks). The tensor cores' kernel scales each query row by a power
// of two before splitting it, and agrees with float64 as the CUDA cores' does.
TEST_F(CudaAttention, TensorCorePrefillTakesQueriesBeyondF16sRange) {
  if (compute_major() < 8) GTEST_SKIP() << "mma.m16n8k16 needs compute capability 8.0, cuda:0 has " << compute_major();
  for (int head_dim : {64, 128})
    for (float q_scale : {131072.0f, 1.0f / 131072.0f}) {
      Case c = make_case(head_dim, 0, 16, 100, 100);
      // Each token's q by its own power of two around the scale (2^-2 .. 2^2), so that
      // the rows of a warp take different scales.
      const std::size_t q_dim = static_cast<std::size_t>(c.shape.heads * head_dim);
      for (std::size_t i = 0; i < c.q.size(); ++i) {
        c.q[i] *= q_scale * std::ldexp(1.0f, static_cast<int>(i / q_dim % 5) - 2);
      }
      if (q_scale > 1.0f) {
        for (float& v : c.keys) v /= q_scale;
      }
      const F16Cache cache = round_cache(c);
      const std::vector<double> want = reference(c);
      for (cuda::PrefillKernel kernel : {cuda::PrefillKernel::kTensorCores, cuda::PrefillKernel::kCudaCores}) {
        const bool tensor_cores = kernel == cuda::PrefillKernel::kTensorCores;
        const cuda::StepAttention plan = cuda::plan_step_attention({100, 1, 1, 1}, kernel);
        DeviceArray<float> q{std::span<const float>(c.q)}, out(c.q.size());
        DeviceArray<std::uint16_t> keys{std::span<const std::uint16_t>(cache.keys)},
            values{std::span<const std::uint16_t>(cache.values)};
        DeviceArray<std::int32_t> tables{std::span<const std::int32_t>(c.tables)},
            starts{std::span<const std::int32_t>(c.table_starts)},
            positions{std::span<const std::int32_t>(c.positions)}, tiles{std::span<const std::int32_t>(plan.tiles)};
        cuda::prefill_attention(c.shape, kernel, q.data(), keys.data(), values.data(), tables.data(), starts.data(),
                                positions.data(), tiles.data(), static_cast<std::int64_t>(plan.tiles.size() / 2),
                                out.data());
        const std::vector<float> got = out.download();
        const double bound = tensor_cores ? 5e-5 : 2e-5;
        for (std::size_t i = 0; i < 100 * static_cast<std::size_t>(c.shape.heads * head_dim); ++i)
          ASSERT_NEAR(got[i], want[i], bound) << "head_dim " << head_dim << " q x " << q_scale
                                              << (tensor_cores ? " tensor cores" : " CUDA cores") << " at " << i;
      }
    }
}

// A case whose first sequence's chunk is one tensor-core tile, through the tensor
// cores' kernel: out's rows for that chunk (the other tokens' rows unwritten).
std::vector<float> tensor_core_first_chunk(const Case& c, const F16Cache& cache) {
  DeviceArray<float> q{std::span<const float>(c.q)}, out(c.q.size());
  DeviceArray<std::uint16_t> keys{std::span<const std::uint16_t>(cache.keys)},
      values{std::span<const std::uint16_t>(cache.values)};
  const std::int32_t chunk = static_cast<std::int32_t>(c.positions.size()) - 3;  // the other three: one token each
  const std::vector<std::int32_t> tile = {0, chunk};
  DeviceArray<std::int32_t> tables{std::span<const std::int32_t>(c.tables)},
      starts{std::span<const std::int32_t>(c.table_starts)}, positions{std::span<const std::int32_t>(c.positions)},
      tiles{std::span<const std::int32_t>(tile)};
  cuda::prefill_attention(c.shape, cuda::PrefillKernel::kTensorCores, q.data(), keys.data(), values.data(),
                          tables.data(), starts.data(), positions.data(), tiles.data(), 1, out.data());
  return out.download();
}

// Softmax weights far below the row's largest, in numbers: one key scores 0 (its
// values 0), 2047 others score -18 (values 1), so the output is 2047 e^-18 over
// 1 + 2047 e^-18, about 3.1e-5, all of it from weights of 1.5e-8, below f16's
// smallest subnormal's half. The tensor cores' kernel scales the weights by 2^15
// before splitting them, so they keep their bits; unscaled, they would round to 0
// and the output with them. Within 1e-4 of float64, relatively (unscaled: 0; scaled
// by 2^10 only: 1.3e-3 off).
TEST_F(CudaAttention, TensorCorePrefillKeepsWeightsFarBelowTheLargest) {
  if (compute_major() < 8) GTEST_SKIP() << "mma.m16n8k16 needs compute capability 8.0, cuda:0 has " << compute_major();
  const int head_dim = 16, positions = 2048;
  Case c = make_case(head_dim, 0, 16, positions, 2);
  const int kv_dim = c.shape.kv_heads * head_dim, q_dim = c.shape.heads * head_dim;
  for (std::size_t t = 0; t < c.positions.size(); ++t)
    for (int d = 0; d < q_dim; ++d) c.q[t * q_dim + d] = d % head_dim == 0 ? 4.0f : 0.0f;  // scores: k[0] / 4 * 4
  const std::int32_t* table = c.tables.data() + c.table_starts[0];
  for (int j = 0; j < positions; ++j) {
    const std::size_t row = static_cast<std::size_t>(table[j / 16]) * 16 + j % 16;
    for (int d = 0; d < kv_dim; ++d) {
      c.keys[row * kv_dim + d] = j > 0 && d % head_dim == 0 ? -18.0f : 0.0f;
      c.values[row * kv_dim + d] = j > 0 ? 1.0f : 0.0f;
    }
  }
  const F16Cache cache = round_cache(c);
  const std::vector<double> want = reference(c);
  const std::vector<float> got = tensor_core_first_chunk(c, cache);
  for (std::size_t i = 0; i < 2 * static_cast<std::size_t>(q_dim); ++i) {
    ASSERT_GT(want[i], 3e-5);
    ASSERT_NEAR(got[i], want[i], 1e-4 * want[i]) << "at " << i;
  }
}

// A long context's running sums do not drift: 4096 positions of positive values
// (0.5 to 1.5) under weights of 0.5 to 1, whose output is near 1. The tensor
// cores truncate as they add (the emulator too: cuda_emulator/mma.h), always
// toward 0 here; the kernel sums each 32 keys apart and adds them to the running
// sums in f32, which rounds. Within 2e-5 of float64, relatively; with every
// product added to the running sums on the tensor cores, the emulator is 2e-4 off.
TEST_F(CudaAttention, TensorCorePrefillSumsALongContextWithoutDrift) {
  if (compute_major() < 8) GTEST_SKIP() << "mma.m16n8k16 needs compute capability 8.0, cuda:0 has " << compute_major();
  const int head_dim = 16, positions = 4096;
  Case c = make_case(head_dim, 0, 16, positions, 2);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> value(0.5f, 1.5f);
  for (float& v : c.keys) v *= 0.3f;
  for (float& v : c.values) v = value(rng);
  const F16Cache cache = round_cache(c);
  const std::vector<double> want = reference(c);
  const std::vector<float> got = tensor_core_first_chunk(c, cache);
  for (std::size_t i = 0; i < 2 * static_cast<std::size_t>(c.shape.heads * head_dim); ++i) {
    ASSERT_NEAR(got[i], want[i], 2e-5 * want[i]) << "at " << i;
  }
}

TEST(CudaAttentionArguments, AStepsChunksGoByTilesAndOneTokenChunksByToken) {
  const cuda::StepAttention plan = cuda::plan_step_attention({6, 1, 40, 1});
  EXPECT_EQ(plan.tiles, (std::vector<std::int32_t>{0, 6, 7, 16, 23, 12, 35, 12}));  // 40: 10 warps' work over 3 tiles
  EXPECT_EQ(plan.single_tokens, (std::vector<std::int32_t>{6, 47}));
  EXPECT_EQ(cuda::plan_step_attention({16}).tiles, (std::vector<std::int32_t>{0, 16}));
  EXPECT_THROW(cuda::plan_step_attention({3, 0}), Error);
  // The tensor cores' tiles: 64 tokens, 16 per warp.
  const auto wide = [](std::vector<int> lengths) {
    return cuda::plan_step_attention(lengths, cuda::PrefillKernel::kTensorCores).tiles;
  };
  EXPECT_EQ(wide({6, 1, 140}), (std::vector<std::int32_t>{0, 6, 7, 48, 55, 48, 103, 44}));
  EXPECT_EQ(wide({65}), (std::vector<std::int32_t>{0, 48, 48, 17}));  // not 64 + 1
  EXPECT_EQ(wide({80}), (std::vector<std::int32_t>{0, 48, 48, 32}));  // 5 warps' work, where 40 + 40 is 6
  EXPECT_EQ(wide({64}), (std::vector<std::int32_t>{0, 64}));
  for (int length = 2; length <= 300; ++length) {  // whole, in order, no tile over 64 or of one token
    const std::vector<std::int32_t> tiles = wide({length});
    int next = 0;
    for (std::size_t i = 0; i < tiles.size(); i += 2) {
      EXPECT_EQ(tiles[i], next) << length;
      EXPECT_GT(tiles[i + 1], 1) << length;
      EXPECT_LE(tiles[i + 1], 64) << length;
      next += tiles[i + 1];
    }
    EXPECT_EQ(next, length);
    EXPECT_EQ(tiles.size() / 2, static_cast<std::size_t>((length + 63) / 64)) << length;
  }
}

// The tensor cores take the prefill where the cache is f16, the device has them
// for f16 products (compute capability 8.0 on) and a kernel exists for the head size.
TEST(CudaAttentionArguments, ThePrefillGoesToTheTensorCoresForAnF16CacheFromComputeCapability8) {
  const auto kernel = [](bool f16, int head_dim, int major) {
    return cuda::prefill_kernel_for({8, 2, head_dim, 16, 0, f16}, major);
  };
  EXPECT_EQ(kernel(true, 128, 9), cuda::PrefillKernel::kTensorCores);
  EXPECT_EQ(kernel(true, 64, 8), cuda::PrefillKernel::kTensorCores);
  EXPECT_EQ(kernel(false, 128, 9), cuda::PrefillKernel::kCudaCores);  // f32 cache: f32 products
  EXPECT_EQ(kernel(true, 128, 7), cuda::PrefillKernel::kCudaCores);   // T4: no mma.m16n8k16
  EXPECT_EQ(kernel(true, 8, 9), cuda::PrefillKernel::kCudaCores);     // no kernel for the size
  EXPECT_EQ(kernel(true, 112, 9), cuda::PrefillKernel::kCudaCores);
  EXPECT_EQ(cuda::prefill_tile_tokens(cuda::PrefillKernel::kTensorCores), 64);
  EXPECT_EQ(cuda::prefill_tile_tokens(cuda::PrefillKernel::kCudaCores), 16);
}

// RoPE and the cache write in one launch, against the CPU's Rope on the same angles
// (within float rounding: the same per-pair arithmetic, nvcc's contraction aside):
// q rotated in place; the cache rows of the slots hold the rotated k and v exactly;
// every other row untouched; k itself unchanged. Grouped-query heads, both pair
// layouts.
TEST_F(CudaAttention, RotateAndCacheMatchTheCpusRope) {
  const int tokens = 5, heads = 8, kv_heads = 2, head_dim = 64, kv_dim = kv_heads * head_dim, pairs = head_dim / 2;
  const std::vector<float> q = normal_values(tokens * heads * head_dim, 9, 1.0f),
                           k = normal_values(tokens * kv_dim, 10, 1.0f), v = normal_values(tokens * kv_dim, 11, 1.0f),
                           cache = normal_values(20 * kv_dim, 12, 1.0f);
  const std::vector<std::int32_t> slots = {7, 0, 19, 3, 12};
  for (RopePairing pairing : {RopePairing::kHalfSplit, RopePairing::kInterleaved}) {
    const char* layout = pairing == RopePairing::kHalfSplit ? "half split" : "interleaved";
    LlamaConfig config;
    config.head_dim = head_dim;
    config.rope_pairing = pairing;
    const Rope rope(config);
    std::vector<float> cos(static_cast<std::size_t>(tokens * pairs)), sin(cos.size());
    for (int t = 0; t < tokens; ++t) rope.angles(100 + 37 * t, cos.data() + t * pairs, sin.data() + t * pairs);
    std::vector<float> cpu_q = q, cpu_k = k;
    for (int t = 0; t < tokens; ++t) {
      rope.rotate(cpu_q.data() + t * heads * head_dim, heads, cos.data() + t * pairs, sin.data() + t * pairs);
      rope.rotate(cpu_k.data() + t * kv_dim, kv_heads, cos.data() + t * pairs, sin.data() + t * pairs);
    }
    DeviceArray<float> dq{std::span<const float>(q)}, dk{std::span<const float>(k)}, dv{std::span<const float>(v)},
        dcos{std::span<const float>(cos)}, dsin{std::span<const float>(sin)}, keys{std::span<const float>(cache)},
        values{std::span<const float>(cache)};
    DeviceArray<std::int32_t> dslots{std::span<const std::int32_t>(slots)};
    cuda::rotate_and_cache(dq.data(), dk.data(), dv.data(), tokens, heads, kv_heads, head_dim,
                           pairing == RopePairing::kHalfSplit, dcos.data(), dsin.data(), dslots.data(), keys.data(),
                           values.data(), false);
    const std::vector<float> got_q = dq.download(), got_keys = keys.download(), got_values = values.download();
    for (std::size_t i = 0; i < q.size(); ++i)
      ASSERT_NEAR(got_q[i], cpu_q[i], 1e-6f * std::abs(cpu_q[i]) + 1e-6f) << layout << " q at " << i;
    for (int row = 0; row < 20; ++row) {
      const auto found = std::find(slots.begin(), slots.end(), row);
      for (int d = 0; d < kv_dim; ++d) {
        const std::size_t at = static_cast<std::size_t>(row * kv_dim + d);
        if (found == slots.end()) {
          ASSERT_EQ(got_keys[at], cache[at]) << layout << " untouched key row " << row;
          ASSERT_EQ(got_values[at], cache[at]) << layout << " untouched value row " << row;
          continue;
        }
        const std::size_t from = static_cast<std::size_t>((found - slots.begin()) * kv_dim + d);
        ASSERT_NEAR(got_keys[at], cpu_k[from], 1e-6f * std::abs(cpu_k[from]) + 1e-6f) << layout << " key row " << row;
        ASSERT_EQ(got_values[at], v[from]) << layout << " value row " << row;
      }
    }
    EXPECT_EQ(dk.download(), k) << layout;
  }
}

// With an f16 cache: each value row holds v rounded to f16 (__float2half_rn), bit
// for bit what the CPU's f16 cache stores (round_to_f16); each key the rotated k
// rounded, within one f16 step of the CPU's (the f32 rotation may differ by float
// rounding, which can cross a rounding boundary); other rows untouched.
TEST_F(CudaAttention, RotateAndCacheRoundIntoAnF16CacheAsTheCpuDoes) {
  const int tokens = 3, heads = 4, kv_heads = 2, head_dim = 32, kv_dim = kv_heads * head_dim, pairs = head_dim / 2;
  const std::vector<float> q = normal_values(tokens * heads * head_dim, 13, 3.0f),
                           k = normal_values(tokens * kv_dim, 14, 3.0f), v = normal_values(tokens * kv_dim, 15, 3.0f);
  const std::vector<std::uint16_t> cache(8 * kv_dim, 0x7E00);  // NaN: any row written shows
  const std::vector<std::int32_t> slots = {5, 1, 6};
  LlamaConfig config;
  config.head_dim = head_dim;
  const Rope rope(config);
  std::vector<float> cos(static_cast<std::size_t>(tokens * pairs)), sin(cos.size());
  for (int t = 0; t < tokens; ++t) rope.angles(3 + 50 * t, cos.data() + t * pairs, sin.data() + t * pairs);
  std::vector<float> cpu_k = k;
  for (int t = 0; t < tokens; ++t) rope.rotate(cpu_k.data() + t * kv_dim, kv_heads, cos.data() + t * pairs, sin.data() + t * pairs);
  std::vector<std::uint16_t> cpu_keys(cpu_k.size()), cpu_values(v.size());
  round_to_f16(cpu_k.data(), static_cast<std::int64_t>(cpu_k.size()), cpu_keys.data());
  round_to_f16(v.data(), static_cast<std::int64_t>(v.size()), cpu_values.data());
  DeviceArray<float> dq{std::span<const float>(q)}, dk{std::span<const float>(k)}, dv{std::span<const float>(v)},
      dcos{std::span<const float>(cos)}, dsin{std::span<const float>(sin)};
  DeviceArray<std::uint16_t> keys{std::span<const std::uint16_t>(cache)}, values{std::span<const std::uint16_t>(cache)};
  DeviceArray<std::int32_t> dslots{std::span<const std::int32_t>(slots)};
  cuda::rotate_and_cache(dq.data(), dk.data(), dv.data(), tokens, heads, kv_heads, head_dim, true, dcos.data(),
                         dsin.data(), dslots.data(), keys.data(), values.data(), true);
  const std::vector<std::uint16_t> got_keys = keys.download(), got_values = values.download();
  for (int row = 0; row < 8; ++row) {
    const auto found = std::find(slots.begin(), slots.end(), row);
    for (int d = 0; d < kv_dim; ++d) {
      const std::size_t at = static_cast<std::size_t>(row * kv_dim + d);
      if (found == slots.end()) {
        ASSERT_EQ(got_keys[at], 0x7E00) << "untouched key row " << row;
        ASSERT_EQ(got_values[at], 0x7E00) << "untouched value row " << row;
        continue;
      }
      const std::size_t from = static_cast<std::size_t>((found - slots.begin()) * kv_dim + d);
      ASSERT_EQ(got_values[at], cpu_values[from]) << "value row " << row;
      ASSERT_LE(std::abs(int{got_keys[at]} - int{cpu_keys[from]}), 1) << "key row " << row;  // same sign: one step
    }
  }
}

// Which steps split, and how: a few tokens over a long range, with one split and
// chunk per model, covering its whole context.
TEST(CudaAttentionArguments, OnlyFewTokensOverLongContextsSplit) {
  EXPECT_EQ(cuda::plan_split(1, 1024, 4096).splits, 1);   // short range
  EXPECT_EQ(cuda::plan_split(65, 4000, 4096).splits, 1);  // enough tokens to fill the GPU
  EXPECT_EQ(cuda::plan_split(1, 2048, 2048).splits, 4);
  for (int context : {1025, 2048, 4096, 32768, 131072}) {
    const cuda::AttentionSplit a = cuda::plan_split(1, 1025, context), b = cuda::plan_split(64, context, context);
    EXPECT_EQ(a.splits, b.splits) << context;
    EXPECT_EQ(a.chunk, b.chunk) << context;
    EXPECT_GE(std::int64_t{a.splits} * a.chunk, context) << context;
    EXPECT_LT(std::int64_t{a.splits - 1} * a.chunk, context) << context;
    EXPECT_LE(a.splits, cuda::kMostSplits) << context;
    EXPECT_GE(a.chunk, cuda::kFewestSplitPositions) << context;
  }
  EXPECT_EQ(cuda::plan_split(1, 4096, 4096).chunk, 512);
  EXPECT_EQ(cuda::plan_split(1, 4096, 32768).chunk, 1024);
}

TEST(CudaAttentionArguments, BadShapesAreNamed) {
  auto message = [](cuda::PagedAttentionShape shape) {
    try {
      cuda::paged_attention(shape, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, nullptr);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message({8, 3, 64, 16, 0}), "cuda paged_attention: heads (8) must be a positive multiple of kv_heads (3)");
  EXPECT_EQ(message({8, 2, 320, 16, 0}), "cuda paged_attention: head_dim must be 1..256, got 320");
  EXPECT_EQ(message({8, 2, 64, 0, 0}), "cuda paged_attention: block_tokens must be > 0, got 0");
  EXPECT_EQ(message({8, 2, 64, 16, -1}), "cuda paged_attention: sliding_window must be >= 0, got -1");
  EXPECT_EQ(message({8, 2, 64, 16, 0}), "(no error)");  // no tokens: nothing to do
  const cuda::PagedAttentionShape fine{8, 2, 64, 16, 0};
  float dummy = 0.0f;
  std::int32_t index = 0;
  try {
    cuda::paged_attention(fine, &dummy, &dummy, &dummy, &index, &index, &index, 1, &dummy, {4, 0, nullptr});
    FAIL() << "a split without a chunk ran";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cuda paged_attention: a split over 4 parts needs chunk > 0 (got 0) and a workspace");
  }
  alignas(16) float cache[8] = {};
  const auto* unaligned = reinterpret_cast<const std::byte*>(cache) + 4;
  for (const void* keys : {static_cast<const void*>(unaligned), static_cast<const void*>(cache)}) {
    try {
      float* out = keys == cache ? cache + 1 : cache;  // with aligned keys, out 4 bytes off
      cuda::prefill_attention({8, 2, 64, 16, 0, true}, cuda::PrefillKernel::kTensorCores, &dummy, keys, cache, &index,
                              &index, &index, &index, 1, out);
      FAIL() << "the tensor cores' kernel ran with a misaligned array";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()),
                keys == cache ? "cuda prefill_attention: the tensor cores' kernel writes pairs of floats: out must be "
                                "8-byte aligned"
                              : "cuda prefill_attention: the tensor cores' kernel reads the cache 16 bytes at a time: "
                                "keys and values must be 16-byte aligned");
    }
  }
  for (const cuda::PagedAttentionShape& shape : {fine, cuda::PagedAttentionShape{8, 2, 112, 16, 0, true}}) {
    try {
      cuda::prefill_attention(shape, cuda::PrefillKernel::kTensorCores, &dummy, &dummy, &dummy, &index, &index, &index,
                              &index, 1, &dummy);
      FAIL() << "the tensor cores' kernel ran for head_dim " << shape.head_dim;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()),
                fmt::format("cuda prefill_attention: the tensor cores' kernel takes an f16 cache and head_dim 16, 32, "
                            "64, 80, 96 or 128 (got {} values of {})",
                            shape.kv_f16 ? "f16" : "f32", shape.head_dim));
    }
  }
}

}  // namespace
}  // namespace helix
