// The syntax tree of a parsed Jinja template: expressions and statements, each
// with the line and column it starts at so that errors can point at it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "helix/chat/jinja_value.h"

namespace helix::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Literal,      // value
    Name,         // name
    ListLiteral,   // args: elements
    TupleLiteral,  // args: elements
    DictLiteral,   // args: key, value, key, value...
    Attribute,    // args[0].name
    Item,         // args[0][args[1]]
    Slice,        // args[0][args[1]:args[2]:args[3]], absent parts null
    Call,         // args[0](args[1:], kwargs)
    Filter,       // args[0] | name(args[1:], kwargs); args[0] null in a filter block
    Test,         // args[0] is [not] name(args[1:])
    Not,          // not args[0]
    Negate,       // -args[0]
    Plus,         // +args[0]
    Binary,       // args[0] name args[1]: + - * / // % ** ~
    Compare,      // args[0] operators[0] args[1] operators[1] args[2]...: == != < <= > >= in, not in
    And,          // args[0] and args[1]
    Or,           // args[0] or args[1]
    Conditional,  // args[1] if args[0] else args[2] (args[2] may be null)
  };

  Kind kind;
  int line = 0;
  int column = 0;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> operators;  // Compare
  bool negated = false;                // `is not`
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    Text,         // text
    Output,       // {{ expr }}
    If,           // branches, else_body
    For,          // for targets in expr [if condition]: body [else: else_body]
    Set,          // set targets = expr; `set ns.attr = expr` has attribute set
    SetBlock,     // set targets[0]: body, piped through filter if any
    Macro,        // macro name(params): body
    FilterBlock,  // filter (filter with a null operand): body
    Break,
    Continue,
  };

  Kind kind;
  int line = 0;
  int column = 0;
  std::string text;
  std::string name;       // Macro name; Set: the namespace attribute when targets = {namespace}
  std::vector<std::string> targets;
  ExprPtr expr;
  ExprPtr condition;
  ExprPtr filter;
  std::vector<std::pair<ExprPtr, Body>> branches;
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro: name and default (may be null)
  Body body;
  Body else_body;
};

}  // namespace helix::chat
