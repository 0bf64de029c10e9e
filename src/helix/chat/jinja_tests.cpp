// The `is` tests; see jinja_filters.h.
#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "helix/chat/jinja_filters.h"
#include "helix/chat/jinja_operators.h"
#include "helix/chat/jinja_strings.h"
#include "helix/core/error.h"

namespace helix::chat {
namespace {

using K = Value::Kind;

const Value& argument(const CallArgs& args, const std::string& test) {
  const Value* v = args.get(0, "other");
  if (v == nullptr) fail("test '{}' takes an argument", test);
  return *v;
}

bool is_integral(const Value& v) { return v.kind() == K::Int || v.kind() == K::Bool; }

bool modulo_is(const Value& v, std::int64_t divisor, std::int64_t remainder, const std::string& test) {
  if (divisor == 0) fail("test '{}': division by zero", test);
  if (is_integral(v)) {
    std::int64_t m = v.as_int() % divisor;
    if (m != 0 && ((m < 0) != (divisor < 0))) m += divisor;
    return m == remainder;
  }
  if (v.kind() == K::Float) return std::fmod(v.as_double(), static_cast<double>(divisor)) == static_cast<double>(remainder);
  if (v.is_undefined()) fail_undefined(v);
  fail("test '{}' needs a number, not {}", test, v.type_name());
}

}  // namespace

bool is_test(const std::string& name) {
  static const std::initializer_list<std::string_view> kNames = {
      "defined", "undefined", "none", "string", "mapping", "iterable", "number", "sequence", "boolean",
      "true", "false", "even", "odd", "integer", "float", "divisibleby", "eq", "equalto", "==", "ne",
      "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "sameas",
      "callable", "lower", "upper", "escaped"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

bool apply_test(const std::string& name, const Value& v, const CallArgs& args) {
  const K k = v.kind();
  if (name == "defined") return k != K::Undefined;
  if (name == "undefined") return k == K::Undefined;
  if (name == "none") return k == K::None;
  if (name == "string") return k == K::String;
  if (name == "mapping") return k == K::DictValue;
  // Python: Undefined defines __iter__, __len__ and __getitem__.
  if (name == "iterable") return k == K::String || v.is_sequence() || k == K::DictValue || k == K::Undefined;
  if (name == "sequence") return k == K::String || v.is_sequence() || k == K::DictValue || k == K::Undefined;
  if (name == "number") return v.is_number();
  if (name == "boolean") return k == K::Bool;
  if (name == "true") return k == K::Bool && v.as_bool();
  if (name == "false") return k == K::Bool && !v.as_bool();
  if (name == "integer") return k == K::Int;
  if (name == "float") return k == K::Float;
  if (name == "callable") return k == K::Callable;
  if (name == "escaped") return false;
  if (name == "even") return modulo_is(v, 2, 0, name);
  if (name == "odd") return modulo_is(v, 2, 1, name);
  if (name == "lower") return k == K::String ? py_lower(v.as_string()) == v.as_string() && py_upper(v.as_string()) != v.as_string() : false;
  if (name == "upper") return k == K::String ? py_upper(v.as_string()) == v.as_string() && py_lower(v.as_string()) != v.as_string() : false;
  if (name == "divisibleby") {
    const Value& n = argument(args, name);
    if (!is_integral(n)) fail("test 'divisibleby' needs an integer");
    return modulo_is(v, n.as_int(), 0, name);
  }
  if (name == "sameas") {
    const Value& other = argument(args, name);
    return v.kind() == other.kind() && equals(v, other);
  }
  if (name == "eq" || name == "equalto" || name == "==") return compare("==", v, argument(args, name));
  if (name == "ne" || name == "!=") return compare("!=", v, argument(args, name));
  if (name == "lt" || name == "lessthan" || name == "<") return compare("<", v, argument(args, name));
  if (name == "le" || name == "<=") return compare("<=", v, argument(args, name));
  if (name == "gt" || name == "greaterthan" || name == ">") return compare(">", v, argument(args, name));
  if (name == "ge" || name == ">=") return compare(">=", v, argument(args, name));
  if (name == "in") return contains(argument(args, name), v);
  fail("no test named '{}'", name);
}

}  // namespace helix::chat
