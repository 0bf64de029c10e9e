// UTF-8 helpers shared by the tokenizers and the stream decoder. Token bytes are
// arbitrary (a byte-level token may hold half of a character), so the places that
// hand text to people need to know where a character is still incomplete and how
// to make a byte string valid UTF-8 (each maximal invalid subpart -> U+FFFD, as
// the Unicode standard recommends).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace helix {

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// One decoded code point, or the length of the invalid subpart found instead.
struct Utf8Char {
  char32_t code_point = 0;  // valid only when `valid`
  std::size_t length = 0;   // bytes consumed (>= 1 when any input is left)
  bool valid = false;
};

// Decodes the character at `pos` strictly (no overlong forms, no surrogates,
// nothing above U+10FFFF). An invalid sequence consumes its maximal subpart.
Utf8Char decode_utf8_at(std::string_view text, std::size_t pos);

// The length of the longest prefix of `bytes` that does not end in the beginning
// of a character that more bytes could still complete.
std::size_t complete_utf8_prefix(std::string_view bytes);

// `bytes` with every invalid subpart replaced by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

bool is_valid_utf8(std::string_view bytes);

void append_utf8(std::string& out, char32_t code_point);

}  // namespace helix
