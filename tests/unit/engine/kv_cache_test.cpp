#include <set>

#include <gtest/gtest.h>

#include "helix/engine/kv_cache.h"

namespace helix {
namespace {

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
  float* k = kv.key(0, 1, 7);
  k[0] = 42.0f;
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
  EXPECT_EQ(kv.key(0, 1, 7)[0], 42.0f);
}

TEST(PagedKvCache, SequencesNeverShareBlocks) {
  PagedKvCache kv(2, 1, 2, tokens(32, 2));
  std::vector<std::pair<SequenceId, int>> g = {{1, 5}, {2, 7}, {3, 1}};
  kv.reserve(g);
  std::set<std::int32_t> seen;
  for (SequenceId s : {1, 2, 3}) {
    for (auto b : kv.blocks(s)) EXPECT_TRUE(seen.insert(b).second) << "block " << b << " given twice";
  }
  // Writing every position of every sequence in every layer never overwrites another.
  for (int layer = 0; layer < 2; ++layer) {
    for (SequenceId s : {1, 2, 3}) {
      for (int p = 0; p < (s == 1 ? 5 : s == 2 ? 7 : 1); ++p) {
        kv.key(layer, s, p)[0] = static_cast<float>(layer * 1000 + s * 100 + p);
        kv.value(layer, s, p)[1] = -static_cast<float>(layer * 1000 + s * 100 + p);
      }
    }
  }
  for (int layer = 0; layer < 2; ++layer) {
    for (SequenceId s : {1, 2, 3}) {
      for (int p = 0; p < (s == 1 ? 5 : s == 2 ? 7 : 1); ++p) {
        EXPECT_EQ(kv.key(layer, s, p)[0], static_cast<float>(layer * 1000 + s * 100 + p));
        EXPECT_EQ(kv.value(layer, s, p)[1], -static_cast<float>(layer * 1000 + s * 100 + p));
      }
    }
  }
  EXPECT_THROW(kv.set_length(3, 3), Error);  // beyond its one block
}

}  // namespace
}  // namespace helix
