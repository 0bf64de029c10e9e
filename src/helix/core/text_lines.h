// Small helpers for the line-oriented text files helix reads (profile CSVs,
// workload CSVs, /proc and cgroup files): reading one, trimming, taking one line
// at a time (CRLF accepted), finding a keyed line's value.
#pragma once

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
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

// The value after `key` and `separator` on the first line that starts with them
// ("MemTotal: 5 kB" with ':', "inactive_file 5" with ' '), trimmed; nullopt when
// no line does.
inline std::optional<std::string_view> keyed_value(std::string_view text, std::string_view key, char separator) {
  while (!text.empty()) {
    const std::string_view line = take_line(text);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == separator) {
      return trim(line.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

// A whole (small) file's text; nullopt when it cannot be opened.
inline std::optional<std::string> read_text_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace helix
