#include "helix/chat/jinja_json.h"

#include <algorithm>
#include <cstdio>

#include "helix/chat/jinja_strings.h"
#include "helix/core/error.h"

namespace helix::chat {
namespace {

void append_escape(std::string& out, unsigned code) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\u%04x", code);
  out += buf;
}

std::string quote(const std::string& s, const JsonFormat& f) {
  std::string out = "\"";
  for (char32_t c : decode_utf8(s)) {
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (f.html_safe && (c == '<' || c == '>' || c == '&' || c == '\''))) {
      append_escape(out, static_cast<unsigned>(c));
    } else if (f.ensure_ascii && c > 0x7E) {
      if (c >= 0x10000) {  // a UTF-16 surrogate pair, as Python writes it
        append_escape(out, 0xD800 + ((static_cast<unsigned>(c) - 0x10000) >> 10));
        append_escape(out, 0xDC00 + ((static_cast<unsigned>(c) - 0x10000) & 0x3FF));
      } else {
        append_escape(out, static_cast<unsigned>(c));
      }
    } else {
      append_utf8(out, c);
    }
  }
  return out + "\"";
}

std::string number(const Value& v) {
  if (v.kind() != Value::Kind::Float) return std::to_string(v.as_int());
  const double d = v.as_double();
  if (d != d) return "NaN";
  if (d == 1.0 / 0.0) return "Infinity";
  if (d == -1.0 / 0.0) return "-Infinity";
  return format_float(d);
}

void write(std::string& out, const Value& v, const JsonFormat& f, int level);

void newline(std::string& out, const JsonFormat& f, int level) {
  if (f.indent) out += "\n" + std::string(static_cast<std::size_t>(*f.indent * level), ' ');
}

void write_list(std::string& out, const List& items, const JsonFormat& f, int level) {
  if (items.empty()) {
    out += "[]";
    return;
  }
  out += "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += f.item_separator;
    newline(out, f, level + 1);
    write(out, items[i], f, level + 1);
  }
  newline(out, f, level);
  out += "]";
}

void write_dict(std::string& out, const Dict& d, const JsonFormat& f, int level) {
  if (d.entries.empty()) {
    out += "{}";
    return;
  }
  std::vector<const std::pair<std::string, Value>*> entries;
  for (const auto& e : d.entries) entries.push_back(&e);
  if (f.sort_keys) {
    std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
  }
  out += "{";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out += f.item_separator;
    newline(out, f, level + 1);
    out += quote(entries[i]->first, f) + f.key_separator;
    write(out, entries[i]->second, f, level + 1);
  }
  newline(out, f, level);
  out += "}";
}

void write(std::string& out, const Value& v, const JsonFormat& f, int level) {
  if (level > 200) fail("tojson: value nested deeper than 200 levels");
  switch (v.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::Int:
    case Value::Kind::Float: out += number(v); return;
    case Value::Kind::String: out += quote(v.as_string(), f); return;
    case Value::Kind::ListValue:
    case Value::Kind::Tuple: write_list(out, v.as_list(), f, level); return;
    case Value::Kind::DictValue: write_dict(out, v.as_dict(), f, level); return;
    default: fail("tojson: object of type {} is not JSON serializable", v.type_name());
  }
}

}  // namespace

std::string to_json(const Value& value, const JsonFormat& format) {
  std::string out;
  write(out, value, format, 0);
  return out;
}

Value from_json(const nlohmann::ordered_json& json) {
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(json.get<std::int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = json.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<std::int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::number(json.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      for (const auto& item : json) items.push_back(from_json(item));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      for (const auto& [key, item] : json.items()) d.set(key, from_json(item));
      return Value::dict(std::move(d));
    }
    default: fail("JSON value of type {} cannot be a template variable", json.type_name());
  }
}

}  // namespace helix::chat
