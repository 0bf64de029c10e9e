// Launches of the few-token projections (projection.h uses them up to
// kMatvecMostTokens tokens) and of the block types' widening for the cuBLAS path; arguments
// already checked (projection.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "helix/cuda/weights_view.h"

namespace helix::cuda_detail {

inline constexpr int kMatvecMostTokens = 8;
inline constexpr int kMatvecMostTargets = 3;  // q, k and v of one input in one launch

// For each of `count` (<= 3) matrices w[i] of one kind and one input x, in one
// launch: y[i][t * rows + r] = sum over k of w[i][r][k] * x[t * cols + k] for
// t < m <= 8, each token summed alone (the same bits whatever m is, and whatever
// matrices share the launch). x is rounded to bf16 first for BF16 weights, as the
// cuBLAS path rounds it.
void launch_matvec(const WeightsView* w, float* const* y, int count, const float* x, int m);

// A block type's values (Q8_0, Q4_0 ... Q6_K: weights_values.h) as bf16 (to nearest,
// ties to even) into `to` (rows x cols), for cuBLAS.
void launch_widen(const WeightsView& w, std::uint16_t* to);

}  // namespace helix::cuda_detail
