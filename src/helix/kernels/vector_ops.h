// Vector operations on f32 arrays for the engine's norms, activations and attention.
//
// Each has an AVX2+FMA kernel and a portable one (the query blocks of attention an
// AVX-512 one too), chosen per call by
// active_kernel_isa() (cpu_features.h); they agree within float rounding (the AVX2
// exp is a polynomial with relative error below 2e-7). Sums are accumulated in f32
// over several lanes. Pointers need only float alignment; in-place use is allowed
// where the output is one of the inputs (out == x, out == gate, out == up).
#pragma once

#include <cstddef>
#include <cstdint>

namespace helix {

// sum_k a[k] * b[k].
float dot(const float* a, const float* b, std::int64_t n);
// y += a * x.
void axpy(float a, const float* x, float* y, std::int64_t n);

// Attention's two loops over cached positions, rows `stride` floats apart:
// scores[j] = scale * sum_k q[k] * keys[j * stride + k] for j < count, and
// out[k] += sum_j weights[j] * values[j * stride + k], added in the order j = 0, 1,
// ... Each row's arithmetic never depends on count or on the other rows, so
// splitting the rows into consecutive calls gives the same bits.
void dot_rows(const float* q, const float* keys, std::int64_t stride, std::int64_t count, std::int64_t n, float scale,
              float* scores);
void axpy_rows(const float* weights, const float* values, std::int64_t stride, std::int64_t count, std::int64_t n,
               float* out);

// The same two loops for a block of up to kQueryBlock queries sharing the rows (a
// prefill's consecutive tokens), each query getting the bits dot_rows / axpy_rows
// give it alone, so attention stays batch-invariant. Query i (< queries) is at
// q + i * q_stride; scores and weights are laid out [row][kQueryBlock]:
//   scores[j * kQueryBlock + i] = scale * sum_k q_i[k] * keys[j * stride + k]
//   out_i[k] += sum_j weights[j * kQueryBlock + i] * values[j * stride + k], out_i at
//   out + i * out_stride, added in the order j = 0, 1, ...
// (weights of the columns past `queries` are read, so they must be finite). On the
// avx512 and amx levels, with n a multiple of 16, each row is loaded once per block.
constexpr int kQueryBlock = 8;
void dot_rows_block(const float* q, std::int64_t q_stride, int queries, const float* keys, std::int64_t stride,
                    std::int64_t count, std::int64_t n, float scale, float* scores);
void axpy_rows_block(const float* weights, int queries, const float* values, std::int64_t stride, std::int64_t count,
                     std::int64_t n, float* out, std::int64_t out_stride);
// The four loops over an f16 KV cache's rows (engine/kv_cache.h; the values' f16
// bits): each value widened exactly as it is loaded, then the f32 loops' arithmetic,
// so they give the bits the f32 functions give on the widened rows.
void dot_rows(const float* q, const std::uint16_t* keys, std::int64_t stride, std::int64_t count, std::int64_t n,
              float scale, float* scores);
void axpy_rows(const float* weights, const std::uint16_t* values, std::int64_t stride, std::int64_t count,
               std::int64_t n, float* out);
void dot_rows_block(const float* q, std::int64_t q_stride, int queries, const std::uint16_t* keys,
                    std::int64_t stride, std::int64_t count, std::int64_t n, float scale, float* scores);
void axpy_rows_block(const float* weights, int queries, const std::uint16_t* values, std::int64_t stride,
                     std::int64_t count, std::int64_t n, float* out, std::int64_t out_stride);

// A KV cache's f16 storage (engine/kv_cache.h): each value to the nearest f16 (IEEE,
// ties to even; beyond 65504 infinite). weights/dtype.h's convert_from_f32(F16)
// with F16C on the AVX2 level, for the cache's writes; the two give the same bits
// for every value but NaN, whose payload may differ. convert_to_f32 reads them back.
void round_to_f16(const float* x, std::int64_t n, std::uint16_t* out);
// out = the n f16 values at `halves` widened to f32 (exact), read bytewise (no
// alignment needed): an f16 payload from the wire. convert_to_f32(F16)'s values,
// with F16C on the AVX2 level (a NaN stays a NaN; its payload may be quieted).
void widen_f16(const std::byte* halves, std::int64_t n, float* out);
// out = x / sqrt(mean(x^2) + eps) * weight (LLaMA RMSNorm).
void rms_norm(const float* x, const float* weight, float eps, std::int64_t n, float* out);
// out = gate * sigmoid(gate) * up (SwiGLU's SiLU(gate) * up).
void silu_mul(const float* gate, const float* up, std::int64_t n, float* out);
// In place: x = exp(x - max x) / sum. Stable for large inputs; n == 0 does nothing.
void softmax(float* x, std::int64_t n);
// y += x.
void add(const float* x, float* y, std::int64_t n);

}  // namespace helix
