// Small helpers for the line-oriented text files helix reads (profile CSVs,
// workload CSVs): trimming and taking one line at a time, with CRLF accepted.
#pragma once

#include <string_view>

namespace helix {

// `s` without leading spaces/tabs and trailing spaces/tabs/CR.
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Removes the first line (up to and including '\n') from `text` and returns it
// trimmed. Call while !text.empty().
inline std::string_view take_line(std::string_view& text) {
  const auto newline = text.find('\n');
  const std::string_view line = trim(text.substr(0, newline));
  text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  return line;
}

}  // namespace helix
