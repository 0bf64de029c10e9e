#include "helix/chat/jinja_parser.h"

#include <charconv>
#include <cstdlib>
#include <initializer_list>

#include "helix/core/error.h"

namespace helix::chat {
namespace {

constexpr int kMaxNesting = 100;

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options) {
    if (s == o) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Body parse() {
    std::string end_tag;
    Body body = parse_body({}, end_tag);
    return body;
  }

 private:
  // ---- statements ----

  // Nodes up to a `{% tag %}` whose name is in `end_tags`; consumes the
  // `{%` and the tag name and stores it in `found`. Empty `end_tags`: to the end.
  Body parse_body(std::initializer_list<std::string_view> end_tags, std::string& found) {
    const std::string saved = expected_end_tags_;
    expected_end_tags_.clear();
    for (auto tag : end_tags) expected_end_tags_ += (expected_end_tags_.empty() ? "'" : ", '") + std::string(tag) + "'";
    Body body = parse_body_until(end_tags, found);
    expected_end_tags_ = saved;
    return body;
  }

  Body parse_body_until(std::initializer_list<std::string_view> end_tags, std::string& found) {
    Body body;
    while (true) {
      const Token& t = current();
      if (t.type == TokenType::End) {
        if (end_tags.size() == 0) return body;
        fail_at(t, "unexpected end of template: expected one of {}", expected_end_tags_);
      }
      if (t.type == TokenType::Text) {
        body.push_back(text_node(t));
        advance();
      } else if (t.type == TokenType::VariableBegin) {
        body.push_back(output_node());
      } else if (t.type == TokenType::BlockBegin) {
        const Token& tag = peek(1);
        if (tag.type == TokenType::Name && is_one_of(tag.text, end_tags)) {
          found = tag.text;
          advance();
          advance();
          return body;
        }
        parse_statement(body);
      } else {
        fail_at(t, "unexpected '{}'", t.text);
      }
    }
  }

  NodePtr text_node(const Token& t) {
    auto n = make_node(Node::Kind::Text, t);
    n->text = t.text;
    return n;
  }

  NodePtr output_node() {
    auto n = make_node(Node::Kind::Output, current());
    advance();
    n->expr = parse_tuple(true);
    expect(TokenType::VariableEnd, "'}}'");
    return n;
  }

  void parse_statement(Body& body) {
    const Token& begin = current();
    advance();
    const Token& tag = current();
    if (tag.type != TokenType::Name) fail_at(tag, "expected a tag name after '{{%'");
    NestingGuard guard(*this, tag);
    advance();
    const std::string& name = tag.text;
    if (name == "if") {
      body.push_back(parse_if(begin));
    } else if (name == "for") {
      body.push_back(parse_for(begin));
    } else if (name == "set") {
      body.push_back(parse_set(begin));
    } else if (name == "macro") {
      body.push_back(parse_macro(begin));
    } else if (name == "filter") {
      body.push_back(parse_filter_block(begin));
    } else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) fail_at(tag, "'{}' outside a for loop", name);
      body.push_back(make_node(name == "break" ? Node::Kind::Break : Node::Kind::Continue, begin));
      expect_block_end();
    } else if (name == "generation") {
      expect_block_end();
      std::string found;
      for (auto& n : parse_body({"endgeneration"}, found)) body.push_back(std::move(n));
      expect_block_end();
    } else if (name.rfind("end", 0) == 0 || name == "else" || name == "elif") {
      if (expected_end_tags_.empty()) fail_at(tag, "unexpected '{}': no block is open", name);
      fail_at(tag, "unexpected '{}': the innermost open block expects one of {}", name, expected_end_tags_);
    } else {
      fail_at(tag, "unknown or unsupported tag '{}'", name);
    }
  }

  NodePtr parse_if(const Token& begin) {
    auto n = make_node(Node::Kind::If, begin);
    ExprPtr condition = parse_expression(true);
    while (true) {
      expect_block_end();
      std::string found;
      Body branch = parse_body({"elif", "else", "endif"}, found);
      n->branches.emplace_back(std::move(condition), std::move(branch));
      if (found == "elif") {
        condition = parse_expression(true);
        continue;
      }
      if (found == "else") {
        expect_block_end();
        n->else_body = parse_body({"endif"}, found);
      }
      expect_block_end();
      return n;
    }
  }

  NodePtr parse_for(const Token& begin) {
    auto n = make_node(Node::Kind::For, begin);
    n->targets = parse_target_names();
    expect_name("in");
    n->expr = parse_tuple(false);
    if (at_name("if")) {
      advance();
      n->condition = parse_expression(true);
    }
    if (at_name("recursive")) fail_at(current(), "recursive for loops are not supported");
    expect_block_end();
    std::string found;
    ++loop_depth_;
    n->body = parse_body({"else", "endfor"}, found);
    --loop_depth_;
    if (found == "else") {
      expect_block_end();
      n->else_body = parse_body({"endfor"}, found);
    }
    expect_block_end();
    return n;
  }

  std::vector<std::string> parse_target_names() {
    std::vector<std::string> names;
    const bool parenthesized = at_operator("(");
    if (parenthesized) advance();
    do {
      if (!names.empty()) advance();  // the ','
      if (current().type != TokenType::Name) fail_at(current(), "expected a variable name, got '{}'", current().text);
      names.push_back(current().text);
      advance();
    } while (at_operator(","));
    if (parenthesized) expect_operator(")");
    return names;
  }

  NodePtr parse_set(const Token& begin) {
    auto n = make_node(Node::Kind::Set, begin);
    if (current().type == TokenType::Name && peek(1).type == TokenType::Operator && peek(1).text == ".") {
      n->targets.push_back(current().text);
      advance();
      advance();
      if (current().type != TokenType::Name) fail_at(current(), "expected an attribute name after '.'");
      n->name = current().text;
      advance();
    } else {
      n->targets = parse_target_names();
    }
    if (at_operator("=")) {
      advance();
      n->expr = parse_tuple(true);
      expect_block_end();
      return n;
    }
    if (n->targets.size() != 1 || !n->name.empty()) fail_at(begin, "a block 'set' takes one variable name");
    n->kind = Node::Kind::SetBlock;
    if (at_operator("|")) n->filter = parse_filters(nullptr);
    expect_block_end();
    std::string found;
    n->body = parse_body({"endset"}, found);
    expect_block_end();
    return n;
  }

  NodePtr parse_macro(const Token& begin) {
    auto n = make_node(Node::Kind::Macro, begin);
    if (current().type != TokenType::Name) fail_at(current(), "expected a macro name");
    n->name = current().text;
    advance();
    expect_operator("(");
    while (!at_operator(")")) {
      if (!n->params.empty()) expect_operator(",");
      if (current().type != TokenType::Name) fail_at(current(), "expected a parameter name");
      std::string param = current().text;
      advance();
      ExprPtr fallback;
      if (at_operator("=")) {
        advance();
        fallback = parse_expression(true);
      }
      n->params.emplace_back(std::move(param), std::move(fallback));
    }
    advance();
    expect_block_end();
    std::string found;
    const int saved = loop_depth_;
    loop_depth_ = 0;
    n->body = parse_body({"endmacro"}, found);
    loop_depth_ = saved;
    expect_block_end();
    return n;
  }

  NodePtr parse_filter_block(const Token& begin) {
    auto n = make_node(Node::Kind::FilterBlock, begin);
    n->filter = parse_filter_chain(nullptr);
    expect_block_end();
    std::string found;
    n->body = parse_body({"endfilter"}, found);
    expect_block_end();
    return n;
  }

  // ---- expressions, lowest precedence first ----

  // An expression, or several separated by commas (a tuple without parentheses).
  ExprPtr parse_tuple(bool with_conditional) {
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

  ExprPtr parse_expression(bool with_conditional) {
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

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) left = binary(Expr::Kind::Or, "", std::move(left), [this] { return parse_and(); });
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) left = binary(Expr::Kind::And, "", std::move(left), [this] { return parse_not(); });
    return left;
  }

  ExprPtr parse_not() {
    if (!at_name("not")) return parse_compare();
    const Token& t = current();
    advance();
    NestingGuard guard(*this, t);
    auto n = make_expr(Expr::Kind::Not, t);
    n->args.push_back(parse_not());
    return n;
  }

  // Comparisons chain as in Python: a < b < c means (a < b) and (b < c), with b
  // evaluated once.
  ExprPtr parse_compare() {
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

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (at_operator("+") || at_operator("-")) {
      const std::string op = current().text;
      left = binary(Expr::Kind::Binary, op, std::move(left), [this] { return parse_concat(); });
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (at_operator("~")) left = binary(Expr::Kind::Binary, "~", std::move(left), [this] { return parse_math2(); });
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (at_operator("*") || at_operator("/") || at_operator("//") || at_operator("%")) {
      const std::string op = current().text;
      left = binary(Expr::Kind::Binary, op, std::move(left), [this] { return parse_pow(); });
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (at_operator("**")) left = binary(Expr::Kind::Binary, "**", std::move(left), [this] { return parse_unary(true); });
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
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

  ExprPtr parse_primary() {
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

  ExprPtr parse_name(const Token& t) {
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

  ExprPtr parse_integer(const Token& t) {
    auto e = make_expr(Expr::Kind::Literal, t);
    std::int64_t v = 0;
    const auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (r.ec != std::errc()) fail_at(t, "integer literal {} is out of the 64-bit range", t.text);
    e->value = Value::integer(v);
    advance();
    return e;
  }

  ExprPtr parse_parenthesized(const Token& t) {
    advance();
    if (at_operator(")")) {
      advance();
      return make_expr(Expr::Kind::TupleLiteral, t);
    }
    ExprPtr e = parse_tuple(true);
    expect_operator(")");
    return e;
  }

  ExprPtr parse_list(const Token& t) {
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

  ExprPtr parse_dict(const Token& t) {
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

  ExprPtr parse_postfix(ExprPtr e) {
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

  ExprPtr parse_subscript(ExprPtr object, const Token& t) {
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

  // Arguments of a call, filter or test: positional, then name=value.
  void parse_arguments(Expr& e) {
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

  ExprPtr parse_call(ExprPtr callee, const Token& t) {
    auto e = make_expr(Expr::Kind::Call, t);
    e->args.push_back(std::move(callee));
    parse_arguments(*e);
    return e;
  }

  // `| filter` and `is test` after an operand; a call may follow a filter.
  ExprPtr parse_filters(ExprPtr e) {
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

  // One `| name(args)` (just one when `once`), else every filter in a chain.
  ExprPtr parse_filter_chain(ExprPtr operand, bool once = false) {
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

  std::string dotted_name() {
    std::string name = current().text;
    advance();
    while (at_operator(".") && peek(1).type == TokenType::Name) {
      name += "." + peek(1).text;
      advance();
      advance();
    }
    return name;
  }

  ExprPtr parse_test(ExprPtr operand) {
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

  bool takes_bare_test_argument() const {
    const Token& t = current();
    if (t.type == TokenType::String || t.type == TokenType::Integer || t.type == TokenType::Float) return true;
    if (t.type == TokenType::Name) return !is_one_of(t.text, {"else", "or", "and", "if", "not", "in", "is"});
    return t.type == TokenType::Operator && (t.text == "[" || t.text == "{");
  }

  template <typename Next>
  ExprPtr binary(Expr::Kind kind, const std::string& op, ExprPtr left, Next next) {
    const Token& t = current();
    advance();
    auto e = make_expr(kind, t);
    e->name = op;
    e->args.push_back(std::move(left));
    e->args.push_back(next());
    return e;
  }

  // ---- token helpers ----

  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(std::size_t ahead) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool at_operator(std::string_view op) const {
    return current().type == TokenType::Operator && current().text == op;
  }
  bool at_name(std::string_view name) const { return current().type == TokenType::Name && current().text == name; }
  bool at_end_of_expression() const {
    const TokenType t = current().type;
    return t == TokenType::VariableEnd || t == TokenType::BlockEnd || at_operator(")") || at_operator("]");
  }

  void expect(TokenType type, std::string_view what) {
    if (current().type != type) fail_at(current(), "expected {}, got {}", what, describe(current()));
    advance();
  }
  void expect_block_end() { expect(TokenType::BlockEnd, "'%}'"); }
  void expect_operator(std::string_view op) {
    if (!at_operator(op)) fail_at(current(), "expected '{}', got {}", op, describe(current()));
    advance();
  }
  void expect_name(std::string_view name) {
    if (!at_name(name)) fail_at(current(), "expected '{}', got {}", name, describe(current()));
    advance();
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::End: return "the end of the template";
      case TokenType::BlockEnd: return "the end of the tag '%}'";
      case TokenType::VariableEnd: return "the end of the expression '}}'";
      case TokenType::Text: return "template text";
      case TokenType::String: return "a string";
      default: return "'" + t.text + "'";
    }
  }

  static NodePtr make_node(Node::Kind kind, const Token& t) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->line = t.line;
    n->column = t.column;
    return n;
  }

  static ExprPtr make_expr(Expr::Kind kind, const Token& t) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = t.line;
    e->column = t.column;
    return e;
  }

  template <typename... Args>
  [[noreturn]] static void fail_at(const Token& t, fmt::format_string<Args...> format, Args&&... args) {
    fail("line {}, column {}: {}", t.line, t.column, fmt::format(format, std::forward<Args>(args)...));
  }

  // Bounds the recursion of nested blocks and expressions.
  struct NestingGuard {
    NestingGuard(Parser& p, const Token& t) : parser(p) {
      if (++parser.depth_ > kMaxNesting) fail_at(t, "nesting deeper than {} levels", kMaxNesting);
    }
    ~NestingGuard() { --parser.depth_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;
    Parser& parser;
  };

  const std::vector<Token>& tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::string expected_end_tags_;  // of the innermost open block, for error messages
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens) { return Parser(tokens).parse(); }

}  // namespace helix::chat
