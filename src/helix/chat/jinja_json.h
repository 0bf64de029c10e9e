// JSON in and out of template values. Output follows Python's json.dumps
// byte for byte (", " and ": " separators, "," with an indent, floats as repr,
// Infinity/NaN), in the two flavours a template can meet:
//  - jinja2's own `tojson`: keys sorted, non-ASCII escaped, and < > & '
//    escaped to \u003c etc. so the result is safe inside HTML;
//  - transformers' replacement `tojson` for chat templates: json.dumps with
//    ensure_ascii=False, keys in insertion order, nothing HTML-escaped.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "helix/chat/jinja_value.h"

namespace helix::chat {

struct JsonFormat {
  std::optional<int> indent;  // pretty-print with this many spaces per level
  bool sort_keys = false;
  bool ensure_ascii = false;
  bool html_safe = false;
  std::string item_separator = ", ";  // json.dumps' defaults; "," when indented
  std::string key_separator = ": ";
};

// Throws Error for what JSON cannot hold (Undefined, callables, namespaces).
std::string to_json(const Value& value, const JsonFormat& format);

// JSON objects become dicts in their key order (hence ordered_json).
Value from_json(const nlohmann::ordered_json& json);

}  // namespace helix::chat
