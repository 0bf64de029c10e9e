// The GPT-2 "bytes to unicode" alphabet of byte-level BPE: every byte value is
// written as one printable character so that vocabularies can be stored as text.
// Printable bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for
// themselves; the other 68 bytes map, in increasing byte order, to U+0100,
// U+0101, ... (so the space 0x20 is U+0120 'Ġ' and '\n' is U+010A 'Ċ').
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace helix {

char32_t byte_level_char(std::uint8_t byte);
// The byte a character of the alphabet stands for; nullopt if it is not one.
std::optional<std::uint8_t> byte_level_byte(char32_t character);

// Raw bytes -> their byte-level text (UTF-8).
std::string to_byte_level(std::string_view raw);
// Byte-level text -> raw bytes; nullopt if it is not valid UTF-8 made of
// alphabet characters only.
std::optional<std::string> from_byte_level(std::string_view text);

}  // namespace helix
