#include "helix/chat/jinja_filters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>

#include "helix/chat/jinja_operators.h"
#include "helix/chat/jinja_strings.h"
#include "helix/core/error.h"

namespace helix::chat {
namespace {

using K = Value::Kind;

const std::initializer_list<std::string_view> kFilters = {
    "trim", "length", "count", "tojson", "upper", "lower", "capitalize", "title", "first", "last", "join",
    "default", "d", "string", "int", "float", "list", "items", "replace", "selectattr", "rejectattr", "select",
    "reject", "map", "round", "abs", "unique", "safe", "escape", "e", "forceescape", "indent", "sum", "min",
    "max", "sort", "reverse", "dictsort", "attr", "format", "wordcount"};

bool flag(const CallArgs& args, std::size_t index, std::string_view name, bool fallback) {
  const Value* v = args.get(index, name);
  return v == nullptr ? fallback : v->truthy();
}

std::optional<std::string> string_arg(const CallArgs& args, std::size_t index, std::string_view name) {
  const Value* v = args.get(index, name);
  if (v == nullptr || v->is_none()) return std::nullopt;
  return v->to_string();
}

// jinja2's attribute paths: "a.b.0" looks up a, then b, then index 0.
Value lookup_path(const Value& item, const std::string& path) {
  Value v = item;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t dot = std::min(path.find('.', start), path.size());
    const std::string part = path.substr(start, dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = numeric ? get_item(v, Value::integer(std::atoll(part.c_str()))) : get_item(v, Value::string(part));
    start = dot + 1;
  }
  return v;
}

// Sorting and uniqueness ignore case unless asked not to (jinja2's ignore_case).
Value sort_key(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value::string(py_lower(v.as_string())) : v;
}

CallArgs shifted(const CallArgs& args, std::size_t from) {
  CallArgs rest;
  for (std::size_t i = from; i < args.positional.size(); ++i) rest.positional.push_back(args.positional[i]);
  rest.keyword = args.keyword;
  return rest;
}

// select/reject/selectattr/rejectattr.
Value select(const std::string& name, const Value& seq, const CallArgs& args) {
  const bool by_attribute = name.find("attr") != std::string::npos;
  const bool keep = name.rfind("select", 0) == 0;
  std::string attribute;
  std::size_t next = 0;
  if (by_attribute) {
    auto a = string_arg(args, 0, "attribute");
    if (!a) fail("{} needs an attribute name", name);
    attribute = *a;
    next = 1;
  }
  std::optional<std::string> test = string_arg(args, next, "test");
  const CallArgs test_args = shifted(args, next + 1);
  List out;
  for (const Value& item : iterate(seq)) {
    const Value subject = by_attribute ? lookup_path(item, attribute) : item;
    const bool passes = test ? apply_test(*test, subject, test_args) : subject.truthy();
    if (passes == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value map(const Value& seq, const CallArgs& args, const FilterSettings& settings) {
  List out;
  if (auto attribute = string_arg(args, SIZE_MAX, "attribute")) {
    const Value* fallback = args.get(SIZE_MAX, "default");
    for (const Value& item : iterate(seq)) {
      Value v = lookup_path(item, *attribute);
      out.push_back(v.is_undefined() && fallback != nullptr ? *fallback : v);
    }
    return Value::list(std::move(out));
  }
  auto filter = string_arg(args, 0, "filter");
  if (!filter) fail("map needs a filter name or attribute=");
  const CallArgs rest = shifted(args, 1);
  for (const Value& item : iterate(seq)) out.push_back(apply_filter(*filter, item, rest, settings));
  return Value::list(std::move(out));
}

Value sorted(const Value& seq, const CallArgs& args) {
  const bool reverse = flag(args, 0, "reverse", false);
  const bool case_sensitive = flag(args, 1, "case_sensitive", false);
  const auto attribute = string_arg(args, 2, "attribute");
  List items = iterate(seq);
  auto key = [&](const Value& v) { return sort_key(attribute ? lookup_path(v, *attribute) : v, case_sensitive); };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? less_than(key(b), key(a)) : less_than(key(a), key(b));
  });
  return Value::list(std::move(items));
}

Value unique(const Value& seq, const CallArgs& args) {
  const bool case_sensitive = flag(args, 0, "case_sensitive", false);
  const auto attribute = string_arg(args, 1, "attribute");
  List seen;
  List out;
  for (const Value& item : iterate(seq)) {
    Value key = sort_key(attribute ? lookup_path(item, *attribute) : item, case_sensitive);
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) continue;
    seen.push_back(std::move(key));
    out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value dictsort(const Value& d, const CallArgs& args) {
  if (!d.is_mapping()) fail("dictsort needs a dict, not {}", d.type_name());
  const bool case_sensitive = flag(args, 0, "case_sensitive", false);
  const bool by_value = string_arg(args, 1, "by").value_or("key") == "value";
  const bool reverse = flag(args, 2, "reverse", false);
  List items;
  for (const auto& [k, v] : d.as_dict().entries) items.push_back(Value::tuple({Value::string(k), v}));
  const std::size_t at = by_value ? 1 : 0;
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const Value x = sort_key(a.as_list()[at], case_sensitive);
    const Value y = sort_key(b.as_list()[at], case_sensitive);
    return reverse ? less_than(y, x) : less_than(x, y);
  });
  return Value::list(std::move(items));
}

Value to_int(const Value& v, const CallArgs& args) {
  const Value* fallback = args.get(0, "default");
  const Value def = fallback != nullptr ? *fallback : Value::integer(0);
  const int base = static_cast<int>(args.get(1, "base") != nullptr ? args.get(1, "base")->as_int() : 10);
  if (v.kind() == K::Int || v.kind() == K::Bool) return Value::integer(v.as_int());
  if (v.kind() == K::Float) return std::isfinite(v.as_double()) ? Value::integer(static_cast<std::int64_t>(v.as_double())) : def;
  if (!v.is_string()) return def;
  std::string s = py_strip(v.as_string(), std::nullopt, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  char* end = nullptr;
  const long long i = std::strtoll(s.c_str(), &end, base);
  if (!s.empty() && end == s.c_str() + s.size()) return Value::integer(i);
  const double d = std::strtod(s.c_str(), &end);  // jinja2 falls back to int(float(value))
  if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d)) return Value::integer(static_cast<std::int64_t>(d));
  return def;
}

Value to_float(const Value& v, const CallArgs& args) {
  const Value* fallback = args.get(0, "default");
  const Value def = fallback != nullptr ? *fallback : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_double());
  if (!v.is_string()) return def;
  const std::string s = py_strip(v.as_string(), std::nullopt, true, true);
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() ? Value::number(d) : def;
}

