// Python's operators on template values, as jinja2 applies them: arithmetic,
// comparison and membership, attribute and item access (with jinja2's rule that
// a missing attribute or key is Undefined rather than an error), slicing,
// iteration and len().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "helix/chat/jinja_value.h"

namespace helix::chat {

// + - * / // % ** ~. `max_size` bounds what `'a' * n` may build.
Value binary_operation(std::string_view op, const Value& a, const Value& b, std::size_t max_size);
// == != < <= > >= in, not in.
bool compare(std::string_view op, const Value& a, const Value& b);
// Python's `item in container`.
bool contains(const Value& container, const Value& item);

// `object.name`: a method, then a dict key or namespace attribute, else Undefined.
Value get_attribute(const Value& object, const std::string& name);
// `object[key]`: an element or dict value, then a method, else Undefined.
Value get_item(const Value& object, const Value& key);
Value get_slice(const Value& object, std::optional<std::int64_t> start, std::optional<std::int64_t> stop,
                std::optional<std::int64_t> step);

// The items a for loop visits: list and tuple elements, the code points of a
// string, the keys of a dict, nothing for Undefined.
List iterate(const Value& v);
std::int64_t length_of(const Value& v);

// Throws the UndefinedError jinja2 raises when an Undefined is used.
[[noreturn]] void fail_undefined(const Value& undefined);

}  // namespace helix::chat
