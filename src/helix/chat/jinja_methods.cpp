#include "helix/chat/jinja_methods.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include "helix/chat/jinja_operators.h"
#include "helix/chat/jinja_strings.h"
#include "helix/core/error.h"

namespace helix::chat {
namespace {

using K = Value::Kind;

std::optional<std::string> optional_string(const CallArgs& args, std::size_t index, std::string_view name) {
  const Value* v = args.get(index, name);
  if (v == nullptr || v->is_none()) return std::nullopt;
  if (!v->is_string()) fail("argument '{}' must be a string, not {}", name, v->type_name());
  return v->as_string();
}

std::string required_string(const CallArgs& args, std::size_t index, std::string_view name) {
  auto s = optional_string(args, index, name);
  if (!s) fail("missing string argument '{}'", name);
  return *s;
}

std::int64_t optional_int(const CallArgs& args, std::size_t index, std::string_view name, std::int64_t fallback) {
  const Value* v = args.get(index, name);
  if (v == nullptr) return fallback;
  if (v->kind() != K::Int && v->kind() != K::Bool) fail("argument '{}' must be an integer, not {}", name, v->type_name());
  return v->as_int();
}

// startswith/endswith take a string or a tuple of strings.
bool affix_matches(const std::string& s, const Value& affix, bool at_start) {
  if (affix.is_sequence()) {
    return std::any_of(affix.as_list().begin(), affix.as_list().end(),
                       [&](const Value& a) { return affix_matches(s, a, at_start); });
  }
  if (!affix.is_string()) fail("startswith/endswith take a string or a tuple of strings, not {}", affix.type_name());
  const std::string& a = affix.as_string();
  if (a.size() > s.size()) return false;
  return at_start ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
}

Value string_list(const std::vector<std::string>& parts) {
  List out;
  for (const auto& p : parts) out.push_back(Value::string(p));
  return Value::list(std::move(out));
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::string line;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      lines.push_back(line);
      line.clear();
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      line += s[i];
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

template <typename Predicate>
bool all_chars(const std::string& s, Predicate p) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return p(static_cast<unsigned char>(c)); });
}

std::optional<Value> string_method(const std::string& s, const std::string& name, const CallArgs& args) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    return Value::string(py_strip(s, optional_string(args, 0, "chars"), name != "rstrip", name != "lstrip"));
  }
  if (name == "split") {
    return string_list(py_split(s, optional_string(args, 0, "sep"), optional_int(args, 1, "maxsplit", -1)));
  }
  if (name == "splitlines") return string_list(split_lines(s));
  if (name == "startswith" || name == "endswith") {
    const Value* affix = args.get(0, "prefix");
    if (affix == nullptr) fail("{}() takes one argument", name);
    return Value::boolean(affix_matches(s, *affix, name == "startswith"));
  }
  if (name == "upper") return Value::string(py_upper(s));
  if (name == "lower") return Value::string(py_lower(s));
  if (name == "title") return Value::string(py_title(s));
  if (name == "capitalize") return Value::string(py_capitalize(s));
  if (name == "replace") {
    return Value::string(py_replace(s, required_string(args, 0, "old"), required_string(args, 1, "new"),
                                    optional_int(args, 2, "count", -1)));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    const std::string sub = required_string(args, 0, "sub");
    const std::size_t at = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
    if (at == std::string::npos) {
      if (name.find("index") != std::string::npos) fail("substring not found");
      return Value::integer(-1);
    }
    return Value::integer(static_cast<std::int64_t>(code_point_count(std::string_view(s).substr(0, at))));
  }
  if (name == "count") {
    const std::string sub = required_string(args, 0, "sub");
    if (sub.empty()) return Value::integer(static_cast<std::int64_t>(code_point_count(s)) + 1);
    std::int64_t n = 0;
    for (std::size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return Value::integer(n);
  }
  if (name == "join") {
    const Value* items = args.get(0, "iterable");
    if (items == nullptr) fail("join() takes one argument");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(*items)) {
      if (!item.is_string()) fail("sequence item: expected str instance, {} found", item.type_name());
      if (!first) out += s;
      out += item.as_string();
      first = false;
    }
    return Value::string(std::move(out));
  }
  if (name == "format") return Value::string(python_format(s, args));
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string affix = required_string(args, 0, "affix");
    const bool prefix = name == "removeprefix";
    if (!affix_matches(s, Value::string(affix), prefix)) return Value::string(s);
    return Value::string(prefix ? s.substr(affix.size()) : s.substr(0, s.size() - affix.size()));
  }
  if (name == "isdigit" || name == "isnumeric" || name == "isdecimal") {
    return Value::boolean(all_chars(s, [](unsigned char c) { return c >= '0' && c <= '9'; }));
  }
  if (name == "isalpha") return Value::boolean(all_chars(s, [](unsigned char c) { return std::isalpha(c) != 0 || c >= 0x80; }));
  if (name == "isalnum") return Value::boolean(all_chars(s, [](unsigned char c) { return std::isalnum(c) != 0 || c >= 0x80; }));
  if (name == "isspace") return Value::boolean(all_chars(s, [](unsigned char c) { return is_python_space(c); }));
  if (name == "islower") return Value::boolean(py_lower(s) == s && py_upper(s) != s);
  if (name == "isupper") return Value::boolean(py_upper(s) == s && py_lower(s) != s);
  return std::nullopt;
}