Value round_filter(const Value& v, const CallArgs& args) {
  const std::int64_t precision = args.get(0, "precision") != nullptr ? args.get(0, "precision")->as_int() : 0;
  const std::string method = string_arg(args, 1, "method").value_or("common");
  if (!v.is_number()) fail("round needs a number, not {}", v.type_name());
  if (method == "common" && precision > 0 && precision < 300) {
    // Python rounds the exact binary value half to even, as printf does.
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), v.as_double());
    return Value::number(std::strtod(buf, nullptr));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);  // common: half to even, as Python's round
  return Value::number(r / scale);
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string indent(const std::string& text, const CallArgs& args) {
  const Value* width = args.get(0, "width");
  const std::string pad = width == nullptr ? "    " : width->is_string() ? width->as_string() : std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, width->as_int())), ' ');
  const bool first = flag(args, 1, "first", false);
  const bool blank = flag(args, 2, "blank", false);
  std::vector<std::string> lines;
  std::size_t start = 0;
  const std::string s = text + "\n";
  for (std::size_t at = s.find('\n'); at != std::string::npos; at = s.find('\n', start)) {
    lines.push_back(s.substr(start, at - start));
    start = at + 1;
  }
  std::string out = lines.empty() ? "" : lines[0];
  for (std::size_t i = 1; i < lines.size(); ++i) out += "\n" + (blank || !lines[i].empty() ? pad + lines[i] : lines[i]);
  return first ? pad + out : out;
}

