#include "helix/chat/jinja_render.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "helix/chat/jinja_operators.h"
#include "helix/core/error.h"

namespace helix::chat {
namespace {

using K = Value::Kind;

// An Error that already names its line and column, so outer nodes pass it on.
class LocatedError : public Error {
 public:
  using Error::Error;
};

template <typename F>
auto at_location(int line, int column, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const LocatedError&) {
    throw;
  } catch (const Error& e) {
    throw LocatedError(fmt::format("line {}, column {}: {}", line, column, e.what()));
  }
}

enum class Flow { Normal, Break, Continue };

class Renderer {
 public:
  Renderer(const Dict& variables, const FilterSettings& filters, const RenderLimits& limits)
      : filters_(filters), limits_(limits) {
    frames_.emplace_back();
    add_globals();
    for (const auto& [name, value] : variables.entries) frames_[0][name] = value;
  }

  std::string run(const Body& program) {
    std::string out;
    out_ = &out;
    render_body(program);
    return out;
  }

 private:
  using Frame = std::unordered_map<std::string, Value>;

  // ---- scopes ----

  Value lookup(const std::string& name) const {
    for (std::size_t i = frames_.size(); i-- > floor_;) {
      if (auto it = frames_[i].find(name); it != frames_[i].end()) return it->second;
    }
    if (auto it = frames_[0].find(name); it != frames_[0].end()) return it->second;
    return Value::undefined("'" + name + "' is undefined");
  }

  void assign(const std::string& name, Value value) { frames_.back()[name] = std::move(value); }

  void assign_targets(const std::vector<std::string>& targets, const Value& value) {
    if (targets.size() == 1) {
      assign(targets[0], value);
      return;
    }
    const List items = iterate(value);
    if (items.size() != targets.size()) {
      fail("cannot unpack {} values into {} variables", items.size(), targets.size());
    }
    for (std::size_t i = 0; i < targets.size(); ++i) assign(targets[i], items[i]);
  }

  void add_globals() {
    Frame& g = frames_[0];
    g["range"] = Value::callable("range", [this](const CallArgs& args) { return range(args); });
    g["namespace"] = Value::callable("namespace", [](const CallArgs& args) { return Value::namespace_object(keyword_dict(args)); });
    g["dict"] = Value::callable("dict", [](const CallArgs& args) { return Value::dict(keyword_dict(args)); });
  }

  // namespace(a=1) and dict(a=1); a dict given positionally is copied first.
  static Dict keyword_dict(const CallArgs& args) {
    Dict d;
    for (const Value& v : args.positional) {
      if (!v.is_mapping()) fail("expected a dict or keyword arguments, got {}", v.type_name());
      for (const auto& [k, x] : v.as_dict().entries) d.set(k, x);
    }
    for (const auto& [k, x] : args.keyword) d.set(k, x);
    return d;
  }

  Value range(const CallArgs& args) const {
    std::int64_t bounds[3] = {0, 0, 1};
    if (args.positional.empty() || args.positional.size() > 3) fail("range expected 1 to 3 arguments");
    for (std::size_t i = 0; i < args.positional.size(); ++i) {
      const Value& v = args.positional[i];
      if (v.kind() != K::Int && v.kind() != K::Bool) fail("range() takes integers, not {}", v.type_name());
    }
    if (args.positional.size() == 1) {
      bounds[1] = args.positional[0].as_int();
    } else {
      for (std::size_t i = 0; i < args.positional.size(); ++i) bounds[i] = args.positional[i].as_int();
    }
    const auto [start, stop, step] = bounds;
    if (step == 0) fail("range() arg 3 must not be zero");
    List out;
    for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (static_cast<std::int64_t>(out.size()) >= limits_.max_loop_iterations) {
        fail("range() is longer than the limit of {} items", limits_.max_loop_iterations);
      }
      out.push_back(Value::integer(i));
    }
    return Value::list(std::move(out));
  }

  // ---- statements ----

