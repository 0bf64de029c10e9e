#include "helix/core/error.h"

namespace helix {

std::string with_context(std::string_view where, std::string_view message) {
  if (where.empty()) return std::string(message);
  return std::string(where) + ": " + std::string(message);
}

}  // namespace helix
