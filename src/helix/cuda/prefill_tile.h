// What a prefill attention block (prefill_attention_kernels.cu on the CUDA cores,
// tensor_core_attention_kernels.cu on the tensor cores) knows of its tile, for the
// .cu files: tile blockIdx.x of the plan (attention.h's plan_step_attention), its
// tokens consecutive positions of one sequence.
#pragma once

#include <cstdint>

#include "helix/cuda/attention.h"

namespace helix::cuda_detail {

struct PrefillTile {
  int first_token = 0, count = 0;             // the step's tokens first_token .. first_token + count - 1
  int first_position = 0, last_position = 0;  // theirs in the sequence
  int lowest = 0;                             // the lowest position any of them attends to (a sliding window's)
  const std::int32_t* table = nullptr;        // the sequence's block table
};

__device__ inline PrefillTile prefill_tile(const cuda::PagedAttentionShape& shape, const std::int32_t* tiles,
                                           const std::int32_t* tables, const std::int32_t* table_starts,
                                           const std::int32_t* positions, int index) {
  PrefillTile t;
  t.first_token = tiles[2 * index];
  t.count = tiles[2 * index + 1];
  t.first_position = positions[t.first_token];
  t.last_position = positions[t.first_token + t.count - 1];
  t.lowest = shape.sliding_window > 0 ? max(0, t.first_position - shape.sliding_window + 1) : 0;
  t.table = tables + table_starts[t.first_token];
  return t;
}

}  // namespace helix::cuda_detail
