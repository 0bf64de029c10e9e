// Few-token projections: a warp per weight row, each lane reading 8 consecutive
// values per step (16 bytes of BF16, 8 of Q8_0 quants, 32 of F32), the warp 256
// values at a time, two steps' loads in flight before their arithmetic so that a
// warp keeps 1 KiB of BF16 in flight; every token's x read beside them (x is small
// and stays in cache across rows). Each token's sum: its lane's products in k
// order, then the warp's 32 lane sums added by shuffles, whatever m is.
#include "helix/cuda/matvec_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "helix/cuda/cuda_status.h"
#include "helix/cuda/kernel_launch.h"
#include "helix/cuda/launch_stream.h"
#include "helix/cuda/weights_values.h"

namespace helix::cuda_detail {
namespace {

constexpr int kWarps = 8;  // rows per block
constexpr int kLaneValues = 8;
constexpr int kWarpValues = 32 * kLaneValues;

__device__ float round_bf16(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

__device__ float bf16_value(std::uint16_t bits) { return __bfloat162float(__ushort_as_bfloat16(bits)); }

// The kinds read through weights_values.h's values8_of, 8 values at a time (every
// block type but Q8_0, whose planes are read with vector loads here).
template <WeightsKind Kind>
constexpr bool kReadByEights = Kind != WeightsKind::kF32 && Kind != WeightsKind::kBf16 && Kind != WeightsKind::kQ8_0;

// 8 values of row r from column k (k a multiple of 8; rows 16-byte aligned where
// cols is a multiple of 8, which the vector steps require).
template <WeightsKind Kind>
__device__ void load8(const WeightsView& w, std::int64_t r, std::int64_t k, float (&v)[kLaneValues]) {
  const std::int64_t at = r * w.cols + k;
  if constexpr (Kind == WeightsKind::kF32) {
    const float4* p = reinterpret_cast<const float4*>(static_cast<const float*>(w.values) + at);
    const float4 a = __ldg(p), b = __ldg(p + 1);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  } else if constexpr (Kind == WeightsKind::kBf16) {
    const uint4 bits = __ldg(reinterpret_cast<const uint4*>(static_cast<const std::uint16_t*>(w.values) + at));
    const unsigned words[4] = {bits.x, bits.y, bits.z, bits.w};
    for (int i = 0; i < 4; ++i) {
      v[2 * i] = __uint_as_float(words[i] << 16);
      v[2 * i + 1] = __uint_as_float(words[i] & 0xFFFF0000u);
    }
  } else if constexpr (kReadByEights<Kind>) {
    values8_of<Kind>(w, r, k, v);  // weights_values.h: the CPU's dequantization
  } else {
    const uint2 bits = __ldg(reinterpret_cast<const uint2*>(static_cast<const std::int8_t*>(w.values) + at));
    const float d = __half2float(__ushort_as_half(__ldg(w.scales + (at >> 5))));
    const unsigned words[2] = {bits.x, bits.y};
    for (int i = 0; i < kLaneValues; ++i) {
      const auto q = static_cast<std::int8_t>((words[i / 4] >> (8 * (i % 4))) & 0xFFu);
      v[i] = static_cast<float>(q) * d;
    }
  }
}

template <WeightsKind Kind>
__device__ float load1(const WeightsView& w, std::int64_t r, std::int64_t k) {
  if constexpr (kReadByEights<Kind>) {
    float v[kLaneValues];
    values8_of<Kind>(w, r, k / kLaneValues * kLaneValues, v);
    return v[k % kLaneValues];
  }
  const std::int64_t at = r * w.cols + k;
  if constexpr (Kind == WeightsKind::kF32) return static_cast<const float*>(w.values)[at];
  if constexpr (Kind == WeightsKind::kBf16) return bf16_value(static_cast<const std::uint16_t*>(w.values)[at]);
  return static_cast<float>(static_cast<const std::int8_t*>(w.values)[at]) * __half2float(__ushort_as_half(w.scales[at >> 5]));
}

template <WeightsKind Kind>
__device__ float x_value(float x) {
  if constexpr (Kind == WeightsKind::kBf16) return round_bf16(x);
  return x;
}

template <WeightsKind Kind, int M>
__device__ void accumulate8(const float (&wv)[kLaneValues], const float* x, std::int64_t cols, std::int64_t k,
                            float (&acc)[M]) {
  for (int t = 0; t < M; ++t) {
    const float4* xp = reinterpret_cast<const float4*>(x + t * cols + k);
    const float4 a = xp[0], b = xp[1];
    const float xv[kLaneValues] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
    for (int i = 0; i < kLaneValues; ++i) acc[t] = fmaf(wv[i], x_value<Kind>(xv[i]), acc[t]);
  }
}

// Up to kMatvecMostTargets matrices of one input in one launch: the grid's blocks
// are the first matrix's row blocks, then the second's, ...
struct Targets {
  WeightsView w[kMatvecMostTargets];
  float* y[kMatvecMostTargets];
  unsigned first_block[kMatvecMostTargets + 1];
  int count;
};

template <WeightsKind Kind, int M>
__global__ void __launch_bounds__(kWarps * 32) matvec_kernel(Targets targets, const float* __restrict__ x,
                                                             bool vectors) {
  // The block's matrix, chosen with constant indices (a computed index into the
  // parameters would copy them to local memory).
  WeightsView w = targets.w[0];
  float* __restrict__ y = targets.y[0];
  unsigned first = 0;
  static_assert(kMatvecMostTargets == 3, "one branch per further target");
  if (targets.count > 1 && blockIdx.x >= targets.first_block[1]) {
    w = targets.w[1];
    y = targets.y[1];
    first = targets.first_block[1];
  }
  if (targets.count > 2 && blockIdx.x >= targets.first_block[2]) {
    w = targets.w[2];
    y = targets.y[2];
    first = targets.first_block[2];
  }
  const int lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t r = static_cast<std::int64_t>(blockIdx.x - first) * kWarps + threadIdx.x / 32;
  if (r >= w.rows) return;  // the whole warp: r is the warp's
  const std::int64_t cols = w.cols;
  float acc[M];
  for (int t = 0; t < M; ++t) acc[t] = 0.0f;
  const std::int64_t vector_end = vectors ? cols / kWarpValues * kWarpValues : 0;
  std::int64_t k = static_cast<std::int64_t>(lane) * kLaneValues;
  for (; k + kWarpValues < vector_end; k += 2 * kWarpValues) {
    float a[kLaneValues], b[kLaneValues];
    load8<Kind>(w, r, k, a);
    load8<Kind>(w, r, k + kWarpValues, b);
    accumulate8<Kind, M>(a, x, cols, k, acc);
    accumulate8<Kind, M>(b, x, cols, k + kWarpValues, acc);
  }
  if (k < vector_end) {
    float a[kLaneValues];
    load8<Kind>(w, r, k, a);
    accumulate8<Kind, M>(a, x, cols, k, acc);
  }
  for (std::int64_t j = vector_end + lane; j < cols; j += 32) {
    const float wj = load1<Kind>(w, r, j);
    for (int t = 0; t < M; ++t) acc[t] = fmaf(wj, x_value<Kind>(x[t * cols + j]), acc[t]);
  }
  for (int t = 0; t < M; ++t) {
    float s = acc[t];
    for (int offset = 16; offset > 0; offset /= 2) s += __shfl_xor_sync(0xffffffffu, s, offset);
    if (lane == 0) y[t * w.rows + r] = s;
  }
}

template <WeightsKind Kind>
void launch_kind(const Targets& targets, const float* x, int m) {
  const unsigned blocks = targets.first_block[targets.count];
  const dim3 threads(kWarps * 32);
  cudaStream_t s = launch_stream();
  // 16-byte loads where every row of every w and of x starts 16 bytes aligned.
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  bool vectors = aligned(x);
  for (int i = 0; i < targets.count; ++i)
    vectors = vectors && targets.w[i].cols % kLaneValues == 0 && aligned(targets.w[i].values);
  const Targets& w = targets;
  switch (m) {
    case 1: HELIX_LAUNCH(blocks, threads, 0, s, matvec_kernel<Kind, 1>)(w, x, vectors); break;
    case 2: HELIX_LAUNCH(blocks, threads, 0, s, matvec_kernel<Kind, 2>)(w, x, vectors); break;
    case 3: HELIX_LAUNCH(blocks, threads, 0, s, matvec_kernel<Kind, 3>)(w, x, vectors); break;
    case 4: HELIX_LAUNCH(blocks, threads, 0, s, matvec_kernel<Kind, 4>)(w, x, vectors); break;
    case 5: HELIX_LAUNCH(blocks, threads, 0, s, matvec_kernel<Kind, 5>)(w, x, vectors); break;
    case 6: HELIX_LAUNCH(blocks, threads, 0, s, matvec_kernel<Kind, 6>)(w, x, vectors); break;
    case 7: HELIX_LAUNCH(blocks, threads, 0, s, matvec_kernel<Kind, 7>)(w, x, vectors); break;
    default: HELIX_LAUNCH(blocks, threads, 0, s, matvec_kernel<Kind, 8>)(w, x, vectors); break;
  }
}

// A thread per 8 values (of one scale: a quarter of a block of 32, a K-quant's
// sub-block part), widened as the matvec kernels read them, rounded to bf16.
__global__ void widen_kernel(WeightsView w, std::uint16_t* to) {
  const std::int64_t n = w.rows * w.cols;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x * kLaneValues;
  for (std::int64_t at = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * kLaneValues; at < n;
       at += stride) {
    float v[kLaneValues];
    values8(w, at / w.cols, at % w.cols, v);
    for (int i = 0; i < kLaneValues; ++i) to[at + i] = __bfloat16_as_ushort(__float2bfloat16_rn(v[i]));
  }
}

}  // namespace

void launch_matvec(const WeightsView* w, float* const* y, int count, const float* x, int m) {
  Targets targets{};
  targets.count = count;
  targets.first_block[0] = 0;
  for (int i = 0; i < count; ++i) {
    targets.w[i] = w[i];
    targets.y[i] = y[i];
    targets.first_block[i + 1] = targets.first_block[i] + static_cast<unsigned>((w[i].rows + kWarps - 1) / kWarps);
  }
  switch (w[0].kind) {
    case WeightsKind::kF32: launch_kind<WeightsKind::kF32>(targets, x, m); break;
    case WeightsKind::kBf16: launch_kind<WeightsKind::kBf16>(targets, x, m); break;
    case WeightsKind::kQ8_0: launch_kind<WeightsKind::kQ8_0>(targets, x, m); break;
    case WeightsKind::kQ4_0: launch_kind<WeightsKind::kQ4_0>(targets, x, m); break;
    case WeightsKind::kQ4_1: launch_kind<WeightsKind::kQ4_1>(targets, x, m); break;
    case WeightsKind::kQ5_0: launch_kind<WeightsKind::kQ5_0>(targets, x, m); break;
    case WeightsKind::kQ5_1: launch_kind<WeightsKind::kQ5_1>(targets, x, m); break;
    case WeightsKind::kQ4_K: launch_kind<WeightsKind::kQ4_K>(targets, x, m); break;
    case WeightsKind::kQ5_K: launch_kind<WeightsKind::kQ5_K>(targets, x, m); break;
    case WeightsKind::kQ6_K: launch_kind<WeightsKind::kQ6_K>(targets, x, m); break;
  }
  check_launch("matvec");
}

void launch_widen(const WeightsView& w, std::uint16_t* to) {
  const std::int64_t n = w.rows * w.cols;  // a multiple of 32
  const std::int64_t threads = 256, per_block = threads * kLaneValues;
  const auto blocks = static_cast<unsigned>(std::min<std::int64_t>((n + per_block - 1) / per_block, 8192));
  HELIX_LAUNCH(blocks, static_cast<unsigned>(threads), 0, launch_stream(), widen_kernel)(w, to);
  check_launch("widen");
}

}  // namespace helix::cuda_detail
