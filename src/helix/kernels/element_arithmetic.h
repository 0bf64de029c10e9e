// The per-element arithmetic of the engine's norms, activation and rotary embedding,
// written once for the CPU and the GPU: the CPU's portable (scalar) kernels call these
// functions, and so do the CUDA kernels (src/helix/cuda), so the CPU tests exercise
// the very expressions a GPU runs. The vector CPU kernels (AVX2, AVX-512) compute the
// same formulas lane-wise; they agree within float rounding (vector_ops.h).
//
// Header only, no library calls but sqrtf / expf, which host and device both have.
#pragma once

#include <cmath>
#include <cstdint>

#include "helix/core/host_device.h"

namespace helix::element {

// RMSNorm's factor for a row of n values whose squares sum to sum_squares:
// 1 / sqrt(mean(x^2) + eps).
HELIX_HOST_DEVICE inline float rms_scale(float sum_squares, std::int64_t n, float eps) {
  return 1.0f / sqrtf(sum_squares / static_cast<float>(n) + eps);
}

// One value of RMSNorm's output: x times the row's factor, times its weight.
HELIX_HOST_DEVICE inline float rms_normed(float x, float scale, float weight) { return x * scale * weight; }

// SwiGLU: SiLU(gate) * up, SiLU(g) = g * sigmoid(g) = g / (1 + e^-g).
HELIX_HOST_DEVICE inline float silu_mul(float gate, float up) { return gate / (1.0f + expf(-gate)) * up; }

// The two values of a head that rotary embedding rotates together for frequency pair
// i of `pairs`: (i, i + pairs) when the halves are split (rotate_half, LLaMA's HF
// layout), (2i, 2i + 1) when interleaved (GGUF's llama layout).
struct RopePair {
  int first, second;
};
HELIX_HOST_DEVICE inline RopePair rope_pair(int i, int pairs, bool half_split) {
  return half_split ? RopePair{i, i + pairs} : RopePair{2 * i, 2 * i + 1};
}

// (x0, x1) rotated by the angle whose cosine and sine are c and s.
struct Rotated {
  float first, second;
};
HELIX_HOST_DEVICE inline Rotated rope_rotate(float x0, float x1, float c, float s) {
  return {x0 * c - x1 * s, x1 * c + x0 * s};
}

}  // namespace helix::element
