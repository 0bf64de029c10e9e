// The engine's element-wise steps on the GPU: RMSNorm (alone, or fused with the
// residual add), SwiGLU's SiLU(gate) * up, the residual add, a bias per row, and
// picking rows. (Rotary embedding is fused with the KV write: attention.h.) Every pointer is in the current device's
// memory (DeviceArray::data()); the calls queue the work on the launch stream
// (stream.h) and return, so a later download or synchronize sees the result. The
// per-element arithmetic is the CPU's (kernels/element_arithmetic.h); the row sums
// of RMSNorm are added in another order, so the two agree within float rounding.
#pragma once

#include <cstdint>

namespace helix::cuda {

// out[r] = RMSNorm(x[r]) * weight for `rows` rows of n floats (out == x allowed).
void rms_norm_rows(const float* x, const float* weight, float eps, std::int64_t rows, std::int64_t n, float* out);

// x[r] += h[r], then out[r] = RMSNorm(x[r]) * weight: the residual add and the next
// norm in one pass (the bits of add() then rms_norm_rows()). out == h allowed.
void add_rms_norm_rows(const float* h, float* x, const float* weight, float eps, std::int64_t rows, std::int64_t n,
                       float* out);

// out = SiLU(gate) * up over n floats (out == gate or out == up allowed).
void silu_mul(const float* gate, const float* up, std::int64_t n, float* out);

// y += x over n floats.
void add(const float* x, float* y, std::int64_t n);

// y[r * n + k] += row[k] for r < rows: a projection's bias added to every token.
void add_to_rows(const float* row, std::int64_t rows, std::int64_t n, float* y);

// out[i * n ...] = x[rows[i] * n ...] for i < count: rows picked out (the tokens
// whose logits a step wants), `rows` in device memory so that a captured step can
// pick different rows each replay.
void gather_rows(const float* x, const std::int32_t* rows, std::int64_t count, std::int64_t n, float* out);

}  // namespace helix::cuda
