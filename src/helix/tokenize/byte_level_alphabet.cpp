#include "helix/tokenize/byte_level_alphabet.h"

#include <array>

#include "helix/tokenize/utf8.h"

namespace helix {
namespace {

// One past the largest character of the alphabet (U+0100 + the 68 shifted bytes).
constexpr std::size_t kAlphabetEnd = 0x100 + 68;

bool maps_to_itself(unsigned byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

struct Alphabet {
  std::array<char32_t, 256> char_of_byte{};
  std::array<std::string, 256> utf8_of_byte{};
  std::array<int, kAlphabetEnd> byte_of_char{};  // -1: not in the alphabet
  Alphabet() {
    byte_of_char.fill(-1);
    char32_t next_shifted = 0x100;
    for (unsigned byte = 0; byte < 256; ++byte) {
      char_of_byte[byte] = maps_to_itself(byte) ? static_cast<char32_t>(byte) : next_shifted++;
      append_utf8(utf8_of_byte[byte], char_of_byte[byte]);
      byte_of_char[char_of_byte[byte]] = static_cast<int>(byte);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet table;
  return table;
}

}  // namespace

char32_t byte_level_char(std::uint8_t byte) { return alphabet().char_of_byte[byte]; }

std::optional<std::uint8_t> byte_level_byte(char32_t character) {
  if (character >= kAlphabetEnd) return std::nullopt;
  const int byte = alphabet().byte_of_char[character];
  if (byte < 0) return std::nullopt;
  return static_cast<std::uint8_t>(byte);
}

std::string to_byte_level(std::string_view raw) {
  const Alphabet& table = alphabet();
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) out += table.utf8_of_byte[static_cast<unsigned char>(c)];
  return out;
}

std::optional<std::string> from_byte_level(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const Utf8Char ch = decode_utf8_at(text, pos);
    if (!ch.valid) return std::nullopt;
    const std::optional<std::uint8_t> byte = byte_level_byte(ch.code_point);
    if (!byte) return std::nullopt;
    out.push_back(static_cast<char>(*byte));
    pos += ch.length;
  }
  return out;
}

}  // namespace helix
