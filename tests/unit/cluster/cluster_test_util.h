// Helpers for the cluster tests: capture an Error's message, check that it names
// the expected place, and find a line number in a test file's text.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "helix/core/error.h"
#include "support/error_expectations.h"

namespace helix::test {

// 1-based number of the first line of `text` containing `needle` (0 if none).
inline int line_of(std::string_view text, std::string_view needle) {
  std::size_t at = text.find(needle);
  if (at == std::string_view::npos) return 0;
  int line = 1;
  for (std::size_t i = 0; i < at; ++i) line += text[i] == '\n' ? 1 : 0;
  return line;
}

// `text` with the first occurrence of `from` replaced by `to` (which must exist).
inline std::string replaced(std::string text, std::string_view from, std::string_view to) {
  std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "test setup: '" << from << "' not found";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

}  // namespace helix::test
