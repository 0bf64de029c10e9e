// What a .cu file writes for a kernel launch and for a block's dynamic shared
// memory, so that the same file also compiles as host C++ for the CUDA emulator
// (cuda_emulator/device_code.h defines both macros first):
//   HELIX_LAUNCH(grid, block, shared_bytes, stream, kernel)(arguments...);
//   HELIX_DYNAMIC_SHARED(float, name);
// The kernel comes last because its template arguments may hold commas.
#pragma once

#if !defined(HELIX_LAUNCH)
#define HELIX_LAUNCH(grid, block, shared, stream, ...) __VA_ARGS__<<<grid, block, shared, stream>>>
#define HELIX_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif
