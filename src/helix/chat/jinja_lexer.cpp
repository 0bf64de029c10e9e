#include "helix/chat/jinja_lexer.h"

#include <algorithm>

#include "helix/chat/jinja_strings.h"
#include "helix/core/error.h"

namespace helix::chat {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// jinja2 splits on \r\n, \r and \n, joins with \n, and drops one trailing newline.
std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string rstrip_all(std::string_view text) {
  std::size_t end = text.size();
  while (end > 0 && is_space(text[end - 1])) --end;
  return std::string(text.substr(0, end));
}

class Lexer {
 public:
  Lexer(std::string_view source, const LexOptions& options) : src_(normalize_newlines(source)), options_(options) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const std::size_t open = find_tag(pos_);
      if (open == std::string::npos) {
        emit_text(src_.substr(pos_), pos_);
        break;
      }
      const char kind = src_[open + 1];
      const char sign = open + 2 < src_.size() && (src_[open + 2] == '-' || src_[open + 2] == '+') ? src_[open + 2] : 0;
      std::string text = left_strip(src_.substr(pos_, open - pos_), kind, sign);
      emit_text(std::move(text), pos_);
      pos_ = open + 2 + (sign != 0 ? 1 : 0);
      if (kind == '#') {
        lex_comment(open);
      } else if (kind == '%' && at_word("raw")) {
        lex_raw(open);
      } else {
        lex_tag(kind, open);
      }
    }
    tokens_.push_back(Token{TokenType::End, "", line_of(src_.size()), column_of(src_.size())});
    return std::move(tokens_);
  }

 private:
  std::size_t find_tag(std::size_t from) const {
    for (std::size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  // The text before a tag loses its trailing whitespace to `{%-`, or (with
  // lstrip_blocks) the indentation of a line that holds only the block tag.
  std::string left_strip(std::string text, char kind, char sign) const {
    if (sign == '-') return rstrip_all(text);
    if (sign == '+' || !options_.lstrip_blocks || kind == '{') return text;
    const std::size_t line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (line_start == 0 && !line_starting_) return text;
    if (line_start == text.size()) return text;
    const bool blank = std::all_of(text.begin() + static_cast<std::ptrdiff_t>(line_start), text.end(),
                                   [](char c) { return c != '\n' && is_space(c); });
    return blank ? text.substr(0, line_start) : text;
  }

  // The whitespace a closing `-%}` strips, or the newline trim_blocks drops.
  void after_tag_end(char sign, bool is_block) {
    if (sign == '-') {
      while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
    } else if (sign == 0 && is_block && options_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  void lex_comment(std::size_t open) {
    const std::size_t close = src_.find("#}", pos_);
    if (close == std::string::npos) fail_at(open, "unclosed comment: no '#}}' after it");
    const char sign = close > pos_ && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : 0;
    pos_ = close + 2;
    after_tag_end(sign, true);
  }

  bool at_word(std::string_view word) const {
    std::size_t p = pos_;
    while (p < src_.size() && is_space(src_[p])) ++p;
    return src_.compare(p, word.size(), word) == 0 && (p + word.size() >= src_.size() || !is_name_char(src_[p + word.size()]));
  }

  // {% raw %} ... {% endraw %}: the body is text, tags in it are not parsed.
  void lex_raw(std::size_t open) {
    pos_ = src_.find("raw", pos_) + 3;
    const char open_sign = skip_to_block_end(open);
    after_tag_end(open_sign == '-' ? '-' : '+', true);
    std::size_t search = pos_;
    while (true) {
      const std::size_t end_open = src_.find("{%", search);
      if (end_open == std::string::npos) fail_at(open, "unclosed raw block: no '{{% endraw %}}' after it");
      std::size_t p = end_open + 2;
      const char sign = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : 0;
      if (sign != 0) ++p;
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (src_.compare(p, 6, "endraw") != 0) {
        search = end_open + 2;
        continue;
      }
      emit_text(left_strip(src_.substr(pos_, end_open - pos_), '%', sign), pos_);
      pos_ = p + 6;
      after_tag_end(skip_to_block_end(end_open), true);
      return;
    }
  }

  // Skips whitespace up to `%}`, `-%}` or `+%}`; returns the sign.
  char skip_to_block_end(std::size_t open) {
    while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
    char sign = 0;
    if (pos_ < src_.size() && (src_[pos_] == '-' || src_[pos_] == '+')) sign = src_[pos_++];
    if (src_.compare(pos_, 2, "%}") != 0) fail_at(open, "expected '%}}' to close the raw tag");
    pos_ += 2;
    return sign;
  }

  // The tokens of one `{{ ... }}` or `{% ... %}`, up to and including its end.
  void lex_tag(char kind, std::size_t open) {
    const bool is_block = kind == '%';
    tokens_.push_back(Token{is_block ? TokenType::BlockBegin : TokenType::VariableBegin, is_block ? "{%" : "{{",
                            line_of(open), column_of(open)});
    const char end_char = is_block ? '%' : '}';
    int depth = 0;  // open brackets: a '}}' inside a dict literal does not end the tag
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
      if (pos_ >= src_.size()) {
        if (is_block) fail_at(open, "unclosed block tag: no '%}}'");
        fail_at(open, "unclosed expression: no '}}}}'");
      }
      if (depth == 0) {
        char sign = 0;
        std::size_t p = pos_;
        if (src_[p] == '-' || (is_block && src_[p] == '+')) sign = src_[p++];
        if (p + 1 < src_.size() && src_[p] == end_char && src_[p + 1] == '}') {
          tokens_.push_back(Token{is_block ? TokenType::BlockEnd : TokenType::VariableEnd, "", line_of(pos_), column_of(pos_)});
          pos_ = p + 2;
          after_tag_end(sign, is_block);
          return;
        }
      }
      lex_expression_token(depth);
    }
  }

  void lex_expression_token(int& depth) {
    const std::size_t start = pos_;
    const char c = src_[pos_];
    if (is_name_start(c)) {
      while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
      push(TokenType::Name, src_.substr(start, pos_ - start), start);
    } else if (is_digit(c)) {
      lex_number(start);
    } else if (c == '\'' || c == '"') {
      lex_string(start);
    } else {
      lex_operator(start, depth);
    }
  }

  std::string digits_from(std::size_t& p) const {
    std::string out;
    while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])))) {
      if (src_[p] != '_') out += src_[p];
      ++p;
    }
    return out;
  }

  void lex_number(std::size_t start) {
    std::size_t p = pos_;
    std::string text = digits_from(p);
    bool is_float = false;
    // After a '.', digits are an attribute index (`x.0`), never a float.
    const bool after_dot = !tokens_.empty() && tokens_.back().type == TokenType::Operator && tokens_.back().text == ".";
    if (!after_dot && p + 1 < src_.size() && src_[p] == '.' && is_digit(src_[p + 1])) {
      ++p;
      text += "." + digits_from(p);
      is_float = true;
    }
    if (!after_dot && p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      std::size_t q = p + 1;
      std::string exponent = "e";
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) exponent += src_[q++];
      if (q < src_.size() && is_digit(src_[q])) {
        exponent += digits_from(q);
        text += exponent;
        p = q;
        is_float = true;
      }
    }
    pos_ = p;
    push(is_float ? TokenType::Float : TokenType::Integer, text, start);
  }

  void lex_string(std::size_t start) {
    const char quote = src_[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) fail_at(start, "unterminated string literal");
      const char c = src_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos_ >= src_.size()) fail_at(start, "unterminated string literal");
      unescape(value, start);
    }
    push(TokenType::String, std::move(value), start);
  }

  // One backslash escape, as Python's "unicode-escape" codec reads it.
  void unescape(std::string& value, std::size_t start) {
    const char e = src_[pos_++];
    switch (e) {
      case '\n': return;  // line continuation
      case '\\': value += '\\'; return;
      case '\'': value += '\''; return;
      case '"': value += '"'; return;
      case 'a': value += '\a'; return;
      case 'b': value += '\b'; return;
      case 'f': value += '\f'; return;
      case 'n': value += '\n'; return;
      case 'r': value += '\r'; return;
      case 't': value += '\t'; return;
      case 'v': value += '\v'; return;
      case 'x': append_utf8(value, hex_escape(2, start)); return;
      case 'u': append_utf8(value, hex_escape(4, start)); return;
      case 'U': append_utf8(value, hex_escape(8, start)); return;
      default: break;
    }
    if (e >= '0' && e <= '7') {
      char32_t code = static_cast<char32_t>(e - '0');
      for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++i) {
        code = code * 8 + static_cast<char32_t>(src_[pos_++] - '0');
      }
      append_utf8(value, code);
      return;
    }
    value += '\\';  // Python keeps unknown escapes as they are
    value += e;
  }

  char32_t hex_escape(int count, std::size_t start) {
    char32_t code = 0;
    for (int i = 0; i < count; ++i) {
      const char h = pos_ < src_.size() ? src_[pos_] : '\0';
      int digit = -1;
      if (h >= '0' && h <= '9') digit = h - '0';
      if (h >= 'a' && h <= 'f') digit = h - 'a' + 10;
      if (h >= 'A' && h <= 'F') digit = h - 'A' + 10;
      if (digit < 0) fail_at(start, "truncated \\x, \\u or \\U escape in string literal");
      code = code * 16 + static_cast<char32_t>(digit);
      ++pos_;
    }
    if (code > 0x10FFFF) fail_at(start, "escape out of the Unicode range in string literal");
    return code;
  }

  void lex_operator(std::size_t start, int& depth) {
    static const char* const kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo) {
      if (src_.compare(pos_, 2, op) == 0) {
        pos_ += 2;
        push(TokenType::Operator, op, start);
        return;
      }
    }
    const char c = src_[pos_];
    if (std::string_view("+-/*%~[](){}<>=.:|,;").find(c) == std::string_view::npos) {
      fail_at(start, "unexpected character '{}'", std::string(1, c));
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) fail_at(start, "unexpected '{}'", std::string(1, c));
      --depth;
    }
    ++pos_;
    push(TokenType::Operator, std::string(1, c), start);
  }

  void push(TokenType type, std::string text, std::size_t at) {
    tokens_.push_back(Token{type, std::move(text), line_of(at), column_of(at)});
  }

  void emit_text(std::string text, std::size_t at) {
    if (!text.empty()) push(TokenType::Text, std::move(text), at);
  }

  // Index of the line holding `offset`, from 0.
  std::size_t line_index(std::size_t offset) const {
    return static_cast<std::size_t>(std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - line_starts_.begin()) - 1;
  }
  int line_of(std::size_t offset) const { return static_cast<int>(line_index(offset)) + 1; }
  int column_of(std::size_t offset) const { return static_cast<int>(offset - line_starts_[line_index(offset)]) + 1; }

  template <typename... Args>
  [[noreturn]] void fail_at(std::size_t offset, fmt::format_string<Args...> format, Args&&... args) const {
    fail("line {}, column {}: {}", line_of(offset), column_of(offset), fmt::format(format, std::forward<Args>(args)...));
  }

  std::string src_;
  LexOptions options_;
  std::size_t pos_ = 0;
  bool line_starting_ = true;  // the last tag ended at the start of a line
  std::vector<Token> tokens_;
  std::vector<std::size_t> line_starts_;  // offset of each line's first character
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexOptions& options) {
  return Lexer(source, options).run();
}

}  // namespace helix::chat
