// The first stage's embedding lookup on the GPU: token rows of a table (a
// DeviceMatrix: F32, or BF16 or a block type widened here) as f32, the bits of the
// CPU's convert_to_f32 (bf16 is exact in f32; the block types' arithmetic is the
// CPU's own, weights_values.h).
#pragma once

#include <cstdint>

#include "helix/cuda/device_matrix.h"

namespace helix::cuda {

// out[t * table.cols ...] = row ids[t] of the table, for t < count; ids and out in
// device memory. The ids must be rows of the table: the engine checks them on the
// host before a step runs (a device-side check would cost a copy back per step).
void embed_rows(const DeviceMatrix& table, const std::int32_t* ids, std::int64_t count, float* out);

}  // namespace helix::cuda
