// What the amx level's tile kernels share (internal to the kernels module): the
// tile configuration and the store of held results into y. Include only after
// int8_block_arithmetic.h (same conditions); x86-64 only.
#pragma once

#include <algorithm>
#include <cstdint>

#include "helix/kernels/matmul_kernels.h"

// The amx level's functions: the avx512 level's instructions, AVX512_BF16 and the
// tile unit.
#define HELIX_AMX                                                                                       \
  __attribute__((target("amx-tile,amx-bf16,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,"   \
                        "avx512bf16,avx2,fma,f16c")))

namespace helix::kernels_detail {

// The palette-1 tile configuration.
struct alignas(64) TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "the tile configuration is one 64-byte record");

// tmm0-3: C (16 weight rows x `tokens` f32/int32); tmm4-5: A (16 rows x a_bytes);
// tmm6-7: B (b_rows x `tokens` 4-byte words).
HELIX_AMX inline void configure_tiles(int a_bytes, int b_rows, int tokens) {
  TileConfig config;
  for (int t = 0; t < 4; ++t) config.rows[t] = kTileRows, config.colsb[t] = static_cast<std::uint16_t>(4 * tokens);
  for (int t = 4; t < 6; ++t) config.rows[t] = kTileRows, config.colsb[t] = static_cast<std::uint16_t>(a_bytes);
  for (int t = 6; t < 8; ++t) {
    config.rows[t] = static_cast<std::uint8_t>(b_rows);
    config.colsb[t] = static_cast<std::uint16_t>(4 * tokens);
  }
  // GCC's _tile_loadconfig tells the compiler it reads one pointer's worth of the
  // record, so without this barrier the stores to colsb and rows are dropped.
  __asm__ __volatile__("" : : "r"(&config) : "memory");
  _tile_loadconfig(&config);
}

// Rows of y a thread writes per token at once: the int8 kernels hold the results of
// 4 groups of 16 rows, so that each of y's token rows (a page apart at 4096 rows)
// takes 256 bytes per visit rather than 64 (perf put a tenth of a Q4_K prefill
// matmul's samples on the stores of 16 rows per token, element by element).
constexpr int kStoreGroups = 4;

// The held groups' results (acc: [group][token block][row][token]) for `rows` rows
// into y[t * ldy + row], token by token.
HELIX_AMX inline void store_held_groups(const float* acc, const BlockActivations& a, std::int64_t rows, float* y,
                                        std::int64_t ldy) {
  const __m512i column = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(kMaxTokens));
  const std::int64_t block_floats = kTileRows * kMaxTokens, group_floats = a.token_blocks * block_floats;
  for (std::int64_t t = 0; t < a.m; ++t) {
    const float* token = acc + t / kMaxTokens * block_floats + t % kMaxTokens;
    for (std::int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
      const auto valid = static_cast<__mmask16>((1u << std::min<std::int64_t>(kTileRows, rows - r0)) - 1);
      const __m512 v =
          _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, column, token + r0 / kTileRows * group_floats, 4);
      _mm512_mask_storeu_ps(y + t * ldy + r0, valid, v);
    }
  }
}

// Floats of the accumulators held by for_each_row_group.
inline std::int64_t held_floats(const BlockActivations& a) { return kStoreGroups * a.token_blocks * kTileRows * kMaxTokens; }

// Rows [row_begin, row_end) in groups of 16, kStoreGroups groups held at a time in
// acc (held_floats(a): [group][token block][row][token], zeroed first) and then
// stored into y: fill(r0, rows_here, group_acc) multiplies the group of rows r0..
template <typename Fill>
HELIX_AMX void for_each_row_group(const BlockActivations& a, float* acc, std::int64_t row_begin, std::int64_t row_end,
                                  float* y, std::int64_t ldy, const Fill& fill) {
  const std::int64_t group_floats = a.token_blocks * kTileRows * kMaxTokens;
  for (std::int64_t s0 = row_begin; s0 < row_end; s0 += kStoreGroups * kTileRows) {
    const std::int64_t s_end = std::min(row_end, s0 + kStoreGroups * kTileRows);
    std::fill(acc, acc + held_floats(a), 0.0f);
    for (std::int64_t r0 = s0; r0 < s_end; r0 += kTileRows)
      fill(r0, static_cast<int>(std::min<std::int64_t>(kTileRows, s_end - r0)), acc + (r0 - s0) / kTileRows * group_floats);
    store_held_groups(acc, a, s_end - s0, y + s0, ldy);
  }
}

}  // namespace helix::kernels_detail
