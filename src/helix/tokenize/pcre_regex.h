// A compiled PCRE2 regular expression for pre-tokenization: the split patterns
// of tokenizer.json (GPT-2, LLaMA-3, Qwen2), compiled with Unicode properties
// (PCRE2_UTF | PCRE2_UCP) and JIT when the library has it. Input need not be
// valid UTF-8 (PCRE2_MATCH_INVALID_UTF): invalid bytes are never part of a
// match, so a byte-level tokenizer still encodes every byte.
//
// Immutable after construction; find_all may be called from many threads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pcre2_real_code_8;

namespace helix {

class PcreRegex {
 public:
  enum class Syntax { kRegex, kLiteral };
  // Throws Error "`where`: ..." with PCRE2's message and the offset in the pattern.
  PcreRegex(std::string_view pattern, std::string_view where, Syntax syntax = Syntax::kRegex);
  ~PcreRegex();
  PcreRegex(PcreRegex&& other) noexcept;
  PcreRegex& operator=(PcreRegex&& other) noexcept;
  PcreRegex(const PcreRegex&) = delete;
  PcreRegex& operator=(const PcreRegex&) = delete;

  // [begin, end) of every non-empty match, left to right, not overlapping.
  std::vector<std::pair<std::size_t, std::size_t>> find_all(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::string where_;
  pcre2_real_code_8* code_ = nullptr;
};

}  // namespace helix
