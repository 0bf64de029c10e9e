// Causal attention over a paged KV cache on the GPU, for any mix of prefill and
// decode tokens: token t (at position p_t of its sequence, whose own key and value
// are already in the cache) attends, per head h, to its sequence's positions lo..p_t
// (lo = p_t - window + 1 with a sliding window, else 0): softmax over q·k / sqrt(d),
// times v. Grouped-query attention: head h reads KV head h / (heads / kv_heads).
//
// The cache layout is the CPU's (engine/kv_cache.h), one layer at a time: keys and
// values [block][offset in block][kv_heads * head_dim], floats or, with kv_f16,
// halves (each value rounded to the nearest f16 as it is written, as the CPU's f16
// cache rounds it); a sequence's block table lists its blocks in position order. The softmax is computed online (a
// running maximum and sum per warp, merged at the end, and per split when split),
// so no score array bounds the context; it agrees with the CPU's exact softmax
// within float rounding.
#pragma once

#include <cstdint>
#include <vector>

namespace helix::cuda {

struct PagedAttentionShape {
  int heads = 0, kv_heads = 0, head_dim = 0;  // head_dim at most 256
  int block_tokens = 0;                       // positions per cache block
  int sliding_window = 0;                     // 0: the whole context
  bool kv_f16 = false;                        // the cache holds f16 values, else f32
};

// A few tokens over long contexts (decode) would leave most of a large GPU idle with
// one thread block per (token, head); they are split over the context instead:
// block (t, h, s) takes positions [s * chunk, (s + 1) * chunk) of token t's range,
// and a second kernel merges the splits' softmax states (flash-decoding). The
// workspace holds tokens x heads x splits x (head_dim + 2) floats; every position
// must be below splits * chunk.
struct AttentionSplit {
  int splits = 1;  // 1: a block per (token, head) over all its positions
  int chunk = 0;
  float* workspace = nullptr;
};

inline constexpr int kSplitMostTokens = 64;     // more tokens fill the GPU by themselves
inline constexpr int kSplitLongerThan = 1024;   // shorter ranges are not worth a second kernel
inline constexpr int kFewestSplitPositions = 512;
inline constexpr int kMostSplits = 32;

// The split for a step of `tokens` tokens whose longest range is `longest`
// positions, in a model of `context_length` positions: 1 (no split), or the same
// splits and chunk for every step that splits (so that a captured step keeps its
// launch shape), covering the whole context. The workspace is left to the caller.
AttentionSplit plan_split(std::int64_t tokens, int longest, int context_length);

// Floats the workspace of a split over `tokens` tokens needs.
std::int64_t split_workspace_floats(const PagedAttentionShape& shape, std::int64_t tokens, int splits);

// Prefill (flash-attention style, prefill_attention_kernels.cu): the step's tokens
// in tiles of up to kPrefillTileTokens consecutive tokens of one chunk, a thread
// block per (tile, head) reading each key and value once for the whole tile.
inline constexpr int kPrefillTileTokens = 16;
inline constexpr int kPrefillMostHeadDim = 128;  // its shared memory: 41 KiB at 128

// With an f16 cache, from compute capability 8.0, and for the usual head sizes, the
// prefill runs on the tensor cores instead (tensor_core_attention_kernels.cu): tiles
// of up to 64 tokens, f16 products (the keys and values are f16 already; q and the
// softmax weights each split into two f16 parts, so nothing is rounded to f16) and
// f32 sums. Against float64 over the same cache it agrees as the CUDA cores' kernel
// does, within f32 rounding (attention_test.cpp checks both).
inline constexpr int kTensorCorePrefillTileTokens = 64;
constexpr bool tensor_core_prefill_head_dim(int head_dim) {
  return head_dim == 16 || head_dim == 32 || head_dim == 64 || head_dim == 80 || head_dim == 96 || head_dim == 128;
}
enum class PrefillKernel { kCudaCores, kTensorCores };
PrefillKernel prefill_kernel_for(const PagedAttentionShape& shape, int compute_major);
int prefill_tile_tokens(PrefillKernel kernel);

// How a step of chunks of these lengths (back to back) is attended: the chunks of
// more than one token by `kernel`'s prefill tiles (as few as fit, its warps' work
// dealt evenly over them), (first token, tokens) pairs flattened; the one-token
// chunks (decodes beside a prefill) by token, through paged_attention's token list,
// where a tile of one would leave most of its block idle.
struct StepAttention {
  std::vector<std::int32_t> tiles;
  std::vector<std::int32_t> single_tokens;
};
StepAttention plan_step_attention(const std::vector<int>& chunk_lengths,
                                  PrefillKernel kernel = PrefillKernel::kCudaCores);

// As paged_attention, over the tiles (`tiles`: tile_count pairs in device memory,
// from plan_step_attention for the same kernel; every token of a tile at
// consecutive positions of one sequence). head_dim at most kPrefillMostHeadDim; the
// tensor cores' kernel only where prefill_kernel_for chose it, with the cache
// 16-byte aligned and out 8-byte aligned (as device allocations and the engine's
// layers are).
void prefill_attention(const PagedAttentionShape& shape, PrefillKernel kernel, const float* q, const void* keys,
                       const void* values, const std::int32_t* tables, const std::int32_t* table_starts,
                       const std::int32_t* positions, const std::int32_t* tiles, std::int64_t tile_count, float* out);

// RoPE and the cache write of a layer in one launch: q (tokens x heads * head_dim)
// rotated in place; k rotated and written, with v, to the cache rows slots[t] (k
// itself is left as it was). cos and sin: token t's pair i at t * head_dim / 2 + i
// (Rope::angles of its position); the pairs split in halves or interleaved as
// element::rope_pair says, each rotated by element::rope_rotate, the CPU's arithmetic.
// keys and values hold f32, or with kv_f16 f16 (each value rounded as it is written).
void rotate_and_cache(float* q, const float* k, const float* v, std::int64_t tokens, int heads, int kv_heads,
                      int head_dim, bool half_split, const float* cos, const float* sin, const std::int32_t* slots,
                      void* keys, void* values, bool kv_f16);

// All pointers in device memory. q and out: rows of heads * head_dim. Token t's
// block table starts at tables[table_starts[t]]; positions[t] is its position. The
// tokens are 0..tokens-1, or, with a token list, token_list[0..tokens-1] (the other
// rows of out are left as they are).
void paged_attention(const PagedAttentionShape& shape, const float* q, const void* keys, const void* values,
                     const std::int32_t* tables, const std::int32_t* table_starts, const std::int32_t* positions,
                     std::int64_t tokens, float* out, const AttentionSplit& split = {},
                     const std::int32_t* token_list = nullptr);

}  // namespace helix::cuda
