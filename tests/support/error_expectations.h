// Checking helix::Error messages in tests: capture the message a call throws, and
// expect it to name the right places.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "helix/core/error.h"

namespace helix::test {

// The message of the Error `f` throws, or "<no error>".
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

// Expects every part to occur in `message`.
inline void expect_contains(const std::string& message, std::initializer_list<std::string_view> parts) {
  for (auto part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  }
}

}  // namespace helix::test
