// Element counts of tensor shapes that come from untrusted file headers: every product
// is checked, so an absurd shape is an Error naming it, never a wrapped-around size.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace helix {

// Product of `shape` (1 for {}). Throws Error "<where>: ..." for a negative dimension or
// a product beyond int64.
std::int64_t shape_elements(std::span<const std::int64_t> shape, std::string_view where);

// "[4096, 11008]", for messages.
std::string shape_text(std::span<const std::int64_t> shape);

}  // namespace helix
