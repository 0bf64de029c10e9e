#include "helix/chat/jinja_expression_parser.h"

#include <charconv>
#include <cstdlib>

namespace helix::chat {

template <typename Next>
ExprPtr ExpressionParser::binary(Expr::Kind kind, const std::string& op, ExprPtr left, Next next) {
  const Token& t = current();
  advance();
  auto e = make_expr(kind, t);
  e->name = op;
  e->args.push_back(std::move(left));
  e->args.push_back(next());
  return e;
}

ExprPtr ExpressionParser::parse_tuple(bool with_conditional) {
  const Token& start = current();
  ExprPtr first = parse_expression(with_conditional);
  if (!at_operator(",")) return first;
  auto tuple = make_expr(Expr::Kind::TupleLiteral, start);
  tuple->args.push_back(std::move(first));
  while (at_operator(",")) {
    advance();
    if (at_end_of_expression()) break;
    tuple->args.push_back(parse_expression(with_conditional));
  }
  return tuple;
}

ExprPtr ExpressionParser::parse_expression(bool with_conditional) {
  NestingGuard guard(*this, current());
  ExprPtr e = parse_or();
  while (with_conditional && at_name("if")) {
    const Token& t = current();
    advance();
    auto c = make_expr(Expr::Kind::Conditional, t);
    c->args.push_back(parse_or());
    c->args.insert(c->args.begin() + 1, std::move(e));
    if (at_name("else")) {
      advance();
      c->args.push_back(parse_expression(true));
    } else {
      c->args.push_back(nullptr);
    }
    e = std::move(c);
  }
  return e;
}

ExprPtr ExpressionParser::parse_or() {
  ExprPtr left = parse_and();
  while (at_name("or")) left = binary(Expr::Kind::Or, "", std::move(left), [this] { return parse_and(); });
  return left;
}

ExprPtr ExpressionParser::parse_and() {
  ExprPtr left = parse_not();
  while (at_name("and")) left = binary(Expr::Kind::And, "", std::move(left), [this] { return parse_not(); });
  return left;
}

ExprPtr ExpressionParser::parse_not() {
  if (!at_name("not")) return parse_compare();
  const Token& t = current();
  advance();
  NestingGuard guard(*this, t);
  auto n = make_expr(Expr::Kind::Not, t);
  n->args.push_back(parse_not());
  return n;
}

ExprPtr ExpressionParser::parse_compare() {
  ExprPtr left = parse_math1();
  ExprPtr chain;
  while (true) {
    const Token& t = current();
    std::string op;
    if (t.type == TokenType::Operator && is_one_of(t.text, {"==", "!=", "<", "<=", ">", ">="})) {
      op = t.text;
      advance();
    } else if (at_name("in")) {
      op = "in";
      advance();
    } else if (at_name("not") && peek(1).type == TokenType::Name && peek(1).text == "in") {
      op = "not in";
      advance();
      advance();
    } else {
      break;
    }
    if (!chain) {
      chain = make_expr(Expr::Kind::Compare, t);
      chain->args.push_back(std::move(left));
    }
    chain->operators.push_back(std::move(op));
    chain->args.push_back(parse_math1());
  }
  return chain ? std::move(chain) : std::move(left);
}

ExprPtr ExpressionParser::parse_math1() {
  ExprPtr left = parse_concat();
  while (at_operator("+") || at_operator("-")) {
    const std::string op = current().text;
    left = binary(Expr::Kind::Binary, op, std::move(left), [this] { return parse_concat(); });
  }
  return left;
}

ExprPtr ExpressionParser::parse_concat() {
  ExprPtr left = parse_math2();
  while (at_operator("~")) left = binary(Expr::Kind::Binary, "~", std::move(left), [this] { return parse_math2(); });
  return left;
}

ExprPtr ExpressionParser::parse_math2() {
  ExprPtr left = parse_pow();
  while (at_operator("*") || at_operator("/") || at_operator("//") || at_operator("%")) {
    const std::string op = current().text;
    left = binary(Expr::Kind::Binary, op, std::move(left), [this] { return parse_pow(); });
  }
  return left;
}

ExprPtr ExpressionParser::parse_pow() {
  ExprPtr left = parse_unary(true);
  while (at_operator("**")) left = binary(Expr::Kind::Binary, "**", std::move(left), [this] { return parse_unary(true); });
  return left;
}

ExprPtr ExpressionParser::parse_unary(bool with_filter) {
  const Token& t = current();
  NestingGuard guard(*this, t);
  ExprPtr e;
  if (at_operator("-") || at_operator("+")) {
    advance();
    e = make_expr(t.text == "-" ? Expr::Kind::Negate : Expr::Kind::Plus, t);
    e->args.push_back(parse_unary(false));
  } else {
    e = parse_primary();
  }
  e = parse_postfix(std::move(e));
  return with_filter ? parse_filters(std::move(e)) : std::move(e);
}

ExprPtr ExpressionParser::parse_primary() {
  const Token& t = current();
  switch (t.type) {
    case TokenType::Name: return parse_name(t);
    case TokenType::String: {
      auto e = make_expr(Expr::Kind::Literal, t);
      std::string text;
      while (current().type == TokenType::String) {  // adjacent literals concatenate
        text += current().text;
        advance();
      }
      e->value = Value::string(std::move(text));
      return e;
    }
    case TokenType::Integer: return parse_integer(t);
    case TokenType::Float: {
      auto e = make_expr(Expr::Kind::Literal, t);
      e->value = Value::number(std::strtod(t.text.c_str(), nullptr));
      advance();
      return e;
    }
    case TokenType::Operator:
      if (t.text == "(") return parse_parenthesized(t);
      if (t.text == "[") return parse_list(t);
      if (t.text == "{") return parse_dict(t);
      break;
    default: break;
  }
  fail_at(t, "expected an expression, got {}", describe(t));
}

ExprPtr ExpressionParser::parse_name(const Token& t) {
  auto e = make_expr(Expr::Kind::Literal, t);
  if (t.text == "true" || t.text == "True") {
    e->value = Value::boolean(true);
  } else if (t.text == "false" || t.text == "False") {
    e->value = Value::boolean(false);
  } else if (t.text == "none" || t.text == "None") {
    e->value = Value::none();
  } else {
    e->kind = Expr::Kind::Name;
    e->name = t.text;
  }
  advance();
  return e;
}

ExprPtr ExpressionParser::parse_integer(const Token& t) {
  auto e = make_expr(Expr::Kind::Literal, t);
  std::int64_t v = 0;
  const auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
  if (r.ec != std::errc()) fail_at(t, "integer literal {} is out of the 64-bit range", t.text);
  e->value = Value::integer(v);
  advance();
  return e;
}

ExprPtr ExpressionParser::parse_parenthesized(const Token& t) {
  advance();
  if (at_operator(")")) {
    advance();
    return make_expr(Expr::Kind::TupleLiteral, t);
  }
  ExprPtr e = parse_tuple(true);
  expect_operator(")");
  return e;
}

ExprPtr ExpressionParser::parse_list(const Token& t) {
  advance();
  auto e = make_expr(Expr::Kind::ListLiteral, t);
  while (!at_operator("]")) {
    if (!e->args.empty()) {
      expect_operator(",");
      if (at_operator("]")) break;
    }
    e->args.push_back(parse_expression(true));
  }
  advance();
  return e;
}

ExprPtr ExpressionParser::parse_dict(const Token& t) {
  advance();
  auto e = make_expr(Expr::Kind::DictLiteral, t);
  while (!at_operator("}")) {
    if (!e->args.empty()) {
      expect_operator(",");
      if (at_operator("}")) break;
    }
    e->args.push_back(parse_expression(true));
    expect_operator(":");
    e->args.push_back(parse_expression(true));
  }
  advance();
  return e;
}

ExprPtr ExpressionParser::parse_postfix(ExprPtr e) {
  while (true) {
    const Token& t = current();
    if (at_operator(".")) {
      advance();
      const Token& attr = current();
      if (attr.type == TokenType::Integer) {  // x.0 is x[0]
        auto item = make_expr(Expr::Kind::Item, t);
        item->args.push_back(std::move(e));
        item->args.push_back(parse_integer(attr));
        e = std::move(item);
        continue;
      }
      if (attr.type != TokenType::Name) fail_at(attr, "expected an attribute name after '.'");
      auto a = make_expr(Expr::Kind::Attribute, t);
      a->name = attr.text;
      a->args.push_back(std::move(e));
      advance();
      e = std::move(a);
    } else if (at_operator("[")) {
      e = parse_subscript(std::move(e), t);
    } else if (at_operator("(")) {
      e = parse_call(std::move(e), t);
    } else {
      return e;
    }
  }
}

ExprPtr ExpressionParser::parse_subscript(ExprPtr object, const Token& t) {
  advance();
  ExprPtr parts[3];
  int colons = 0;
  for (int i = 0; i < 3; ++i) {
    if (!at_operator(":") && !at_operator("]")) parts[i] = parse_expression(true);
    if (i < 2 && at_operator(":")) {
      ++colons;
      advance();
    } else {
      break;
    }
  }
  expect_operator("]");
  auto e = make_expr(colons == 0 ? Expr::Kind::Item : Expr::Kind::Slice, t);
  e->args.push_back(std::move(object));
  if (colons == 0) {
    if (!parts[0]) fail_at(t, "expected an index inside '[]'");
    e->args.push_back(std::move(parts[0]));
  } else {
    for (auto& p : parts) e->args.push_back(std::move(p));
  }
  return e;
}

void ExpressionParser::parse_arguments(Expr& e) {
  expect_operator("(");
  bool first = true;
  while (!at_operator(")")) {
    if (!first) {
      expect_operator(",");
      if (at_operator(")")) break;
    }
    first = false;
    if (current().type == TokenType::Name && peek(1).type == TokenType::Operator && peek(1).text == "=") {
      std::string key = current().text;
      advance();
      advance();
      e.kwargs.emplace_back(std::move(key), parse_expression(true));
    } else {
      if (!e.kwargs.empty()) fail_at(current(), "positional argument after a keyword argument");
      e.args.push_back(parse_expression(true));
    }
  }
  advance();
}

ExprPtr ExpressionParser::parse_call(ExprPtr callee, const Token& t) {
  auto e = make_expr(Expr::Kind::Call, t);
  e->args.push_back(std::move(callee));
  parse_arguments(*e);
  return e;
}

ExprPtr ExpressionParser::parse_filters(ExprPtr e) {
  while (true) {
    if (at_operator("|")) {
      e = parse_filter_chain(std::move(e), true);
    } else if (at_name("is")) {
      e = parse_test(std::move(e));
    } else if (at_operator("(")) {
      e = parse_call(std::move(e), current());
    } else {
      return e;
    }
  }
}

ExprPtr ExpressionParser::parse_filter_chain(ExprPtr operand, bool once) {
  bool first = true;
  while (first || at_operator("|")) {
    if (at_operator("|")) advance();
    first = false;
    const Token& t = current();
    if (t.type != TokenType::Name) fail_at(t, "expected a filter name, got {}", describe(t));
    auto f = make_expr(Expr::Kind::Filter, t);
    f->name = dotted_name();
    f->args.push_back(std::move(operand));
    if (at_operator("(")) parse_arguments(*f);
    operand = std::move(f);
    if (once) break;
  }
  return operand;
}

std::string ExpressionParser::dotted_name() {
  std::string name = current().text;
  advance();
  while (at_operator(".") && peek(1).type == TokenType::Name) {
    name += "." + peek(1).text;
    advance();
    advance();
  }
  return name;
}

ExprPtr ExpressionParser::parse_test(ExprPtr operand) {
  advance();  // 'is'
  const Token& t = current();
  auto e = make_expr(Expr::Kind::Test, t);
  if (at_name("not")) {
    e->negated = true;
    advance();
  }
  if (current().type != TokenType::Name) fail_at(current(), "expected a test name after 'is'");
  e->name = dotted_name();
  e->args.push_back(std::move(operand));
  if (at_operator("(")) {
    parse_arguments(*e);
  } else if (takes_bare_test_argument()) {
    e->args.push_back(parse_primary());  // `is divisibleby 3`, `is sameas none`
  }
  return e;
}

bool ExpressionParser::takes_bare_test_argument() const {
  const Token& t = current();
  if (t.type == TokenType::String || t.type == TokenType::Integer || t.type == TokenType::Float) return true;
  if (t.type == TokenType::Name) return !is_one_of(t.text, {"else", "or", "and", "if", "not", "in", "is"});
  return t.type == TokenType::Operator && (t.text == "[" || t.text == "{");
}

}  // namespace helix::chat
