#include "helix/cuda/device_matrix.h"

#include <span>

#include "helix/core/error.h"

namespace helix {

DeviceMatrix upload_matrix(const WeightMatrix& w) {
  if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16) {
    fail("cuda: {} weights are not read on the GPU yet (F32, F16 and BF16 are)", dtype_name(w.dtype));
  }
  DeviceMatrix m;
  m.dtype = w.dtype;
  m.rows = w.rows;
  m.cols = w.cols;
  m.data = DeviceArray<std::byte>(std::span<const std::byte>(w.data, w.bytes()));
  return m;
}

}  // namespace helix