  Flow render_body(const Body& body) {
    for (const NodePtr& node : body) {
      const Flow flow = at_location(node->line, node->column, [&] { return render_node(*node); });
      if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
  }

  Flow render_node(const Node& n) {
    switch (n.kind) {
      case Node::Kind::Text: write(n.text); break;
      case Node::Kind::Output: write(eval(*n.expr).to_string()); break;
      case Node::Kind::If: return render_if(n);
      case Node::Kind::For: render_for(n); break;
      case Node::Kind::Set: render_set(n); break;
      case Node::Kind::SetBlock: {
        Value text = Value::string(capture(n.body));
        assign(n.targets[0], n.filter ? filter_block_value(*n.filter, text) : text);
        break;
      }
      case Node::Kind::Macro: define_macro(n); break;
      case Node::Kind::FilterBlock: write(filter_block_value(*n.filter, Value::string(capture(n.body))).to_string()); break;
      case Node::Kind::Break: return Flow::Break;
      case Node::Kind::Continue: return Flow::Continue;
    }
    return Flow::Normal;
  }

  void write(const std::string& text) {
    written_ += text.size();
    if (written_ > limits_.max_output_bytes) fail("output is larger than the limit of {} bytes", limits_.max_output_bytes);
    *out_ += text;
  }

  std::string capture(const Body& body) {
    std::string buffer;
    std::string* saved = out_;
    out_ = &buffer;
    const Flow flow = render_body(body);
    out_ = saved;
    if (flow != Flow::Normal) fail("'break' or 'continue' outside a loop");
    return buffer;
  }

  Flow render_if(const Node& n) {
    for (const auto& [condition, body] : n.branches) {
      if (eval(*condition).truthy()) return render_body(body);
    }
    return render_body(n.else_body);
  }

  void render_for(const Node& n) {
    List items = iterate(eval(*n.expr));
    if (n.condition) {
      List kept;
      for (const Value& item : items) {
        count_iteration();
        frames_.emplace_back();
        assign_targets(n.targets, item);
        const bool keep = eval(*n.condition).truthy();
        frames_.pop_back();
        if (keep) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      render_body(n.else_body);
      return;
    }
    ++loop_depth_;
    const std::int64_t length = static_cast<std::int64_t>(items.size());
    for (std::int64_t i = 0; i < length; ++i) {
      count_iteration();
      frames_.emplace_back();
      assign_targets(n.targets, items[static_cast<std::size_t>(i)]);
      assign("loop", loop_object(items, i));
      const Flow flow = render_body(n.body);
      frames_.pop_back();
      if (flow == Flow::Break) break;
    }
    --loop_depth_;
  }

  void count_iteration() {
    if (++iterations_ > limits_.max_loop_iterations) {
      fail("more than {} loop iterations", limits_.max_loop_iterations);
    }
  }

  Value loop_object(const List& items, std::int64_t i) const {
    const std::int64_t n = static_cast<std::int64_t>(items.size());
    Dict d;
    d.set("index", Value::integer(i + 1));
    d.set("index0", Value::integer(i));
    d.set("revindex", Value::integer(n - i));
    d.set("revindex0", Value::integer(n - i - 1));
    d.set("first", Value::boolean(i == 0));
    d.set("last", Value::boolean(i == n - 1));
    d.set("length", Value::integer(n));
    d.set("depth", Value::integer(loop_depth_));
    d.set("depth0", Value::integer(loop_depth_ - 1));
    d.set("previtem", i > 0 ? items[static_cast<std::size_t>(i - 1)] : Value::undefined("there is no previous item"));
    d.set("nextitem", i + 1 < n ? items[static_cast<std::size_t>(i + 1)] : Value::undefined("there is no next item"));
    d.set("cycle", Value::callable("cycle", [i](const CallArgs& args) {
            if (args.positional.empty()) fail("no items for cycling given");
            return args.positional[static_cast<std::size_t>(i) % args.positional.size()];
          }));
    return Value::dict(std::move(d));
  }

  void render_set(const Node& n) {
    Value value = eval(*n.expr);
    if (n.name.empty()) {
      assign_targets(n.targets, value);
      return;
    }
    const Value target = lookup(n.targets[0]);
    if (target.kind() != K::Namespace) fail("cannot assign attribute '{}' on '{}': not a namespace", n.name, n.targets[0]);
    target.namespace_attributes().set(n.name, std::move(value));
  }

  void define_macro(const Node& n) {
    const Node* macro = &n;
    assign(n.name, Value::callable(n.name, [this, macro](const CallArgs& args) { return call_macro(*macro, args); }));
  }

  Value call_macro(const Node& macro, const CallArgs& args) {
    if (args.positional.size() > macro.params.size()) {
      fail("macro '{}' takes not more than {} argument(s)", macro.name, macro.params.size());
    }
    if (++call_depth_ > limits_.max_call_depth) fail("macro calls nested deeper than {}", limits_.max_call_depth);
    const std::size_t saved_floor = floor_;
    frames_.emplace_back();
    floor_ = frames_.size() - 1;
    // No clean-up on error: any Error ends the whole render.
    for (const auto& [key, value] : args.keyword) {
      const bool known = std::any_of(macro.params.begin(), macro.params.end(), [&](const auto& p) { return p.first == key; });
      if (!known) fail("macro '{}' takes no keyword argument '{}'", macro.name, key);
    }
    for (std::size_t i = 0; i < macro.params.size(); ++i) {
      const auto& [param, fallback] = macro.params[i];
      const Value* given = args.get(i, param);
      assign(param, given != nullptr ? *given : fallback ? eval(*fallback) : Value::undefined("'" + param + "' is undefined"));
    }
    std::string out = capture(macro.body);
    frames_.pop_back();
    floor_ = saved_floor;
    --call_depth_;
    return Value::string(std::move(out));
  }

  Value filter_block_value(const Expr& filter, const Value& input) {
    const Value saved = filter_input_;
    filter_input_ = input;
    Value result = eval(filter);
    filter_input_ = saved;
    return result;
  }

  // ---- expressions ----

  Value eval(const Expr& e) {
    return at_location(e.line, e.column, [&] { return eval_here(e); });
  }

  CallArgs eval_arguments(const Expr& e, std::size_t first) {
    CallArgs args;
    for (std::size_t i = first; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i]));
    for (const auto& [key, value] : e.kwargs) args.keyword.emplace_back(key, eval(*value));
    return args;
  }

