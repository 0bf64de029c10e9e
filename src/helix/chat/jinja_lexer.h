// Splits a Jinja template into tokens: runs of output text, the delimiters of
// `{{ ... }}` and `{% ... %}`, and the expression tokens between them. Comments
// `{# ... #}` and `{% raw %}` blocks are resolved here, and so is whitespace
// control, exactly as jinja2's lexer does it:
//  - `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`, `-#}`
//    strip all whitespace after it;
//  - trim_blocks drops the first newline after a block or comment tag;
//  - lstrip_blocks drops spaces and tabs between the start of a line and a block
//    or comment tag; `{%+` and `+%}` opt a tag out of either;
//  - newlines are normalised to "\n" and one trailing newline is dropped
//    (jinja2's keep_trailing_newline=False).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace helix::chat {

enum class TokenType {
  Text,           // template text, already whitespace-controlled
  VariableBegin,  // {{
  VariableEnd,    // }}
  BlockBegin,     // {%
  BlockEnd,       // %}
  Name,
  String,   // text holds the unescaped value
  Integer,  // text holds the digits, without '_'
  Float,    // text holds the literal, without '_'
  Operator,
  End,
};

struct Token {
  TokenType type;
  std::string text;
  int line = 1;
  int column = 1;
};

struct LexOptions {
  bool trim_blocks = false;    // jinja2's default; transformers sets it
  bool lstrip_blocks = false;  // likewise
};

// Throws Error naming the line and column of malformed input (an unclosed tag,
// comment or string, a character no token starts with).
std::vector<Token> tokenize(std::string_view source, const LexOptions& options);

}  // namespace helix::chat
