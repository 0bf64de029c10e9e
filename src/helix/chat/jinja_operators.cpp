#include "helix/chat/jinja_operators.h"

#include <cmath>

#include "helix/chat/jinja_methods.h"
#include "helix/chat/jinja_strings.h"
#include "helix/core/error.h"

namespace helix::chat {
namespace {

using K = Value::Kind;

bool is_integral(const Value& v) { return v.kind() == K::Int || v.kind() == K::Bool; }

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  fail("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
}

// Python ints are unbounded; ours stop at 64 bits and say so.
template <typename Op>
std::int64_t checked(Op op, std::int64_t x, std::int64_t y) {
  std::int64_t result = 0;
  if (op(x, y, &result)) fail("integer overflow: the result does not fit in 64 bits");
  return result;
}

bool add(std::int64_t x, std::int64_t y, std::int64_t* r) { return __builtin_add_overflow(x, y, r); }
bool subtract(std::int64_t x, std::int64_t y, std::int64_t* r) { return __builtin_sub_overflow(x, y, r); }
bool multiply(std::int64_t x, std::int64_t y, std::int64_t* r) { return __builtin_mul_overflow(x, y, r); }

Value integer_arithmetic(std::string_view op, std::int64_t x, std::int64_t y) {
  if (op == "+") return Value::integer(checked(add, x, y));
  if (op == "-") return Value::integer(checked(subtract, x, y));
  if (op == "*") return Value::integer(checked(multiply, x, y));
  if (op == "/") {
    if (y == 0) fail("division by zero");
    return Value::number(static_cast<double>(x) / static_cast<double>(y));
  }
  if (op == "//" || op == "%") {
    if (y == 0) fail("integer division or modulo by zero");
    if (x == INT64_MIN && y == -1) fail("integer overflow: the result does not fit in 64 bits");
    std::int64_t q = x / y;
    std::int64_t m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) {  // Python floors; C++ truncates
      --q;
      m += y;
    }
    return Value::integer(op == "//" ? q : m);
  }
  // "**"
  if (y < 0) return Value::number(std::pow(static_cast<double>(x), static_cast<double>(y)));
  std::int64_t result = 1;
  for (std::int64_t i = 0; i < y && result != 0; ++i) {
    result = checked(multiply, result, x);
    if (x == 1 || x == -1) {  // no need to loop a billion times
      result = (x == -1 && (y % 2) == 1) ? -1 : 1;
      break;
    }
  }
  return Value::integer(result);
}

Value float_arithmetic(std::string_view op, double x, double y) {
  if (op == "+") return Value::number(x + y);
  if (op == "-") return Value::number(x - y);
  if (op == "*") return Value::number(x * y);
  if (op == "**") return Value::number(std::pow(x, y));
  if (y == 0) fail("float division by zero");
  if (op == "/") return Value::number(x / y);
  // Python's float_divmod: the remainder takes the divisor's sign.
  double m = std::fmod(x, y);
  double q = (x - m) / y;
  if (m != 0 && ((y < 0) != (m < 0))) {
    m += y;
    q -= 1.0;
  }
  if (op == "%") return Value::number(m);
  double floored = std::floor(q);
  if (q - floored > 0.5) floored += 1.0;
  return Value::number(floored);
}

Value repeat(const Value& seq, std::int64_t times, std::size_t max_size) {
  if (times <= 0) return seq.is_string() ? Value::string("") : Value::list({});
  const std::size_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().size();
  if (unit != 0 && static_cast<std::uint64_t>(times) > max_size / unit) fail("sequence repetition is too large");
  if (seq.is_string()) {
    std::string out;
    for (std::int64_t i = 0; i < times; ++i) out += seq.as_string();
    return Value::string(std::move(out));
  }
  List out;
  for (std::int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  return seq.kind() == K::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

std::string undefined_message(const Value& owner, const std::string& what) {
  return fmt::format("'{} object' has no attribute {}", owner.type_name(), what);
}

}  // namespace

void fail_undefined(const Value& undefined) {
  fail("{}", undefined.name().empty() ? std::string("an undefined value was used") : undefined.name());
}

Value binary_operation(std::string_view op, const Value& a, const Value& b, std::size_t max_size) {
  if (op == "~") return Value::string(a.to_string() + b.to_string());
  if (a.is_number() && b.is_number()) {
    if (is_integral(a) && is_integral(b)) return integer_arithmetic(op, a.as_int(), b.as_int());
    return float_arithmetic(op, a.as_double(), b.as_double());
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value::string(a.as_string() + b.as_string());
    if (a.is_sequence() && a.kind() == b.kind()) {
      List out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return a.kind() == K::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
  }
  if (op == "*") {
    if ((a.is_string() || a.is_sequence()) && is_integral(b)) return repeat(a, b.as_int(), max_size);
    if ((b.is_string() || b.is_sequence()) && is_integral(a)) return repeat(b, a.as_int(), max_size);
  }
  unsupported(op, a, b);
}

bool compare(std::string_view op, const Value& a, const Value& b) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (op == "<") return less_than(a, b);
  if (op == ">") return less_than(b, a);
  if (op == "<=") return less_than(a, b) || equals(a, b);
  return less_than(b, a) || equals(a, b);  // ">="
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case K::String:
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not {}", item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case K::ListValue:
    case K::Tuple:
      for (const Value& v : container.as_list()) {
        if (equals(v, item)) return true;
      }
      return false;
    case K::DictValue: return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    case K::Undefined: return false;
    default: fail("argument of type '{}' is not iterable", container.type_name());
  }
}

Value get_attribute(const Value& object, const std::string& name) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.kind() == K::Namespace) {
    const Value* v = object.as_dict().find(name);
    return v != nullptr ? *v : Value::undefined(undefined_message(object, "'" + name + "'"));
  }
  if (auto method = bound_method(object, name)) return *method;
  if (object.kind() == K::DictValue) {
    if (const Value* v = object.as_dict().find(name)) return *v;
  }
  return Value::undefined(undefined_message(object, "'" + name + "'"));
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.kind() == K::DictValue && key.is_string()) {
    if (const Value* v = object.as_dict().find(key.as_string())) return *v;
  }
  if ((object.is_sequence() || object.is_string()) && is_integral(key)) {
    const std::int64_t n = length_of(object);
    std::int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i >= 0 && i < n) {
      if (object.is_sequence()) return object.as_list()[static_cast<std::size_t>(i)];
      std::string ch;
      append_utf8(ch, decode_utf8(object.as_string())[static_cast<std::size_t>(i)]);
      return Value::string(std::move(ch));
    }
    return Value::undefined(fmt::format("'{} object' has no element {}", object.type_name(), key.as_int()));
  }
  if (key.is_string()) return get_attribute(object, key.as_string());
  return Value::undefined(undefined_message(object, key.repr()));
}

