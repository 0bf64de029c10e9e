// The Hugging Face BPE tokenizer: byte-level (tokenizer.json of GPT-2, LLaMA-3,
// Qwen2 and of `helix model init`) or SentencePiece-style with byte fallback
// (LLaMA-2, Mistral: Prepend/Replace normalizers or a Metaspace pre-tokenizer).
// Added tokens are split off first, the rest is normalized, pre-tokenized and
// each pre-token is BPE-encoded. Decoding joins the tokens' bytes (special
// tokens dropped); a SentencePiece-style decoder also turns "▁" into spaces and
// strips the first leading space.
//
// The post_processor matters only for the bos: a TemplateProcessing whose single
// template starts with a special token (LLaMA-3's <|begin_of_text|>) makes that
// the bos and sets add_bos. What the loader cannot honour (other model types,
// normalizers, decoders, BPE dropout, ...) is refused with an error naming the
// field, never ignored.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "helix/tokenize/added_tokens.h"
#include "helix/tokenize/bpe_model.h"
#include "helix/tokenize/normalizer.h"
#include "helix/tokenize/pre_tokenizer.h"
#include "helix/tokenize/tokenizer.h"

namespace helix {

class HfBpeTokenizer final : public Tokenizer {
 public:
  // From a parsed tokenizer.json; errors are prefixed with `source` (the file).
  static std::unique_ptr<HfBpeTokenizer> from_json(const nlohmann::json& tokenizer,
                                                   std::string_view source = "tokenizer.json");
  // Reads and parses `file` (a tokenizer.json).
  static std::unique_ptr<HfBpeTokenizer> load(const std::filesystem::path& file);

  std::vector<int> encode(std::string_view text) const override;
  std::string decode(std::span<const int> ids) const override;
  std::string token_bytes(int id) const override;
  int vocab_size() const override { return vocab_size_; }
  std::string_view kind() const override { return "bpe"; }

  // The pre-tokens of plain `text` (no added tokens), after normalization; lets
  // tests and tools see how the text is split.
  std::vector<std::string> pre_tokens(std::string_view text, bool at_input_start = true) const;

  // What the decoder does beyond joining token bytes (character BPE only).
  struct DecoderSteps {
    std::vector<std::pair<std::string, std::string>> replacements;  // e.g. "▁" -> " "
    int strip_leading_spaces = 0;                                   // of the first text decoded
  };
  const std::vector<AddedToken>& added_tokens() const { return added_list_; }

 protected:
  std::optional<int> find_piece(std::string_view piece) const override;

 private:
  HfBpeTokenizer(BpeModel model, PreTokenizer pre_tokenizer, Normalizer normalizer);
  void read_added_tokens(const nlohmann::json& list);
  void read_post_processor(const nlohmann::json& config, std::string_view path, SpecialTokenIds& special) const;
  void append_token_bytes(int id, std::string& out) const;

  BpeModel model_;
  PreTokenizer pre_tokenizer_;
  Normalizer normalizer_;
  AddedTokenMatcher added_;
  std::vector<AddedToken> added_list_;
  std::unordered_map<int, std::size_t> added_by_id_;         // id -> index into added_list_
  std::unordered_map<std::string, int> added_by_content_;
  int vocab_size_ = 0;
  DecoderSteps decoder_;
};

}  // namespace helix
