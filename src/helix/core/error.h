// Errors in helix are exceptions of one type, helix::Error, whose message already
// names the place (file:line, field) and says what was expected. They are thrown
// where bad input is found and caught once, at the CLI boundary, which prints the
// message on one line and exits non-zero. Library code never prints errors itself.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace helix {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Prefixes a message with a location: "where: message". Used to add context
// (the file name, the field path) when an error crosses a layer.
std::string with_context(std::string_view where, std::string_view message);

// Runs `body`; if it throws Error, rethrows with "where: " in front.
template <typename F>
auto in_context(std::string_view where, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    throw Error(with_context(where, e.what()));
  }
}

}  // namespace helix
