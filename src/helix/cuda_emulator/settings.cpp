#include "helix/cuda_emulator/settings.h"

#include <cstdio>
#include <cstdlib>

namespace helix::cuda_emulator {

std::uint64_t positive_setting(const char* name, std::uint64_t unset, const char* expected) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return unset;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (end == v || *end != '\0' || n == 0) {
    std::fprintf(stderr, "%s=%s: expected a positive number of %s\n", name, v, expected);
    std::abort();
  }
  return static_cast<std::uint64_t>(n);
}

}  // namespace helix::cuda_emulator
