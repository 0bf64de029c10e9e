// The amx level's kernel for batches below 16 tokens of the int8 block types (Q8_0,
// Q4_K, Q6_K), with AVX-512 VNNI: a tile product costs as much for 1 token as for 16
// (Q8_0 decode on 1-token tiles ran at half the streaming kernels' speed), so these
// compute the tiles' exact integer group sums with vpdpbusd, 16 weight rows side by
// side, 64 values at a time, and scale them with the operations of
// amx_int8_arithmetic.h: the same bits as the tile kernel (matmul_amx.cpp), so a
// row's result does not depend on its batch size.
//
// The weights are read in place (no decoded copy): Q8_0's quants as they are, Q4_K's
// and Q6_K's unpacked per 64 values; the scales of the 16 rows are decoded a row per
// lane once the rows' lines are in cache.
#include "helix/kernels/matmul_kernels.h"

#include <algorithm>
#include <cstddef>
#include <limits>

#include "helix/core/error.h"
#include "helix/kernels/scratch.h"

#if defined(__x86_64__)
// See matmul_avx512.cpp: GCC 12's AVX-512 headers trip -Wuninitialized on their
// own undefined-vector helpers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "helix/kernels/amx_int8_arithmetic.h"
#include "helix/kernels/amx_int8_weights.h"

namespace helix::kernels_detail {
namespace {

// Lane sums of 4 vectors (v[0..3], 16 int32 lanes each: vpdpbusd results of 4 steps
// of 64 values): per 128-bit block L, each vector's sum of lanes 4L..4L+3 (integer
// sums: exact in any order).
HELIX_AMX inline __m512i quad_sums(__m512i v0, __m512i v1, __m512i v2, __m512i v3) {
  // Vectors (a, b): per 128 bits [a0+a2, b0+b2, a1+a3, b1+b3].
  const __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(v0, v1), _mm512_unpackhi_epi32(v0, v1));
  const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(v2, v3), _mm512_unpackhi_epi32(v2, v3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
}

// The quad sums of steps 0-3, 4-7, 8-11, 12-15 transposed: out[L] holds the sums of
// lanes 4L..4L+3 for steps 0..15, step s in lane s.
HELIX_AMX inline void transpose_quads(const __m512i* r, __m512i (&out)[4]) {
  const __m512i u0 = _mm512_shuffle_i32x4(r[0], r[1], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i u1 = _mm512_shuffle_i32x4(r[0], r[1], _MM_SHUFFLE(3, 2, 3, 2));
  const __m512i u2 = _mm512_shuffle_i32x4(r[2], r[3], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i u3 = _mm512_shuffle_i32x4(r[2], r[3], _MM_SHUFFLE(3, 2, 3, 2));
  out[0] = _mm512_shuffle_i32x4(u0, u2, _MM_SHUFFLE(2, 0, 2, 0));
  out[1] = _mm512_shuffle_i32x4(u0, u2, _MM_SHUFFLE(3, 1, 3, 1));
  out[2] = _mm512_shuffle_i32x4(u1, u3, _MM_SHUFFLE(2, 0, 2, 0));
  out[3] = _mm512_shuffle_i32x4(u1, u3, _MM_SHUFFLE(3, 1, 3, 1));
}

// Batches below 16 tokens on the AMX level, with VNNI: a tile product costs as much
// for 1 token as for 16, so these compute the tiles' exact integer group sums with
// vpdpbusd, 16 rows side by side, 64 values at a time, then scale them group by group
// vectorised over the rows with the operations scale_tokens applies per element:
// the same bits as the tiles. acc[t][row] for tokens t < m.
template <DType Type, typename Quants>
HELIX_AMX void multiply_rows_vnni(const Panel& p, const Quants& quants, std::int64_t cols, const Int8Activations& x,
                                  std::int64_t m, float* acc) {
  constexpr Int8Format f = int8_format(Type);
  constexpr int per_step = 64 / f.group;  // groups per 64 values
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  std::fill(acc, acc + m * kTileRows, 0.0f);
  for (std::int64_t k = 0; k < cols; k += 64) {
    // A last run of 32 values (Q8_0) loads through a mask: its other half is zero.
    const bool half = k + 64 > cols;
    const __mmask64 bytes = half ? 0xFFFFFFFFull : ~0ull;
    const __mmask16 lanes = half ? 0x00FF : 0xFFFF;
    // Four rows at a time: their quants unpacked once for all tokens, each token's
    // products summed per 4 lanes (quads[t][q]).
    alignas(64) __m512i quads[kMaxTokens - 1][4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      __m512i wq[4];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        wq[j] = quants.load(4 * q + j, k, half);
        if constexpr (Type == DType::Q8_0) wq[j] = _mm512_xor_si512(wq[j], flip);
      }
      for (std::int64_t t = 0; t < m; ++t) {
        const std::int64_t at = t * x.cols + k;  // token t's value k
        const __m512i xq = _mm512_maskz_loadu_epi8(bytes, x.q + at);
        // vpdpbusd multiplies unsigned quants: Q8_0's became q + 128, and q8_bias takes
        // 128 * sum(x) off again; Q6_K's are q + 32, and 32 * sum(x) per lane comes off.
        __m512i start = _mm512_setzero_si512();
        if constexpr (Type == DType::Q8_0) start = _mm512_maskz_loadu_epi32(lanes, x.q8_bias + at / 4);
        if constexpr (Type == DType::Q6_K) {
          const __m512i lane_sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), xq);
          start = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(lane_sums, 5));
        }
        quads[t][q] = quad_sums(_mm512_dpbusd_epi32(start, wq[0], xq), _mm512_dpbusd_epi32(start, wq[1], xq),
                                _mm512_dpbusd_epi32(start, wq[2], xq), _mm512_dpbusd_epi32(start, wq[3], xq));
      }
    }
    quants.load_scales(k, half);  // the rows' lines are in L1 now
    for (std::int64_t t = 0; t < m; ++t) {
      __m512i sums[4];
      transpose_quads(quads[t], sums);  // sums[L]: rows' lanes 4L..4L+3
      __m512i isum[4] = {sums[0], sums[1], sums[2], sums[3]};
      if constexpr (f.group == 32) {
        isum[0] = _mm512_add_epi32(sums[0], sums[1]);
        isum[1] = _mm512_add_epi32(sums[2], sums[3]);
      }
      float* acc_t = acc + t * kTileRows;
      __m512 a = _mm512_load_ps(acc_t);
      const int groups = half ? 1 : per_step;
      for (int j = 0; j < groups; ++j) {
        const std::int64_t g = k / f.group + j, value = k + j * f.group;  // the group's first value
        const float xs = x.lane_scale[(t * x.cols + value / 32 * 32) / 4];
        const float* xsum = f.group == 32 ? x.sum32 + (t * x.cols + value) / 32 : x.sum16 + (t * x.cols + value) / 16;
        a = scale_rows(a, isum[j], p, g, xs, xsum, f.has_min);
      }
      _mm512_store_ps(acc_t, a);
    }
  }
}

