// Per-thread scratch memory for the kernels (internal to the kernels module).
//
// Why thread-local and grow-only: matmul converts weight tiles to f32 on every
// thread of the pool, on every call. Each thread keeps its own buffers, 64-byte
// aligned, which grow to the largest size asked for and are then reused, so after
// the first call of a shape nothing is allocated. They are freed when the thread ends.
#pragma once

#include <cstddef>

namespace helix::kernels_detail {

// Buffers a thread may hold at once, one per purpose.
enum class ScratchSlot { WeightTile, WeightRow, Activations, ActivationTiles, Count };

// At least `floats` floats, 64-byte aligned, owned by the calling thread; contents
// are unspecified. Valid until the same thread asks for the same slot again.
float* thread_scratch(ScratchSlot slot, std::size_t floats);

}  // namespace helix::kernels_detail
