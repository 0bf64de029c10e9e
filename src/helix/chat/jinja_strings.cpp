#include "helix/chat/jinja_strings.h"

#include "helix/core/error.h"

namespace helix::chat {

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int extra = b0 < 0x80 ? 0 : (b0 >> 5) == 0x6 ? 1 : (b0 >> 4) == 0xE ? 2 : (b0 >> 3) == 0x1E ? 3 : -1;
    char32_t code = extra == 0 ? b0 : extra == 1 ? (b0 & 0x1F) : extra == 2 ? (b0 & 0x0F) : (b0 & 0x07);
    bool ok = extra >= 0 && i + static_cast<std::size_t>(extra) < s.size();
    for (int k = 1; ok && k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((b >> 6) != 0x2) ok = false;
      code = (code << 6) | (b & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (ok && (code < kMin[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))) ok = false;
    if (!ok) {
      out += static_cast<char32_t>(0xDC00 + b0);  // surrogateescape
      ++i;
      continue;
    }
    out += code;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c >= 0xDC80 && c <= 0xDCFF) {
    out += static_cast<char>(c - 0xDC00);  // an escaped invalid byte goes back as it was
  } else if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string encode_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

std::size_t code_point_count(std::string_view s) {
  bool ascii = true;
  for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  return ascii ? s.size() : decode_utf8(s).size();
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  const std::u32string text = decode_utf8(s);
  const std::u32string set = chars ? decode_utf8(*chars) : std::u32string();
  auto strip = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : is_python_space(c); };
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (left && begin < end && strip(text[begin])) ++begin;
  while (right && end > begin && strip(text[end - 1])) --end;
  return encode_utf8(std::u32string_view(text).substr(begin, end - begin));
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, std::int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty()) fail("empty separator");
    std::size_t start = 0;
    while (maxsplit < 0 || static_cast<std::int64_t>(parts.size()) < maxsplit) {
      const std::size_t at = s.find(*sep, start);
      if (at == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, at - start));
      start = at + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  // Runs of whitespace separate; leading and trailing whitespace yields nothing.
  const std::u32string text = decode_utf8(s);
  std::size_t i = 0;
  while (true) {
    while (i < text.size() && is_python_space(text[i])) ++i;
    if (i >= text.size()) break;
    if (maxsplit >= 0 && static_cast<std::int64_t>(parts.size()) == maxsplit) {
      std::size_t end = text.size();
      while (end > i && is_python_space(text[end - 1])) --end;
      parts.push_back(encode_utf8(std::u32string_view(text).substr(i, end - i)));
      break;
    }
    const std::size_t start = i;
    while (i < text.size() && !is_python_space(text[i])) ++i;
    parts.push_back(encode_utf8(std::u32string_view(text).substr(start, i - start)));
  }
  return parts;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view replacement, std::int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts the replacement before every code point and at the end.
    const std::u32string text = decode_utf8(s);
    std::int64_t done = 0;
    for (char32_t c : text) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      append_utf8(out, c);
    }
    if (count < 0 || done < count) out += replacement;
    return out;
  }
  std::size_t start = 0;
  std::int64_t done = 0;
  while (count < 0 || done < count) {
    const std::size_t at = s.find(old, start);
    if (at == std::string_view::npos) break;
    out += s.substr(start, at - start);
    out += replacement;
    start = at + old.size();
    ++done;
  }
  out += s.substr(start);
  return out;
}

namespace {

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
char to_upper(char c) { return is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c; }
char to_lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string py_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_upper(c);
  return out;
}

std::string py_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out = py_lower(s);
  if (!out.empty()) out[0] = to_upper(out[0]);
  return out;
}

std::string py_title(std::string_view s) {
  // A letter after a letter is lowered, any other letter raised. Non-ASCII
  // bytes count as letters, so a word keeps going through them.
  std::string out(s);
  bool previous_cased = false;
  for (char& c : out) {
    const bool cased = is_upper(c) || is_lower(c) || static_cast<unsigned char>(c) >= 0x80;
    if (is_upper(c) || is_lower(c)) c = previous_cased ? to_lower(c) : to_upper(c);
    previous_cased = cased;
  }
  return out;
}

std::vector<std::size_t> slice_indices(std::size_t length, std::optional<std::int64_t> start,
                                       std::optional<std::int64_t> stop, std::optional<std::int64_t> step) {
  const std::int64_t n = static_cast<std::int64_t>(length);
  const std::int64_t by = step.value_or(1);
  if (by == 0) fail("slice step cannot be zero");
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<std::int64_t> v, std::int64_t if_absent) {
    if (!v) return if_absent;
    std::int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = by < 0 ? -1 : 0;
    } else if (x >= n) {
      x = by < 0 ? n - 1 : n;
    }
    return x;
  };
  const std::int64_t from = adjust(start, by < 0 ? n - 1 : 0);
  const std::int64_t to = adjust(stop, by < 0 ? -1 : n);
  std::vector<std::size_t> out;
  for (std::int64_t i = from; by > 0 ? i < to : i > to; i += by) out.push_back(static_cast<std::size_t>(i));
  return out;
}

}  // namespace helix::chat
