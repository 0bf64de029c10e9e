// The "normalizer" of a Hugging Face tokenizer.json, applied to the text between
// added tokens before pre-tokenization. Supported: null (none), NFC, and a
// Sequence of those; anything else is refused with an error naming the field.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace helix {

class Normalizer {
 public:
  static Normalizer from_json(const nlohmann::json& config, std::string_view path = "normalizer");
  static Normalizer none() { return Normalizer(); }

  std::string apply(std::string_view text) const;
  bool is_identity() const { return !nfc_; }

 private:
  bool nfc_ = false;
};

}  // namespace helix