bool is_string_method(const std::string& name) {
  static const std::initializer_list<std::string_view> kNames = {
      "strip", "lstrip", "rstrip", "split", "splitlines", "startswith", "endswith", "upper", "lower",
      "title", "capitalize", "replace", "find", "rfind", "index", "rindex", "count", "join", "format",
      "removeprefix", "removesuffix", "isdigit", "isnumeric", "isdecimal", "isalpha", "isalnum", "isspace",
      "islower", "isupper"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

Value dict_method(const Dict& d, const std::string& name, const CallArgs& args) {
  List out;
  if (name == "get") {
    const Value* key = args.get(0, "key");
    if (key == nullptr) fail("get() takes a key");
    const Value* found = key->is_string() ? d.find(key->as_string()) : nullptr;
    if (found != nullptr) return *found;
    const Value* fallback = args.get(1, "default");
    return fallback != nullptr ? *fallback : Value::none();
  }
  for (const auto& [k, v] : d.entries) {
    if (name == "items") out.push_back(Value::tuple({Value::string(k), v}));
    if (name == "keys") out.push_back(Value::string(k));
    if (name == "values") out.push_back(v);
  }
  return Value::list(std::move(out));
}

Value list_method(const List& items, const std::string& name, const CallArgs& args) {
  const Value* x = args.get(0, "value");
  if (x == nullptr) fail("{}() takes one argument", name);
  std::int64_t count = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!equals(items[i], *x)) continue;
    if (name == "index") return Value::integer(static_cast<std::int64_t>(i));
    ++count;
  }
  if (name == "index") fail("{} is not in list", x->repr());
  return Value::integer(count);
}

bool is_mutator(const std::string& name) {
  static const std::initializer_list<std::string_view> kNames = {
      "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

}  // namespace

std::optional<Value> bound_method(const Value& object, const std::string& name) {
  const bool is_dict = object.kind() == K::DictValue;
  if (object.is_string() && is_string_method(name)) {
    return Value::callable(name, [object, name](const CallArgs& args) {
      return *string_method(object.as_string(), name, args);
    });
  }
  if (is_dict && (name == "items" || name == "keys" || name == "values" || name == "get")) {
    return Value::callable(name, [object, name](const CallArgs& args) { return dict_method(object.as_dict(), name, args); });
  }
  if (object.is_sequence() && (name == "index" || name == "count")) {
    return Value::callable(name, [object, name](const CallArgs& args) { return list_method(object.as_list(), name, args); });
  }
  if ((is_dict || object.kind() == K::ListValue) && is_mutator(name)) {
    std::string type = object.type_name();
    return Value::callable(name, [type, name](const CallArgs&) -> Value {
      fail("access to attribute '{}' of '{}' object is unsafe (templates cannot modify values)", name, type);
    });
  }
  return std::nullopt;
}

std::string python_format(const std::string& pattern, const CallArgs& args) {
  std::string out;
  std::size_t next_auto = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') fail("format: single '}}' encountered in format string");
    if (c != '{') {
      out += c;
      continue;
    }
    const std::size_t close = pattern.find('}', i);
    if (close == std::string::npos) fail("format: single '{{' encountered in format string");
    const std::string field = pattern.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos) fail("format: field '{{{}}}' is not supported", field);
    const Value* v = nullptr;
    if (field.empty()) {
      v = next_auto < args.positional.size() ? &args.positional[next_auto++] : nullptr;
    } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      if (field.size() > 6) fail("format: field '{{{}}}' is out of range", field);
      const auto index = static_cast<std::size_t>(std::stoul(field));
      v = index < args.positional.size() ? &args.positional[index] : nullptr;
    } else {
      v = args.get(SIZE_MAX, field);
    }
    if (v == nullptr) fail("format: no argument for field '{{{}}}'", field);
    out += v->to_string();
    i = close;
  }
  return out;
}

}  // namespace helix::chat
