// Jinja expressions, parsed by precedence climbing as jinja2 does: conditional
// `a if c else b`, or/and/not, chained comparisons and `in`, + - ~ * / // % **,
// unary signs, then postfix attribute/item/slice/call, and filters and `is` tests,
// which bind tighter than any binary operator (`'a' + x | trim` is `'a' + (x | trim)`).
// Internal to the chat module; TemplateParser parses the statements around them.
#pragma once

#include <string>

#include "helix/chat/jinja_token_cursor.h"

namespace helix::chat {

class ExpressionParser : public TokenCursor {
 public:
  using TokenCursor::TokenCursor;

 protected:
  // An expression, or several separated by commas (a tuple without parentheses).
  ExprPtr parse_tuple(bool with_conditional);
  ExprPtr parse_expression(bool with_conditional);
  // `| filter` and `is test` after an operand; a call may follow a filter.
  ExprPtr parse_filters(ExprPtr e);
  // One `| name(args)` (just one when `once`), else every filter in a chain.
  ExprPtr parse_filter_chain(ExprPtr operand, bool once = false);

 private:
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  // Comparisons chain as in Python: a < b < c means (a < b) and (b < c), with b
  // evaluated once.
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_name(const Token& t);
  ExprPtr parse_integer(const Token& t);
  ExprPtr parse_parenthesized(const Token& t);
  ExprPtr parse_list(const Token& t);
  ExprPtr parse_dict(const Token& t);
  ExprPtr parse_postfix(ExprPtr e);
  ExprPtr parse_subscript(ExprPtr object, const Token& t);
  // Arguments of a call, filter or test: positional, then name=value.
  void parse_arguments(Expr& e);
  ExprPtr parse_call(ExprPtr callee, const Token& t);
  std::string dotted_name();
  ExprPtr parse_test(ExprPtr operand);
  bool takes_bare_test_argument() const;
  template <typename Next>
  ExprPtr binary(Expr::Kind kind, const std::string& op, ExprPtr left, Next next);
};

}  // namespace helix::chat
