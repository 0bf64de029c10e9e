// One 16 x 8 x 16 product on the tensor cores through tensor_core_mma.h's operand
// registers, on the current device: what pins those registers' places (the PTX
// ISA's, on which the tensor-core attention relies) to a real GPU's mma.m16n8k16,
// and on the CUDA emulator to its own. d = a · b + c, all row-major device arrays of
// floats: a 16 x 16 and b 16 x 8, each value rounded to f16 on the way in; c and d
// 16 x 8. Compute capability 8.0 on (below, the kernel traps).
#pragma once

namespace helix::cuda {

void tensor_core_tile_product(const float* a, const float* b, const float* c, float* d);

}  // namespace helix::cuda