// jinja2's title filter: capitalise after '-', whitespace and opening brackets.
std::string jinja_title(const std::string& s) {
  std::string out = s;
  bool word_start = true;
  for (char& c : out) {
    const bool separator = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_python_space(static_cast<unsigned char>(c));
    if (!separator) c = word_start ? py_upper(std::string(1, c))[0] : py_lower(std::string(1, c))[0];
    word_start = separator;
  }
  return out;
}

// printf-style `"%s" | format(x)`: %s, %d, %i, %r and %%.
std::string percent_format(const std::string& pattern, const CallArgs& args) {
  std::string out;
  std::size_t next = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 >= pattern.size()) {
      out += pattern[i];
      continue;
    }
    const char spec = pattern[++i];
    if (spec == '%') {
      out += '%';
      continue;
    }
    if (next >= args.positional.size()) fail("format: not enough arguments for format string");
    const Value& v = args.positional[next++];
    if (spec == 's') out += v.to_string();
    else if (spec == 'r') out += v.repr();
    else if ((spec == 'd' || spec == 'i') && v.is_number()) out += std::to_string(static_cast<std::int64_t>(v.as_double()));
    else fail("format: conversion '%{}' is not supported", std::string(1, spec));
  }
  return out;
}

Value json_filter(const Value& v, const CallArgs& args, const FilterSettings& settings) {
  JsonFormat f = settings.json;
  if (const Value* indent_arg = args.get(0, "indent"); indent_arg != nullptr && !indent_arg->is_none()) {
    f.indent = static_cast<int>(indent_arg->as_int());
    f.item_separator = ",";
  }
  if (const Value* a = args.get(SIZE_MAX, "ensure_ascii")) f.ensure_ascii = a->truthy();
  if (const Value* a = args.get(SIZE_MAX, "sort_keys")) f.sort_keys = a->truthy();
  if (const Value* a = args.get(SIZE_MAX, "separators"); a != nullptr && a->is_sequence() && a->as_list().size() == 2) {
    f.item_separator = a->as_list()[0].to_string();
    f.key_separator = a->as_list()[1].to_string();
  }
  return Value::string(to_json(v, f));
}

Value sum(const Value& seq, const CallArgs& args, const FilterSettings& settings) {
  const auto attribute = string_arg(args, 0, "attribute");
  const Value* start = args.get(1, "start");
  Value total = start != nullptr ? *start : Value::integer(0);
  for (const Value& item : iterate(seq)) {
    total = binary_operation("+", total, attribute ? lookup_path(item, *attribute) : item, settings.max_size);
  }
  return total;
}

Value extreme(const Value& seq, const CallArgs& args, bool want_max) {
  const bool case_sensitive = flag(args, 0, "case_sensitive", false);
  const auto attribute = string_arg(args, 1, "attribute");
  Value best;
  for (const Value& item : iterate(seq)) {
    if (best.is_undefined()) {
      best = item;
      continue;
    }
    const Value a = sort_key(attribute ? lookup_path(item, *attribute) : item, case_sensitive);
    const Value b = sort_key(attribute ? lookup_path(best, *attribute) : best, case_sensitive);
    if (want_max ? less_than(b, a) : less_than(a, b)) best = item;
  }
  return best.is_undefined() ? Value::undefined("No aggregated item, sequence was empty.") : best;
}

}  // namespace

bool is_filter(const std::string& name) { return std::find(kFilters.begin(), kFilters.end(), name) != kFilters.end(); }

