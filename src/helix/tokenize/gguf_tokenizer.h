// The tokenizer of a GGUF file, from its own vocabulary (gguf_vocab.h), tokenizing
// as llama.cpp does so that a GGUF model sees the ids it was trained on:
//   "llama": SentencePiece-style (spm_encoder.h), spaces as U+2581 and a space
//            prefixed to text that starts the input or follows a special token;
//   "gpt2":  byte-level BPE (bpe_model.h) over the pre-tokens of the split regexes
//            tokenizer.ggml.pre names (gguf_pre_tokenizers.h).
// Special tokens in the text are cut out first (special_partition.h), longest
// first. Decoding follows the token types: normal tokens are their text (U+2581
// as a space, or byte-level text as bytes), byte tokens <0xAB> a byte,
// user-defined tokens their text as is, control tokens nothing.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "helix/tokenize/bpe_model.h"
#include "helix/tokenize/gguf_vocab.h"
#include "helix/tokenize/pre_tokenizer.h"
#include "helix/tokenize/special_partition.h"
#include "helix/tokenize/spm_encoder.h"
#include "helix/tokenize/tokenizer.h"

namespace helix {

class GgufTokenizer final : public Tokenizer {
 public:
  // Errors are prefixed with `source` (the file).
  static std::unique_ptr<GgufTokenizer> from_vocab(GgufVocab vocab, std::string source);

  // Control tokens written in the text (<|im_start|>, <s>) become those tokens,
  // as a rendered chat template needs.
  std::vector<int> encode(std::string_view text) const override { return encode(text, true); }
  // With parse_control false only user-defined tokens are cut out of the text
  // (llama.cpp's parse_special=false, under which its tokenizer tests run).
  std::vector<int> encode(std::string_view text, bool parse_control) const;
  std::string decode(std::span<const int> ids) const override;
  std::string token_bytes(int id) const override;
  int vocab_size() const override { return vocab_.size(); }
  std::string_view kind() const override { return spm_ ? "sentencepiece" : "bpe"; }

  const GgufVocab& vocab() const { return vocab_; }

 protected:
  std::optional<int> find_piece(std::string_view piece) const override;

 private:
  struct Piece {
    std::string bytes;           // what the id decodes to
    bool leading_space = false;  // bytes starts with a space that came from U+2581
  };
  GgufTokenizer(GgufVocab vocab, std::string source);
  void build_pieces();
  void build_partitions();
  void build_encoder();
  SpecialTokenIds special_ids() const;
  void encode_spm(std::span<const TextFragment> fragments, std::vector<int>& out) const;
  void encode_bpe(std::span<const TextFragment> fragments, std::vector<int>& out) const;

  GgufVocab vocab_;
  std::string source_;
  std::vector<Piece> pieces_;
  std::unordered_map<std::string, int> ids_by_text_;
  std::unique_ptr<SpecialPartition> with_control_;
  std::unique_ptr<SpecialPartition> user_defined_;
  std::unique_ptr<SpmEncoder> spm_;
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  bool add_space_prefix_ = false;
  bool default_add_bos_ = false;
};

}  // namespace helix
