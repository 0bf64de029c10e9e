// The "normalizer" of a Hugging Face tokenizer.json, applied to the text between
// added tokens before pre-tokenization. Supported, in any Sequence:
//   NFC;
//   Prepend {prepend}                      (LLaMA-2/Mistral: "▁" before each non-empty segment);
//   Replace {pattern: {String}, content}   (LLaMA-2/Mistral: " " -> "▁").
// Anything else is refused with an error naming the field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace helix {

class Normalizer {
 public:
  static Normalizer from_json(const nlohmann::json& config, std::string_view path = "normalizer");
  static Normalizer none() { return Normalizer(); }

  std::string apply(std::string_view text) const;
  bool is_identity() const { return steps_.empty(); }

 private:
  struct Step {
    enum class Kind { kNfc, kPrepend, kReplace } kind = Kind::kNfc;
    std::string text;     // Prepend: what; Replace: the literal pattern
    std::string content;  // Replace: the replacement
  };
  void add_step(const nlohmann::json& config, std::string_view path);

  std::vector<Step> steps_;
};

}  // namespace helix
