// The values a Jinja template computes with, modelled on the Python objects that
// jinja2 sees when transformers renders a chat template: none, bool, a 64-bit int,
// float, str, list, tuple, dict (insertion-ordered, string keys), jinja2's
// namespace, callables, and jinja2's default Undefined (renders as "", is falsy,
// fails on attribute access, arithmetic and calls).
//
// Lists and dicts are shared, not copied, when a Value is copied: templates run
// in an immutable sandbox, so only a namespace is ever changed after creation,
// and a namespace must be shared for `{% set ns.a = ... %}` inside a loop to be
// seen after it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace helix::chat {

class Value;
using List = std::vector<Value>;

// A dict with string keys, in insertion order (Python dicts keep it; tojson and
// `items()` show it). Chat dicts are small, so lookup is a linear scan.
struct Dict {
  std::vector<std::pair<std::string, Value>> entries;

  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);
};

// Positional and keyword arguments of a call, as Python passes them.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The argument at `index` or named `name`, else nullptr.
  const Value* get(std::size_t index, std::string_view name) const;
};

using Function = std::function<Value(const CallArgs&)>;

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, ListValue, Tuple, DictValue, Namespace, Callable };

  Value() = default;  // Undefined
  static Value undefined(std::string name);
  static Value none();
  static Value boolean(bool b);
  static Value integer(std::int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(List items);
  static Value tuple(List items);
  static Value dict(Dict d);
  static Value namespace_object(Dict attributes);
  static Value callable(std::string name, Function f);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_sequence() const { return kind_ == Kind::ListValue || kind_ == Kind::Tuple; }
  bool is_mapping() const { return kind_ == Kind::DictValue; }
  // Python numbers: bool is an int subclass, so True + 1 == 2.
  bool is_number() const { return kind_ == Kind::Bool || kind_ == Kind::Int || kind_ == Kind::Float; }

  bool as_bool() const { return bool_; }
  std::int64_t as_int() const { return kind_ == Kind::Bool ? (bool_ ? 1 : 0) : int_; }
  double as_double() const;
  const std::string& as_string() const { return text_; }
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& namespace_attributes() const { return *dict_; }
  const Function& as_function() const { return *function_; }
  // The variable name an Undefined stands for, or the callable's name.
  const std::string& name() const { return text_; }

  // Python truthiness.
  bool truthy() const;
  // Python str(): what `{{ value }}` prints.
  std::string to_string() const;
  // Python repr(): how the value prints inside a list or dict.
  std::string repr() const;
  // Python's type name, for error messages.
  std::string type_name() const;

 private:
  Kind kind_ = Kind::Undefined;
  bool bool_ = false;
  std::int64_t int_ = 0;
  double double_ = 0;
  std::string text_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Function> function_;
};

// Python ==: numbers by value (1 == 1.0 == True), containers element-wise,
// Undefined equal only to Undefined.
bool equals(const Value& a, const Value& b);
// Python <: numbers, strings (code point order = UTF-8 byte order), and
// sequences lexicographically; anything else throws Error.
bool less_than(const Value& a, const Value& b);

// Python's repr() of a float (shortest round-trip digits, "1e+16", "0.0001").
std::string format_float(double d);
// Python's repr() of a str ('single' quotes unless it holds ' and no ").
std::string quote_string(std::string_view s);

}  // namespace helix::chat
