// The Python methods templates call on values: str (strip, split, startswith,
// replace, format, ...), dict (items, keys, values, get) and list (index,
// count). Methods that would modify a value exist but fail when called, as in
// jinja2's ImmutableSandboxedEnvironment, which transformers uses.
#pragma once

#include <optional>
#include <string>

#include "helix/chat/jinja_value.h"

namespace helix::chat {

// `object.name` bound to `object`, or nothing when the type has no such method.
std::optional<Value> bound_method(const Value& object, const std::string& name);

// Python's str.format: "{}", "{0}", "{name}", "{{" and "}}"; format specs other
// than the empty one are refused.
std::string python_format(const std::string& pattern, const CallArgs& args);

}  // namespace helix::chat
