#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "helix/engine/kv_cache.h"
#include "helix/weights/dtype.h"
#include "support/error_expectations.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;

KvCacheOptions tokens(std::int64_t n, int block = 4) {
  KvCacheOptions o;
  o.capacity_tokens = n;
  o.block_tokens = block;
  return o;
}

TEST(PagedKvCache, CapacityInTokensOrBytes) {
  PagedKvCache a(2, 2, 8, tokens(64));
  EXPECT_EQ(a.total_blocks(), 16);
  EXPECT_EQ(a.bytes_per_token(), 2u * 2u * 16u * 4u);
  KvCacheOptions b;
  b.capacity_bytes = 128 * a.bytes_per_token() + 5;
  b.block_tokens = 16;
  EXPECT_EQ(PagedKvCache(2, 2, 8, b).capacity_tokens(), 128);
  EXPECT_THROW(PagedKvCache(2, 2, 8, KvCacheOptions{}), Error);
  EXPECT_THROW(PagedKvCache(2, 2, 8, tokens(3)), Error);  // less than a block
}

// A share of memory becomes bytes once the device's memory is known; a cache is
// never sized from a share left unresolved.
TEST(KvMemoryShare, BecomesTheBytesTheShareLeaves) {
  KvCacheOptions share;
  share.memory_share = 0.5;
  const KvCacheOptions bytes = resolve_memory_share(share, DeviceMemory{1000000, 800000}, 200000, 100000, "cuda:0");
  EXPECT_EQ(bytes.memory_share, 0);
  EXPECT_EQ(bytes.capacity_bytes, 200000U);  // 500000 allowed, 200000 held, 100000 still to load
  EXPECT_EQ(PagedKvCache(2, 2, 8, bytes).capacity_tokens(), 200000 / 256 / 16 * 16);
  const KvCacheOptions kept = resolve_memory_share(tokens(64), DeviceMemory{}, 0, 0, "cuda:0");
  EXPECT_EQ(kept.capacity_tokens, 64);
  EXPECT_EQ(kept.capacity_bytes, 0U);
  expect_contains(error_message([&] { resolve_memory_share(share, DeviceMemory{1000000, 400000}, 600000, 0, "cuda:3"); }),
                  {"KV cache on cuda:3: ", "nothing is left for a KV cache"});
  expect_contains(error_message([&] { PagedKvCache(2, 2, 8, share); }), {"a share of memory must be turned into bytes"});
}

