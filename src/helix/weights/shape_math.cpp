#include "helix/weights/shape_math.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "helix/core/error.h"

namespace helix {

std::int64_t shape_elements(std::span<const std::int64_t> shape, std::string_view where) {
  std::int64_t product = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) fail("{}: shape {} has a negative dimension {} at index {}", where, shape_text(shape), shape[i], i);
    if (__builtin_mul_overflow(product, shape[i], &product)) {
      fail("{}: shape {} has more elements than fit in 64 bits", where, shape_text(shape));
    }
  }
  return product;
}

std::string shape_text(std::span<const std::int64_t> shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace helix
