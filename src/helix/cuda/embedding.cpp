#include "helix/cuda/embedding.h"

#include <limits>

#include "helix/core/error.h"
#include "helix/cuda/conversion_kernels.h"

namespace helix::cuda {

void embed_rows(const DeviceMatrix& table, const std::int32_t* ids, std::int64_t count, float* out) {
  if (count < 0) fail("cuda embed_rows: count must be >= 0, got {}", count);
  if (count == 0) return;
  if (count > std::numeric_limits<int>::max()) fail("cuda embed_rows: {} tokens exceed one launch's grid", count);
  if (ids == nullptr || out == nullptr) fail("cuda embed_rows: ids and out must be device pointers, not null");
  if (table.dtype == DType::F16) fail("cuda embed_rows: an F16 table on the device (the upload widens F16 to F32)");
  cuda_detail::launch_embed_rows(view_of(table), ids, count, out);
}

}  // namespace helix::cuda
