#include "helix/tokenize/utf8.h"

namespace helix {
namespace {

bool is_continuation(unsigned char byte) { return (byte & 0xC0U) == 0x80U; }

// The number of bytes a sequence starting with `lead` has (0: not a lead byte).
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80U) return 1;
  if (lead >= 0xC2U && lead <= 0xDFU) return 2;
  if (lead >= 0xE0U && lead <= 0xEFU) return 3;
  if (lead >= 0xF0U && lead <= 0xF4U) return 4;
  return 0;
}

// The allowed range of the second byte, which is narrower after E0, ED, F0, F4
// (that is what excludes overlong forms, surrogates and code points > U+10FFFF).
bool second_byte_ok(unsigned char lead, unsigned char second) {
  switch (lead) {
    case 0xE0U: return second >= 0xA0U && second <= 0xBFU;
    case 0xEDU: return second >= 0x80U && second <= 0x9FU;
    case 0xF0U: return second >= 0x90U && second <= 0xBFU;
    case 0xF4U: return second >= 0x80U && second <= 0x8FU;
    default: return is_continuation(second);
  }
}

}  // namespace

Utf8Char decode_utf8_at(std::string_view text, std::size_t pos) {
  Utf8Char result;
  if (pos >= text.size()) return result;
  const auto lead = static_cast<unsigned char>(text[pos]);
  const std::size_t need = sequence_length(lead);
  result.length = 1;
  if (need == 0) return result;
  if (need == 1) {
    result.code_point = lead;
    result.valid = true;
    return result;
  }
  char32_t code_point = lead & (0xFFU >> (need + 1));
  for (std::size_t i = 1; i < need; ++i) {
    if (pos + i >= text.size()) return result;
    const auto byte = static_cast<unsigned char>(text[pos + i]);
    const bool ok = i == 1 ? second_byte_ok(lead, byte) : is_continuation(byte);
    if (!ok) return result;
    code_point = (code_point << 6) | (byte & 0x3FU);
    result.length = i + 1;
  }
  result.code_point = code_point;
  result.valid = true;
  return result;
}

std::size_t complete_utf8_prefix(std::string_view bytes) {
  // Only the last (at most 3) bytes can be the start of an unfinished character.
  const std::size_t n = bytes.size();
  const std::size_t first = n > 3 ? n - 3 : 0;
  for (std::size_t start = first; start < n; ++start) {
    const auto lead = static_cast<unsigned char>(bytes[start]);
    const std::size_t need = sequence_length(lead);
    if (need <= 1 || start + need <= n) continue;
    const Utf8Char ch = decode_utf8_at(bytes, start);
    // An unfinished but so far valid sequence runs to the end of the input.
    if (!ch.valid && start + ch.length == n) return start;
  }
  return n;
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const Utf8Char ch = decode_utf8_at(bytes, pos);
    if (ch.valid) {
      out.append(bytes.substr(pos, ch.length));
    } else {
      out.append(kReplacementCharacter);
    }
    pos += ch.length;
  }
  return out;
}

bool is_valid_utf8(std::string_view bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const Utf8Char ch = decode_utf8_at(bytes, pos);
    if (!ch.valid) return false;
    pos += ch.length;
  }
  return true;
}

void append_utf8(std::string& out, char32_t code_point) {
  const auto byte = [](char32_t bits) { return static_cast<char>(static_cast<unsigned char>(bits)); };
  if (code_point < 0x80) {
    out.push_back(byte(code_point));
  } else if (code_point < 0x800) {
    out.push_back(byte(0xC0 | (code_point >> 6)));
    out.push_back(byte(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(byte(0xE0 | (code_point >> 12)));
    out.push_back(byte(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(byte(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(byte(0xF0 | (code_point >> 18)));
    out.push_back(byte(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(byte(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(byte(0x80 | (code_point & 0x3F)));
  }
}

}  // namespace helix
