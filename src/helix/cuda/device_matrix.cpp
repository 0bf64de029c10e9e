#include "helix/cuda/device_matrix.h"

#include <span>
#include <vector>

#include "helix/core/error.h"

namespace helix {

DeviceMatrix upload_matrix(const WeightMatrix& w) {
  if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16) {
    fail("cuda: {} weights are not read on the GPU yet (F32, F16 and BF16 are)", dtype_name(w.dtype));
  }
  DeviceMatrix m;
  m.rows = w.rows;
  m.cols = w.cols;
  if (w.dtype == DType::F16) {
    std::vector<float> wide(static_cast<std::size_t>(w.rows * w.cols));
    convert_to_f32(w.dtype, w.data, w.rows * w.cols, wide.data());
    m.dtype = DType::F32;
    m.data = DeviceArray<std::byte>(std::as_bytes(std::span<const float>(wide)));
    return m;
  }
  m.dtype = w.dtype;
  m.data = DeviceArray<std::byte>(std::span<const std::byte>(w.data, w.bytes()));
  return m;
}

}  // namespace helix