  std::optional<std::int64_t> slice_bound(const ExprPtr& e) {
    if (!e) return std::nullopt;
    const Value v = eval(*e);
    if (v.is_none()) return std::nullopt;
    if (v.kind() != K::Int && v.kind() != K::Bool) fail("slice indices must be integers or none, not {}", v.type_name());
    return v.as_int();
  }

  Value eval_here(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.value;
      case Expr::Kind::Name: return lookup(e.name);
      case Expr::Kind::ListLiteral:
      case Expr::Kind::TupleLiteral: {
        List items;
        for (const ExprPtr& a : e.args) items.push_back(eval(*a));
        return e.kind == Expr::Kind::ListLiteral ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      }
      case Expr::Kind::DictLiteral: {
        Dict d;
        for (std::size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value key = eval(*e.args[i]);
          if (!key.is_string()) fail("dict keys must be strings, not {}", key.type_name());
          d.set(key.as_string(), eval(*e.args[i + 1]));
        }
        return Value::dict(std::move(d));
      }
      case Expr::Kind::Attribute: return get_attribute(eval(*e.args[0]), e.name);
      case Expr::Kind::Item: {
        const Value object = eval(*e.args[0]);
        return get_item(object, eval(*e.args[1]));
      }
      case Expr::Kind::Slice: {
        const Value object = eval(*e.args[0]);
        const auto start = slice_bound(e.args[1]);
        const auto stop = slice_bound(e.args[2]);
        return get_slice(object, start, stop, slice_bound(e.args[3]));
      }
      case Expr::Kind::Call: {
        const Value callee = eval(*e.args[0]);
        if (callee.is_undefined()) fail_undefined(callee);
        if (callee.kind() != K::Callable) fail("'{}' object is not callable", callee.type_name());
        return callee.as_function()(eval_arguments(e, 1));
      }
      case Expr::Kind::Filter: {
        const Value operand = e.args[0] ? eval(*e.args[0]) : filter_input_;
        return apply_filter(e.name, operand, eval_arguments(e, 1), filters_);
      }
      case Expr::Kind::Test: {
        const Value operand = eval(*e.args[0]);
        if (!is_test(e.name)) fail("no test named '{}'", e.name);
        return Value::boolean(apply_test(e.name, operand, eval_arguments(e, 1)) != e.negated);
      }
      case Expr::Kind::Not: return Value::boolean(!eval(*e.args[0]).truthy());
      case Expr::Kind::Negate:
      case Expr::Kind::Plus: return unary(e.kind == Expr::Kind::Negate, eval(*e.args[0]));
      case Expr::Kind::Binary: {
        const Value left = eval(*e.args[0]);
        return binary_operation(e.name, left, eval(*e.args[1]), limits_.max_output_bytes);
      }
      case Expr::Kind::Compare: return compare_chain(e);
      case Expr::Kind::And: {
        Value left = eval(*e.args[0]);
        return left.truthy() ? eval(*e.args[1]) : left;
      }
      case Expr::Kind::Or: {
        Value left = eval(*e.args[0]);
        return left.truthy() ? left : eval(*e.args[1]);
      }
      case Expr::Kind::Conditional:
        if (eval(*e.args[0]).truthy()) return eval(*e.args[1]);
        return e.args[2] ? eval(*e.args[2]) : Value::undefined("the condition was false and there is no else");
    }
    return Value();
  }

  static Value unary(bool negate, const Value& v) {
    if (v.is_undefined()) fail_undefined(v);
    if (!v.is_number()) fail("bad operand type for unary {}: '{}'", negate ? "-" : "+", v.type_name());
    if (v.kind() == K::Float) return Value::number(negate ? -v.as_double() : v.as_double());
    if (negate && v.as_int() == INT64_MIN) fail("integer overflow: the result does not fit in 64 bits");
    return Value::integer(negate ? -v.as_int() : v.as_int());
  }

  Value compare_chain(const Expr& e) {
    Value left = eval(*e.args[0]);
    for (std::size_t i = 0; i < e.operators.size(); ++i) {
      Value right = eval(*e.args[i + 1]);
      if (!compare(e.operators[i], left, right)) return Value::boolean(false);
      left = std::move(right);
    }
    return Value::boolean(true);
  }

  const FilterSettings& filters_;
  const RenderLimits& limits_;
  std::vector<Frame> frames_;   // [0] is the context and the template's top level
  std::size_t floor_ = 1;       // frames below this (but above 0) are hidden: a macro's caller
  std::string* out_ = nullptr;
  std::size_t written_ = 0;
  std::int64_t iterations_ = 0;
  int call_depth_ = 0;
  std::int64_t loop_depth_ = 0;
  Value filter_input_;          // the body of a {% filter %} block
};

}  // namespace

std::string render_template(const Body& program, const Dict& variables, const FilterSettings& filters,
                            const RenderLimits& limits) {
  return Renderer(variables, filters, limits).run(program);
}

}  // namespace helix::chat
