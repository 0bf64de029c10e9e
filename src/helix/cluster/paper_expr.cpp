#include "helix/cluster/paper_expr.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include "helix/core/error.h"

namespace helix {
namespace {

struct Constant {
  std::string_view name;
  double value;
};

// simulator/event_simulator/utils.py (planner spec §0.1); bandwidths in the
// paper's bytes-per-second convention.
constexpr Constant kConstants[] = {
    {"kbps", 1e3}, {"mbps", 1e6}, {"gbps", 1e9}, {"Byte", 1.0},      {"KB", 1e3},
    {"MB", 1e6},   {"GB", 1e9},   {"Sec", 1.0},  {"MilliSec", 1e-3},
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Recursive-descent evaluator for  expr := unary (('*' | '/') unary)*,
// unary := ('-' | '+') unary | number | constant.
class Evaluator {
 public:
  explicit Evaluator(std::string_view text) : text_(text), rest_(text) {}

  double run() {
    double v = expression();
    skip_space();
    if (!rest_.empty()) bad(fmt::format("unexpected '{}'", rest_));
    if (!std::isfinite(v)) bad("the result is not a finite number");
    return v;
  }

 private:
  [[noreturn]] void bad(std::string_view why) const {
    fail("'{}' is not a number expression like '10 * gbps': {}", text_, why);
  }

  void skip_space() { rest_ = trim(rest_); }

  double expression() {
    double v = unary();
    for (skip_space(); !rest_.empty() && (rest_[0] == '*' || rest_[0] == '/'); skip_space()) {
      char op = rest_[0];
      rest_.remove_prefix(1);
      double rhs = unary();
      if (op == '/' && rhs == 0) bad("division by zero");
      v = op == '*' ? v * rhs : v / rhs;
    }
    return v;
  }

  double unary() {
    skip_space();
    if (rest_.empty()) bad("a number or unit is missing");
    if (rest_[0] == '-' || rest_[0] == '+') {
      char sign = rest_[0];
      rest_.remove_prefix(1);
      double v = unary();
      return sign == '-' ? -v : v;
    }
    if (std::isalpha(static_cast<unsigned char>(rest_[0])) != 0) return constant();
    return number();
  }

  double number() {
    double v = 0;
    auto [end, ec] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), v);
    if (ec != std::errc() || end == rest_.data()) bad(fmt::format("cannot read a number at '{}'", rest_));
    rest_.remove_prefix(static_cast<std::size_t>(end - rest_.data()));
    return v;
  }

  double constant() {
    std::size_t n = 0;
    while (n < rest_.size() && is_ident_char(rest_[n])) ++n;
    std::string_view name = rest_.substr(0, n);
    rest_.remove_prefix(n);
    for (const auto& c : kConstants) {
      if (c.name == name) return c.value;
    }
    bad(fmt::format("unknown unit '{}' (known: kbps, mbps, gbps, Byte, KB, MB, GB, Sec, MilliSec)", name));
  }

  std::string_view text_;
  std::string_view rest_;
};

// Splits the inside of "[a, 'b', c]" at commas outside quotes.
std::vector<std::string> split_items(std::string_view inside, std::string_view text) {
  std::vector<std::string> items;
  std::string current;
  char quote = 0;
  for (char c : inside) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      current += c;
    } else if (c == ',') {
      items.push_back(paper_string(current));
      current.clear();
    } else {
      if (c == '\'' || c == '"') quote = c;
      current += c;
    }
  }
  if (quote != 0) fail("'{}' has an unterminated quote", text);
  // A trailing comma (Python allows "[1, 2,]") leaves an empty last item.
  if (!trim(current).empty()) items.push_back(paper_string(current));
  return items;
}

}  // namespace

double paper_number(std::string_view text) { return Evaluator(text).run(); }

long long paper_integer(std::string_view text) {
  double v = paper_number(text);
  if (std::trunc(v) != v || std::fabs(v) > 9e15) fail("'{}' is not a whole number", text);
  return static_cast<long long>(v);
}

std::string paper_string(std::string_view text) {
  std::string_view s = trim(text);
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) {
    return std::string(s.substr(1, s.size() - 2));
  }
  if (s.empty()) fail("an empty value where a name was expected");
  for (char c : s) {
    if (c == '\'' || c == '"' || c == ',' || c == '[' || c == ']') {
      fail("'{}' is not a name or a quoted string", text);
    }
  }
  return std::string(s);
}

std::vector<std::string> paper_list(std::string_view text) {
  std::string_view s = trim(text);
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') {
    fail("'{}' is not a list like [0, 1, 'sink']", text);
  }
  std::string_view inside = s.substr(1, s.size() - 2);
  if (trim(inside).empty()) return {};
  return split_items(inside, text);
}

}  // namespace helix
