#include "helix/cuda/device_matrix.h"

#include <cstring>
#include <span>

#include "helix/core/error.h"

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
  const WeightsKind kind = m.dtype == DType::Q8_0   ? WeightsKind::kQ8_0
                           : m.dtype == DType::BF16 ? WeightsKind::kBf16
                                                    : WeightsKind::kF32;
  return {kind, m.data.data(), m.scales.data(), m.rows, m.cols};
}

DeviceMatrix upload_matrix(const WeightMatrix& w) {
  if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16 && w.dtype != DType::Q8_0) {
    fail("cuda: {} weights are not read on the GPU yet (F32, F16, BF16 and Q8_0 are)", dtype_name(w.dtype));
  }
  DeviceMatrix m;
  m.rows = w.rows;
  m.cols = w.cols;
  m.dtype = w.dtype;
  if (w.dtype == DType::Q8_0) {
    const Q8_0Planes p = q8_0_planes(w);
    m.data = DeviceArray<std::byte>(std::as_bytes(std::span<const std::int8_t>(p.quants)));
    m.scales = DeviceArray<std::uint16_t>(std::span<const std::uint16_t>(p.scales));
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
