#include "helix/kernels/scratch.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <new>

namespace helix::kernels_detail {
namespace {

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

struct Buffer {
  std::unique_ptr<float, FreeDeleter> data;
  std::size_t floats = 0;
};

constexpr std::size_t kAlignment = 64;

}  // namespace

float* thread_scratch(ScratchSlot slot, std::size_t floats) {
  thread_local std::array<Buffer, static_cast<std::size_t>(ScratchSlot::Count)> buffers;
  Buffer& b = buffers[static_cast<std::size_t>(slot)];
  if (floats > b.floats || !b.data) {
    // Round up to whole cache lines (aligned_alloc needs a multiple of the alignment).
    std::size_t bytes = (std::max<std::size_t>(floats, 1) * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
    b.data.reset();  // free first: the old contents are not kept
    b.data.reset(static_cast<float*>(std::aligned_alloc(kAlignment, bytes)));
    if (!b.data) throw std::bad_alloc();
    b.floats = bytes / sizeof(float);
  }
  return b.data.get();
}

}  // namespace helix::kernels_detail
