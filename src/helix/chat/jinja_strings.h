// Python str semantics on UTF-8 text: templates index, slice, count, strip and
// split strings by code point, as jinja2 does on Python strings. Bytes that are
// not valid UTF-8 decode to lone surrogates (Python's "surrogateescape") so that
// they survive a round trip unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace helix::chat {

std::u32string decode_utf8(std::string_view s);
std::string encode_utf8(std::u32string_view s);
void append_utf8(std::string& out, char32_t c);
std::size_t code_point_count(std::string_view s);

// Python's str.isspace() for one code point.
bool is_python_space(char32_t c);

// str.strip / lstrip / rstrip; `chars` absent means whitespace.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split(sep, maxsplit); no `sep` splits on runs of whitespace.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, std::int64_t maxsplit);
// str.replace(old, new, count); count < 0 means all.
std::string py_replace(std::string_view s, std::string_view old, std::string_view replacement, std::int64_t count);
// Case mapping covers ASCII only (non-ASCII letters are left as they are).
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_capitalize(std::string_view s);
std::string py_title(std::string_view s);  // str.title()

// The positions a Python slice [start:stop:step] selects from a sequence of
// `length` items. Throws Error when step is 0.
std::vector<std::size_t> slice_indices(std::size_t length, std::optional<std::int64_t> start,
                                       std::optional<std::int64_t> stop, std::optional<std::int64_t> step);

}  // namespace helix::chat