Value apply_filter(const std::string& name, const Value& v, const CallArgs& args, const FilterSettings& settings) {
  if (name == "safe") return v;
  if (name == "default" || name == "d") {
    const Value* fallback = args.get(0, "default_value");
    const bool replace_falsy = flag(args, 1, "boolean", false);
    if (v.is_undefined() || (replace_falsy && !v.truthy())) return fallback != nullptr ? *fallback : Value::string("");
    return v;
  }
  if (name == "length" || name == "count") return Value::integer(length_of(v));
  if (name == "tojson") return json_filter(v, args, settings);
  if (name == "list") return Value::list(iterate(v));
  if (name == "items") {
    if (v.is_undefined()) return Value::list({});
    if (!v.is_mapping()) fail("items needs a dict, not {}", v.type_name());
    List out;
    for (const auto& [k, x] : v.as_dict().entries) out.push_back(Value::tuple({Value::string(k), x}));
    return Value::list(std::move(out));
  }
  if (name == "first") {
    List items = iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
  }
  if (name == "last") {
    if (v.is_mapping()) fail("'dict' object is not reversible");
    List items = iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::u32string text = decode_utf8(v.as_string());
      std::reverse(text.begin(), text.end());
      return Value::string(encode_utf8(text));
    }
    List items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "join") {
    const std::string sep = string_arg(args, 0, "d").value_or("");
    const auto attribute = string_arg(args, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
      if (!first) out += sep;
      out += (attribute ? lookup_path(item, *attribute) : item).to_string();
      first = false;
      if (out.size() > settings.max_size) fail("join: result is too large");
    }
    return Value::string(std::move(out));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") return select(name, v, args);
  if (name == "map") return map(v, args, settings);
  if (name == "sort") return sorted(v, args);
  if (name == "unique") return unique(v, args);
  if (name == "dictsort") return dictsort(v, args);
  if (name == "sum") return sum(v, args, settings);
  if (name == "min" || name == "max") return extreme(v, args, name == "max");
  if (name == "int") return to_int(v, args);
  if (name == "float") return to_float(v, args);
  if (name == "round") return round_filter(v, args);
  if (name == "abs") {
    if (v.kind() == K::Float) return Value::number(std::fabs(v.as_double()));
    if (!v.is_number()) fail("bad operand type for abs(): '{}'", v.type_name());
    if (v.as_int() == INT64_MIN) fail("integer overflow in abs()");
    return Value::integer(std::abs(v.as_int()));
  }
  if (name == "attr") {
    auto attribute = string_arg(args, 0, "name");
    if (!attribute) fail("attr needs a name");
    return get_attribute(v, *attribute);
  }
  if (v.is_undefined() && name != "string" && name != "trim" && name != "upper" && name != "lower" &&
      name != "capitalize" && name != "title" && name != "escape" && name != "e" && name != "replace") {
    if (!is_filter(name)) fail("no filter named '{}'", name);
  }
  const std::string s = v.to_string();
  if (name == "string") return Value::string(s);
  if (name == "trim") return Value::string(py_strip(s, string_arg(args, 0, "chars"), true, true));
  if (name == "upper") return Value::string(py_upper(s));
  if (name == "lower") return Value::string(py_lower(s));
  if (name == "capitalize") return Value::string(py_capitalize(s));
  if (name == "title") return Value::string(jinja_title(s));
  if (name == "escape" || name == "e" || name == "forceescape") return Value::string(html_escape(s));
  if (name == "indent") return Value::string(indent(s, args));
  if (name == "format") return Value::string(percent_format(s, args));
  if (name == "wordcount") return Value::integer(static_cast<std::int64_t>(py_split(s, std::nullopt, -1).size()));
  if (name == "replace") {
    auto old_text = string_arg(args, 0, "old");
    auto new_text = string_arg(args, 1, "new");
    if (!old_text || !new_text) fail("replace needs old and new strings");
    const Value* count = args.get(2, "count");
    return Value::string(py_replace(s, *old_text, *new_text, count == nullptr || count->is_none() ? -1 : count->as_int()));
  }
  fail("no filter named '{}'", name);
}

}  // namespace helix::chat
