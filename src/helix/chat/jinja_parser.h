// Parses the token stream of a template into a syntax tree, following jinja2's
// grammar and operator precedence (filters and `is` tests bind tighter than any
// binary operator: `'a' + x | trim` is `'a' + (x | trim)`).
//
// Supported statements: if/elif/else, for (with `if` filter, tuple targets and
// else), set (plain, tuple, `ns.attr`, and block form), macro, filter blocks,
// break/continue (transformers enables jinja2's loopcontrols), raw, and
// transformers' `{% generation %}` marker, which renders its body unchanged.
#pragma once

#include <string_view>
#include <vector>

#include "helix/chat/jinja_ast.h"
#include "helix/chat/jinja_lexer.h"

namespace helix::chat {

// Throws Error "line L, column C: ..." for a template that does not parse.
// Nesting deeper than 100 blocks or expression levels is refused, so a hostile
// template cannot overflow the stack.
Body parse_template(const std::vector<Token>& tokens);

}  // namespace helix::chat
