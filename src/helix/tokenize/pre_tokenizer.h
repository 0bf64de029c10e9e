// Pre-tokenization of Hugging Face tokenizers: splits a text segment (the text
// between added tokens) into the pieces that BPE encodes one by one, as
// tokenizer.json's "pre_tokenizer" describes. Supported:
//   ByteLevel {add_prefix_space, use_regex}  (use_regex: the GPT-2 pattern)
//   Split {pattern: {Regex|String}, behavior, invert}
//   Digits {individual_digits}
//   Metaspace {replacement, prepend_scheme (always/first/never) or add_prefix_space, split}
//             (SentencePiece-style: spaces become the replacement, "▁"; with split,
//             each word starts at one)
//   Sequence {pretokenizers: [...]} of these.
// Anything else is refused with an error naming the field. The byte-level
// mapping itself is done by the BPE model (it works on raw bytes).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "helix/tokenize/pcre_regex.h"

namespace helix {

// The GPT-2 pre-tokenization pattern (ByteLevel with use_regex).
inline constexpr std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class PreTokenizer {
 public:
  // From the "pre_tokenizer" value (null: each segment is one piece). `path` is
  // the field path used in errors.
  static PreTokenizer from_json(const nlohmann::json& config, std::string_view path = "pre_tokenizer");
  // ByteLevel with the GPT-2 pattern and no prefix space.
  static PreTokenizer gpt2();
  // Split steps with the Isolated behaviour, one per pattern, applied in order
  // (how llama.cpp pre-tokenizes a GGUF "gpt2" vocabulary). `where` names the
  // patterns' origin in errors.
  static PreTokenizer isolated_splits(const std::vector<std::string>& patterns, std::string_view where);

  // `at_input_start`: the segment begins the input (not after an added token);
  // Metaspace's prepend_scheme "first" prepends only there.
  std::vector<std::string> split(std::string_view segment, bool at_input_start = true) const;
  // Whether a ByteLevel step is present (a byte-level BPE needs one).
  bool has_byte_level() const { return has_byte_level_; }

  // How a Split step treats the matches (tokenizers' SplitDelimiterBehavior).
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

 private:
  struct Step {
    std::shared_ptr<const PcreRegex> regex;  // null: no splitting
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;
    // Metaspace: spaces -> `replacement`, which is prepended per `prepend`.
    bool metaspace = false;
    std::string replacement;
    enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;
  };
  void add_metaspace(const nlohmann::json& config, std::string_view path);
  static std::string apply_metaspace(const Step& step, std::string_view piece, bool at_input_start);
  void add_step(const nlohmann::json& config, std::string_view path);
  static void apply(const Step& step, std::string_view piece, std::vector<std::string>& out);

  std::vector<Step> steps_;
  bool has_byte_level_ = false;
};

}  // namespace helix
