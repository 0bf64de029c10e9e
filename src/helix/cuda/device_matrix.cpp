#include "helix/cuda/device_matrix.h"

#include <cstring>
#include <span>

#include "helix/core/error.h"
#include "helix/weights/block_quants.h"

namespace helix {

Q8_0Planes q8_0_planes(const WeightMatrix& w) {
  if (w.dtype != DType::Q8_0) fail("cuda: q8_0_planes takes Q8_0 weights, not {}", dtype_name(w.dtype));
  const std::int64_t per_row = w.cols / kQ8BlockElements;
  Q8_0Planes p;
  p.quants.resize(static_cast<std::size_t>(w.rows * w.cols));
  p.scales.resize(static_cast<std::size_t>(w.rows * per_row));
  for (std::int64_t r = 0; r < w.rows; ++r) {
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(w.row(r));
    for (std::int64_t b = 0; b < per_row; ++b) {
      const std::size_t at = static_cast<std::size_t>(r * per_row + b);
      std::memcpy(&p.scales[at], &blocks[b].d, sizeof(std::uint16_t));
      std::memcpy(&p.quants[at * kQ8BlockElements], blocks[b].qs, kQ8BlockElements);
    }
  }
  return p;
}

cuda_detail::WeightsView view_of(const DeviceMatrix& m) {
  using cuda_detail::WeightsKind;
  WeightsKind kind = WeightsKind::kF32;
  switch (m.dtype) {
    case DType::BF16: kind = WeightsKind::kBf16; break;
    case DType::Q8_0: kind = WeightsKind::kQ8_0; break;
    case DType::Q4_0: kind = WeightsKind::kQ4_0; break;
    case DType::Q4_1: kind = WeightsKind::kQ4_1; break;
    case DType::Q5_0: kind = WeightsKind::kQ5_0; break;
    case DType::Q5_1: kind = WeightsKind::kQ5_1; break;
    case DType::Q4_K: kind = WeightsKind::kQ4_K; break;
    case DType::Q5_K: kind = WeightsKind::kQ5_K; break;
    case DType::Q6_K: kind = WeightsKind::kQ6_K; break;
    default: break;
  }
  return {kind,
          m.data.data(),
          m.scales.data(),
          reinterpret_cast<const std::uint8_t*>(m.high.data()),
          reinterpret_cast<const std::int8_t*>(m.small_scales.data()),
          m.rows,
          m.cols};
}

Q6_KPlanes q6_k_planes(const WeightMatrix& w) {
  if (w.dtype != DType::Q6_K) fail("cuda: q6_k_planes takes Q6_K weights, not {}", dtype_name(w.dtype));
  const std::int64_t per_row = w.cols / 256;
  Q6_KPlanes p;
  const auto blocks = static_cast<std::size_t>(w.rows * per_row);
  p.ql.resize(blocks * 128);
  p.qh.resize(blocks * 64);
  p.scales.resize(blocks * 16);
  p.d.resize(blocks);
  for (std::int64_t r = 0; r < w.rows; ++r) {
    for (std::int64_t b = 0; b < per_row; ++b) {
      BlockQ6_K block;
      std::memcpy(&block, w.row(r) + b * static_cast<std::int64_t>(sizeof(BlockQ6_K)), sizeof block);
      const auto at = static_cast<std::size_t>(r * per_row + b);
      std::memcpy(&p.ql[at * 128], block.ql, 128);
      std::memcpy(&p.qh[at * 64], block.qh, 64);
      std::memcpy(&p.scales[at * 16], block.scales, 16);
      p.d[at] = block.d;
    }
  }
  return p;
}

DeviceMatrix upload_matrix(const WeightMatrix& w) {
  DeviceMatrix m;
  m.rows = w.rows;
  m.cols = w.cols;
  m.dtype = w.dtype;
  if (w.dtype == DType::Q8_0) {
    const Q8_0Planes p = q8_0_planes(w);
    m.data = DeviceArray<std::byte>(std::as_bytes(std::span<const std::int8_t>(p.quants)));
    m.scales = DeviceArray<std::uint16_t>(std::span<const std::uint16_t>(p.scales));
  } else if (w.dtype == DType::Q6_K) {
    const Q6_KPlanes p = q6_k_planes(w);
    m.data = DeviceArray<std::byte>(std::as_bytes(std::span<const std::uint8_t>(p.ql)));
    m.high = DeviceArray<std::byte>(std::as_bytes(std::span<const std::uint8_t>(p.qh)));
    m.small_scales = DeviceArray<std::byte>(std::as_bytes(std::span<const std::int8_t>(p.scales)));
    m.scales = DeviceArray<std::uint16_t>(std::span<const std::uint16_t>(p.d));
  } else if (w.dtype == DType::F16) {
    std::vector<float> wide(static_cast<std::size_t>(w.rows * w.cols));
    convert_to_f32(w.dtype, w.data, w.rows * w.cols, wide.data());
    m.dtype = DType::F32;
    m.data = DeviceArray<std::byte>(std::as_bytes(std::span<const float>(wide)));
  } else {
    m.data = DeviceArray<std::byte>(std::span<const std::byte>(w.data, w.bytes()));
  }
  return m;
}

}  // namespace helix
