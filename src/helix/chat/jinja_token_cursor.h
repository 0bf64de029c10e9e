// The token stream under a hand-written parser (internal to the chat module): the
// position, look-ahead, `expect` checks whose errors name the line and column, the
// node constructors, and the nesting bound that keeps a hostile template from
// overflowing the stack. ExpressionParser and TemplateParser build on it.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "helix/chat/jinja_ast.h"
#include "helix/chat/jinja_lexer.h"
#include "helix/core/error.h"

namespace helix::chat {

inline bool is_one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options) {
    if (s == o) return true;
  }
  return false;
}

class TokenCursor {
 public:
  // Blocks and expression levels deeper than this are refused.
  static constexpr int kMaxNesting = 100;

  explicit TokenCursor(const std::vector<Token>& tokens) : tokens_(tokens) {}

 protected:
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

  // A Node or Expr of `kind` that points at t's line and column (for errors).
  template <typename T>
  static std::unique_ptr<T> make_at(typename T::Kind kind, const Token& t) {
    auto made = std::make_unique<T>();
    made->kind = kind;
    made->line = t.line;
    made->column = t.column;
    return made;
  }
  static NodePtr make_node(Node::Kind kind, const Token& t) { return make_at<Node>(kind, t); }
  static ExprPtr make_expr(Expr::Kind kind, const Token& t) { return make_at<Expr>(kind, t); }

  template <typename... Args>
  [[noreturn]] static void fail_at(const Token& t, fmt::format_string<Args...> format, Args&&... args) {
    fail("line {}, column {}: {}", t.line, t.column, fmt::format(format, std::forward<Args>(args)...));
  }

  // Bounds the recursion of nested blocks and expressions (kMaxNesting).
  struct NestingGuard {
    NestingGuard(TokenCursor& c, const Token& t) : cursor(c) {
      if (++cursor.depth_ > kMaxNesting) fail_at(t, "nesting deeper than {} levels", kMaxNesting);
    }
    ~NestingGuard() { --cursor.depth_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;
    TokenCursor& cursor;
  };

 private:
  const std::vector<Token>& tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace helix::chat
