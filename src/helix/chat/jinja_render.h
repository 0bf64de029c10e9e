// Runs a parsed template: jinja2's scoping (a for-loop body gets a fresh scope
// each iteration, so `set` inside it neither leaks out nor carries over to the
// next iteration; `if` opens no scope; a macro sees the template's top level and
// its own arguments), the `loop` object, macros, and the globals range,
// namespace and dict. Errors carry the line and column of the failing tag.
//
// Rendering is bounded: loop iterations, macro call depth and output size have
// limits, so a hostile template fails with an Error instead of hanging or
// exhausting memory.
#pragma once

#include <cstdint>
#include <string>

#include "helix/chat/jinja_ast.h"
#include "helix/chat/jinja_filters.h"
#include "helix/chat/jinja_value.h"

namespace helix::chat {

struct RenderLimits {
  std::int64_t max_loop_iterations = 1'000'000;  // all loops together, and range() sizes
  int max_call_depth = 64;                       // nested macro calls
  std::size_t max_output_bytes = 16 << 20;
};

// `variables` are the template's context (messages, bos_token, ...); they may
// shadow the globals.
std::string render_template(const Body& program, const Dict& variables, const FilterSettings& filters,
                            const RenderLimits& limits);

}  // namespace helix::chat
