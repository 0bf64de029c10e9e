// The SentencePiece tokenizer (tokenizer.model of LLaMA-1/2, Mistral): encoding is
// sentencepiece::SentencePieceProcessor's; bos/eos are the model's own ids and
// add_bos defaults to true (these models are trained with a leading <s>).
//
// Decoding is done here, from a per-id table, so that it returns raw bytes
// (byte-fallback pieces <0xAB> are bytes, possibly half a character) and matches
// SentencePiece otherwise: U+2581 is a space, control pieces are nothing, and the
// first piece that produces text loses its leading space when the model adds a
// dummy prefix (checked by asking the processor once at load).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "helix/tokenize/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace helix {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Throws Error naming `model_file` when it is missing or not a model.
  static std::unique_ptr<SentencePieceTokenizer> load(const std::filesystem::path& model_file);
  ~SentencePieceTokenizer() override;

  std::vector<int> encode(std::string_view text) const override;
  std::string decode(std::span<const int> ids) const override;
  std::string token_bytes(int id) const override;
  int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  std::string_view kind() const override { return "sentencepiece"; }

 protected:
  std::optional<int> find_piece(std::string_view piece) const override;

 private:
  // What decode does with one id.
  struct Piece {
    std::string bytes;          // text with U+2581 as ' ', or the byte of <0xAB>
    bool leading_space = false; // bytes starts with a space that came from U+2581
  };
  SentencePieceTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor, std::string source);
  void build_piece_table();

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string source_;
  std::vector<Piece> pieces_;
  bool strips_first_space_ = true;
};

}  // namespace helix