// Memory beyond what a cache can index (a tiny model on a big GPU) is not used; a
// count of tokens beyond it is refused.
TEST(KvMemoryShare, BytesBeyondTheMostTokensACacheHoldsAreLeftUnused) {
  KvCacheOptions huge;
  huge.capacity_bytes = std::size_t{1} << 50;
  EXPECT_EQ(kv_cache_blocks(huge, 64), static_cast<std::int64_t>(kMostKvTokens / 16));
  EXPECT_EQ(kv_cache_blocks(huge, std::size_t{1} << 30), 1 << 16);  // within the cap: bytes / bytes per token
  expect_contains(error_message([] { kv_cache_blocks(tokens(3'000'000'000LL, 16), 64); }),
                  {"3000000000 tokens is more than a cache holds"});
}

TEST(PagedKvCache, BlocksGrowWithTheSequenceAndReturnOnRelease) {
  PagedKvCache kv(1, 1, 4, tokens(16));
  std::pair<SequenceId, int> g{7, 5};
  kv.reserve(std::span(&g, 1));
  EXPECT_EQ(kv.blocks(7).size(), 2u);
  EXPECT_EQ(kv.free_blocks(), 2);
  kv.set_length(7, 5);
  EXPECT_EQ(kv.length(7), 5);
  EXPECT_EQ(kv.blocks_needed(7, 8), 0);
  EXPECT_EQ(kv.blocks_needed(7, 9), 1);
  kv.release(7);
  EXPECT_FALSE(kv.contains(7));
  EXPECT_EQ(kv.free_blocks(), 4);
}

TEST(PagedKvCache, RefusesAStepThatDoesNotFitAndChangesNothing) {
  PagedKvCache kv(1, 1, 4, tokens(16));
  std::vector<std::pair<SequenceId, int>> first = {{1, 8}};
  kv.reserve(first);
  kv.set_length(1, 8);
  std::vector<float> k(4, 42.0f), v(4, -1.0f), back_k(4), back_v(4);
  kv.write(0, 1, 7, k.data(), v.data());
  std::vector<std::pair<SequenceId, int>> too_much = {{1, 12}, {2, 8}};  // 1 + 2 blocks > 2 free
  try {
    kv.reserve(too_much);
    FAIL() << "expected KvCacheFull";
  } catch (const KvCacheFull& e) {
    EXPECT_NE(std::string(e.what()).find("needs 3 more blocks"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(kv.contains(2));
  EXPECT_EQ(kv.blocks(1).size(), 2u);
  EXPECT_EQ(kv.free_blocks(), 2);
  kv.read(0, 1, 7, back_k.data(), back_v.data());
  EXPECT_EQ(back_k, k);
  EXPECT_EQ(back_v, v);
}

class PagedKvCacheOfEachDtype : public ::testing::TestWithParam<KvDtype> {};

TEST_P(PagedKvCacheOfEachDtype, SequencesNeverShareBlocks) {
  KvCacheOptions o = tokens(32, 2);
  o.dtype = GetParam();
  PagedKvCache kv(2, 1, 2, o);
  std::vector<std::pair<SequenceId, int>> g = {{1, 5}, {2, 7}, {3, 1}};
  kv.reserve(g);
  std::set<std::int32_t> seen;
  for (SequenceId s : {1, 2, 3}) {
    for (auto b : kv.blocks(s)) EXPECT_TRUE(seen.insert(b).second) << "block " << b << " given twice";
  }
  // Writing every position of every sequence in every layer never overwrites another
  // (the marks are integers below 2048, which f16 holds exactly).
  auto mark = [](int layer, SequenceId s, int p) { return static_cast<float>(layer * 1000 + s * 100 + p); };
  auto length = [](SequenceId s) { return s == 1 ? 5 : s == 2 ? 7 : 1; };
  for (int layer = 0; layer < 2; ++layer) {
    for (SequenceId s : {1, 2, 3}) {
      for (int p = 0; p < length(s); ++p) {
        const float k[2] = {mark(layer, s, p), 0.5f}, v[2] = {0.25f, -mark(layer, s, p)};
        kv.write(layer, s, p, k, v);
      }
    }
  }
  for (int layer = 0; layer < 2; ++layer) {
    for (SequenceId s : {1, 2, 3}) {
      for (int p = 0; p < length(s); ++p) {
        float k[2], v[2];
        kv.read(layer, s, p, k, v);
        EXPECT_EQ(k[0], mark(layer, s, p));
        EXPECT_EQ(k[1], 0.5f);
        EXPECT_EQ(v[0], 0.25f);
        EXPECT_EQ(v[1], -mark(layer, s, p));
      }
    }
  }
  EXPECT_THROW(kv.set_length(3, 3), Error);  // beyond its one block
}

// Attention's view: a KV head's values at a position of a block, positions kv_dim
// apart, in the cache's storage. An f16 cache holds each value rounded to the
// nearest f16 (ties to even); asking for the other type is an error.
TEST_P(PagedKvCacheOfEachDtype, RowsAreTheWrittenValuesAsStored) {
  const int kv_heads = 2, head_dim = 8, kv_dim = kv_heads * head_dim;
  KvCacheOptions o = tokens(32, 8);
  o.dtype = GetParam();
  PagedKvCache kv(1, kv_heads, head_dim, o);
  std::vector<std::pair<SequenceId, int>> g = {{9, 8}};
  kv.reserve(g);
  std::vector<std::vector<float>> keys, values;
  for (int p = 0; p < 8; ++p) {
    std::vector<float> k(kv_dim), v(kv_dim);
    for (int d = 0; d < kv_dim; ++d) {
      k[static_cast<std::size_t>(d)] = 1.0f / static_cast<float>(3 + p * kv_dim + d);  // none exact in f16
      v[static_cast<std::size_t>(d)] = -3.3f * static_cast<float>(p + 1) + 0.01f * static_cast<float>(d);
    }
    kv.write(0, 9, p, k.data(), v.data());
    keys.push_back(k);
    values.push_back(v);
  }
  const bool f16 = GetParam() == KvDtype::F16;
  const std::int32_t block = kv.blocks(9)[0];
  // The stored value at (row r of the run from `offset`, head, d), as f32.
  auto stored = [&](bool key, int offset, int r, int head, int d) {
    if (f16) {
      const std::uint16_t* rows = key ? kv.key_rows<std::uint16_t>(0, block, offset, head, head_dim)
                                      : kv.value_rows<std::uint16_t>(0, block, offset, head, head_dim);
      return f16_to_f32(rows[r * kv_dim + d]);
    }
    const float* rows = key ? kv.key_rows<float>(0, block, offset, head, head_dim)
                            : kv.value_rows<float>(0, block, offset, head, head_dim);
    return rows[r * kv_dim + d];
  };
  auto rounded = [&](float x) { return f16 ? f16_to_f32(f32_to_f16(x)) : x; };
  for (int head = 0; head < kv_heads; ++head) {
    for (int r = 0; r < 5; ++r) {
      for (int d = 0; d < head_dim; ++d) {
        const std::size_t at = static_cast<std::size_t>(head * head_dim + d);
        EXPECT_EQ(stored(true, 2, r, head, d), rounded(keys[static_cast<std::size_t>(2 + r)][at]));
        EXPECT_EQ(stored(false, 0, r, head, d), rounded(values[static_cast<std::size_t>(r)][at]));
      }
    }
  }
  if (f16) {
    EXPECT_NE(rounded(keys[0][0]), keys[0][0]);  // the check above saw rounding
    EXPECT_THROW(kv.key_rows<float>(0, block, 0, 0, head_dim), Error);
  } else {
    EXPECT_THROW(kv.value_rows<std::uint16_t>(0, block, 0, 0, head_dim), Error);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PagedKvCacheOfEachDtype, ::testing::Values(KvDtype::F32, KvDtype::F16),
                         [](const auto& param_info) { return std::string(kv_dtype_name(param_info.param)); });

TEST(PagedKvCache, AnF16CacheHoldsTwiceTheTokensInTheSameBytes) {
  KvCacheOptions o;
  o.capacity_bytes = std::size_t{1} << 20;
  const PagedKvCache f32(4, 2, 64, o);
  o.dtype = KvDtype::F16;
  const PagedKvCache f16(4, 2, 64, o);
  EXPECT_EQ(f32.bytes_per_token(), 2u * 4u * 128u * 4u);
  EXPECT_EQ(f16.bytes_per_token(), 2u * 4u * 128u * 2u);
  EXPECT_EQ(f16.capacity_tokens(), 2 * f32.capacity_tokens());
  EXPECT_EQ(f32.capacity_tokens(), 256);
}

TEST(KvDtypeNames, ParseWhatTheyPrintAndNameTheOptionOtherwise) {
  for (KvDtype d : {KvDtype::F32, KvDtype::F16}) EXPECT_EQ(parse_kv_dtype(kv_dtype_name(d), "--kv-dtype"), d);
  try {
    parse_kv_dtype("fp16", "--kv-dtype");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--kv-dtype: 'fp16' is not a KV cache type (f32 or f16)");
  }
}

}  // namespace
}  // namespace helix
