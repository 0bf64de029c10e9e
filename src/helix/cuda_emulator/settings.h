// The emulator's settings, read from the environment (HELIX_CUDA_EMULATOR_*), for
// the files that implement the runtime.
#pragma once

#include <cstdint>

namespace helix::cuda_emulator {

// The positive whole number in environment variable `name`, or `unset` where it is
// unset or empty. Anything else stops the process, naming the variable and
// `expected` (what the number counts): a setting the emulator cannot follow would
// make a test pass or fail for the wrong reason.
std::uint64_t positive_setting(const char* name, std::uint64_t unset, const char* expected);

}  // namespace helix::cuda_emulator
