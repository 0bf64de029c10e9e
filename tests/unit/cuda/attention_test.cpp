// Paged attention on the GPU against float64 on the host over the same cache:
// sequences whose blocks lie out of order in the cache, prefill chunks and decode
// tokens in one call, grouped-query heads, with and without a sliding window. The
// GPU test skips, saying why, where no GPU is visible; the shape checks run
// everywhere.
#include "helix/cuda/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "helix/core/error.h"
#include "helix/cuda/device_array.h"
#include "unit/cuda/gpu_test.h"

namespace helix {
namespace {

struct Case {
  cuda::PagedAttentionShape shape;
  std::vector<float> q, keys, values;         // q: tokens x q_dim; cache: blocks x block_tokens x kv_dim
  std::vector<std::int32_t> tables, table_starts, positions;
};

// Four sequences of 37, 5, 20 and 2 cached positions, their blocks dealt out of
// order; tokens: the last 6 of the first (a prefill chunk), then the last of each
// other (the last attends to 2 positions: warps with none to merge).
Case make_case(int head_dim, int window, int block_tokens) {
  Case c;
  c.shape = {8, 2, head_dim, block_tokens, window};
  const int kv_dim = c.shape.kv_heads * head_dim, q_dim = c.shape.heads * head_dim, bt = c.shape.block_tokens;
  const std::vector<int> lengths = {37, 5, 20, 2};
  std::vector<std::vector<std::int32_t>> tables(lengths.size());
  std::int32_t next = 0;
  for (int round = 0; round * bt < 37; ++round)  // block i of every sequence before block i + 1 of any
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
    const int first = s == 0 ? lengths[s] - 6 : lengths[s] - 1;
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
}

}  // namespace
}  // namespace helix