template <DType Type, typename Quants>
HELIX_AMX void multiply_group(const RowGroup& group, std::int64_t cols, const Int8Activations& x, std::int64_t m,
                              float* acc) {
  Quants quants;
  static_cast<RowGroup&>(quants) = group;
  multiply_rows_vnni<Type>(*group.p, quants, cols, x, m, acc);
}

}  // namespace

namespace {

// One pass over rows [begin, begin + count): 16 streams, lane n reading the
// contiguous rows [begin + n * stride, begin + (n + 1) * stride) one after another,
// so that row group j holds rows begin + n * stride + j. Rows of Q4_K (2304 bytes at
// 4096 columns) or Q6_K are shorter than a page: 16 neighbouring rows read side by side
// put two or three streams in each 4 KiB page, which the L2 streamer (one stream per
// page) does not follow, and batch-1 reads from memory ran at about 16 GB/s against
// the streaming kernels' 20; 16 rows a stride apart are 16 streams in 16 pages. Each
// lane computes its own row, so the bits are those of any other grouping.
HELIX_AMX void gemv_pass(const WeightMatrix& w, const AmxActivations& a, float* y, const Panel& p, float* acc,
                         std::int64_t begin, std::int64_t count) {
  const std::int64_t stride = (count + kTileRows - 1) / kTileRows;
  for (std::int64_t j = 0; j < stride; ++j) {
    // Lanes n with n * stride + j < count hold rows (a prefix); the others repeat the
    // last one, and their sums are never stored.
    const int rows_here = static_cast<int>(std::min<std::int64_t>(kTileRows, (count - j + stride - 1) / stride));
    const RowGroup group = make_row_group(w, begin + j, stride, rows_here, p, 0);
    switch (w.dtype) {
      case DType::Q8_0: multiply_group<DType::Q8_0, Q8_0Quants>(group, w.cols, a.int8, a.m, acc); break;
      case DType::Q4_K: multiply_group<DType::Q4_K, Q4_KQuants>(group, w.cols, a.int8, a.m, acc); break;
      default: multiply_group<DType::Q6_K, Q6_KQuants>(group, w.cols, a.int8, a.m, acc); break;
    }
    for (std::int64_t t = 0; t < a.m; ++t)
      for (int n = 0; n < rows_here; ++n) y[t * w.rows + begin + n * stride + j] = acc[t * kTileRows + n];
  }
}

}  // namespace

// Batches below 16 tokens (multiply_rows_vnni): rows [row_begin, row_end) in groups
// of 16 a stride apart (gemv_pass), in passes short enough that the gathers' 32-bit
// offsets (up to 15 strides of rows) cannot overflow.
HELIX_AMX void gemv_rows_amx_vnni(const WeightMatrix& w, const AmxActivations& a, float* y, std::int64_t row_begin,
                                  std::int64_t row_end) {
  const Int8Format f = int8_format(w.dtype);
  const std::int64_t groups = w.cols / f.group;
  // Scratch: the scale and offset vectors of every group; the results.
  float* scales = thread_scratch(ScratchSlot::WeightTile, static_cast<std::size_t>(2 * groups * kTileRows));
  const Panel p{nullptr, scales, scales + groups * kTileRows};
  float* acc = thread_scratch(ScratchSlot::WeightRow, static_cast<std::size_t>(a.m * kTileRows));
  const std::int64_t max_stride = std::numeric_limits<std::int32_t>::max() / (kTileRows * w.row_bytes);
  const std::int64_t max_pass = std::max<std::int64_t>(1, max_stride) * kTileRows;
  for (std::int64_t begin = row_begin; begin < row_end; begin += max_pass)
    gemv_pass(w, a, y, p, acc, begin, std::min(max_pass, row_end - begin));
}

}  // namespace helix::kernels_detail

#else  // not x86-64: active_kernel_isa() never picks Amx here

namespace helix::kernels_detail {

void gemv_rows_amx_vnni(const WeightMatrix&, const AmxActivations&, float*, std::int64_t, std::int64_t) {
  fail("matmul: the AMX kernels are not built for this CPU architecture");
}

}  // namespace helix::kernels_detail

#endif
