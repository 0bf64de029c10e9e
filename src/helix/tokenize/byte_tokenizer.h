// The byte tokenizer: token id = byte value, plus <bos> = 256 and <eos> = 257
// (vocabulary 258). It needs no files, encodes any byte string and is what the
// engine's tests use with tiny random models.
#pragma once

#include <memory>

#include "helix/tokenize/tokenizer.h"

namespace helix {

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr int kBosId = 256;
  static constexpr int kEosId = 257;
  static constexpr int kVocabSize = 258;

  ByteTokenizer();
  std::vector<int> encode(std::string_view text) const override;
  std::string decode(std::span<const int> ids) const override;
  std::string token_bytes(int id) const override;
  int vocab_size() const override { return kVocabSize; }
  std::string_view kind() const override { return "byte"; }

 protected:
  std::optional<int> find_piece(std::string_view piece) const override;
};

// A ByteTokenizer that adds <bos> in encode_with_bos and stops on <eos>.
std::unique_ptr<Tokenizer> make_byte_tokenizer();

}  // namespace helix
