#define PCRE2_CODE_UNIT_WIDTH 8
#include "helix/tokenize/pcre_regex.h"

#include <pcre2.h>

#include <memory>

#include "helix/core/error.h"
#include "helix/tokenize/utf8.h"

namespace helix {
namespace {

std::string pcre_message(int code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(code, buffer, sizeof(buffer));
  if (length < 0) return fmt::format("PCRE2 error {}", code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(length));
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

}  // namespace

PcreRegex::PcreRegex(std::string_view pattern, std::string_view where, Syntax syntax)
    : pattern_(pattern), where_(where) {
  // PCRE2_LITERAL allows no UCP (a literal needs no character properties).
  std::uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  options |= syntax == Syntax::kLiteral ? PCRE2_LITERAL : PCRE2_UCP;
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(), options, &error_code,
                        &error_offset, nullptr);
  if (code_ == nullptr) {
    fail("{}: cannot compile regex \"{}\": {} at offset {}", where_, pattern_, pcre_message(error_code),
         error_offset);
  }
  // JIT is an optimisation: without it (unsupported platform) matching still works.
  (void)pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
}

PcreRegex::~PcreRegex() { pcre2_code_free(code_); }

PcreRegex::PcreRegex(PcreRegex&& other) noexcept
    : pattern_(std::move(other.pattern_)), where_(std::move(other.where_)), code_(other.code_) {
  other.code_ = nullptr;
}

PcreRegex& PcreRegex::operator=(PcreRegex&& other) noexcept {
  if (this != &other) {
    pcre2_code_free(code_);
    pattern_ = std::move(other.pattern_);
    where_ = std::move(other.where_);
    code_ = other.code_;
    other.code_ = nullptr;
  }
  return *this;
}

std::vector<std::pair<std::size_t, std::size_t>> PcreRegex::find_all(std::string_view text) const {
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(pcre2_match_data_create_from_pattern(code_, nullptr));
  if (!match) fail("{}: out of memory for regex match data", where_);
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::size_t offset = 0;
  while (offset < text.size()) {
    int rc = pcre2_match(code_, subject, text.size(), offset, 0, match.get(), nullptr);
    // The JIT's fixed stack can overflow on huge inputs; the interpreter grows its own.
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc = pcre2_match(code_, subject, text.size(), offset, PCRE2_NO_JIT, match.get(), nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("{}: regex \"{}\" failed at byte {}: {}", where_, pattern_, offset, pcre_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    const std::size_t begin = ovector[0];
    const std::size_t end = ovector[1];
    if (end > begin) {
      spans.emplace_back(begin, end);
      offset = end;
    } else {  // an empty match: step over one character so the scan moves on
      offset = begin + decode_utf8_at(text, begin).length;
    }
  }
  return spans;
}

}  // namespace helix