Value get_slice(const Value& object, std::optional<std::int64_t> start, std::optional<std::int64_t> stop,
                std::optional<std::int64_t> step) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_string()) {
    const std::u32string text = decode_utf8(object.as_string());
    std::u32string out;
    for (std::size_t i : slice_indices(text.size(), start, stop, step)) out += text[i];
    return Value::string(encode_utf8(out));
  }
  if (!object.is_sequence()) return Value::undefined(fmt::format("'{}' object is not subscriptable", object.type_name()));
  List out;
  for (std::size_t i : slice_indices(object.as_list().size(), start, stop, step)) out.push_back(object.as_list()[i]);
  return object.kind() == K::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

List iterate(const Value& v) {
  switch (v.kind()) {
    case K::ListValue:
    case K::Tuple: return v.as_list();
    case K::Undefined: return {};
    case K::String: {
      List out;
      for (char32_t c : decode_utf8(v.as_string())) {
        std::string ch;
        append_utf8(ch, c);
        out.push_back(Value::string(std::move(ch)));
      }
      return out;
    }
    case K::DictValue: {
      List out;
      for (const auto& entry : v.as_dict().entries) out.push_back(Value::string(entry.first));
      return out;
    }
    default: fail("'{}' object is not iterable", v.type_name());
  }
}

std::int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case K::String: return static_cast<std::int64_t>(code_point_count(v.as_string()));
    case K::ListValue:
    case K::Tuple: return static_cast<std::int64_t>(v.as_list().size());
    case K::DictValue: return static_cast<std::int64_t>(v.as_dict().entries.size());
    case K::Undefined: return 0;
    default: fail("object of type '{}' has no len()", v.type_name());
  }
}

}  // namespace helix::chat
