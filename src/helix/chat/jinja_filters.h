// jinja2's built-in filters (`value | name(args)`) and tests (`value is name`)
// that chat templates use, with jinja2's semantics: e.g. `sort`, `unique` and
// `dictsort` ignore case by default, `first` of an empty list is Undefined,
// `int('3.7')` is 3 and `int('x')` is 0.
#pragma once

#include <cstddef>
#include <string>

#include "helix/chat/jinja_json.h"
#include "helix/chat/jinja_value.h"

namespace helix::chat {

struct FilterSettings {
  JsonFormat json;                  // what `tojson` produces without arguments
  std::size_t max_size = 16 << 20;  // bound on strings a filter builds
};

bool is_filter(const std::string& name);
bool is_test(const std::string& name);

// Throws Error for an unknown filter or a bad argument.
Value apply_filter(const std::string& name, const Value& operand, const CallArgs& args, const FilterSettings& settings);
bool apply_test(const std::string& name, const Value& operand, const CallArgs& args);

}  // namespace helix::chat
