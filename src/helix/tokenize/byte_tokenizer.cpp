#include "helix/tokenize/byte_tokenizer.h"

namespace helix {

ByteTokenizer::ByteTokenizer() {
  SpecialTokenIds special;
  special.bos_id = kBosId;
  special.eos_id = kEosId;
  special.add_bos = true;
  set_special_tokens(special);
}

std::vector<int> ByteTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

std::string ByteTokenizer::decode(std::span<const int> ids) const {
  std::string out;
  out.reserve(ids.size());
  for (int id : ids) {
    check_id(id);
    if (id < 256) out.push_back(static_cast<char>(static_cast<unsigned char>(id)));
  }
  return out;
}

std::string ByteTokenizer::token_bytes(int id) const {
  check_id(id);
  if (id >= 256) return {};
  return std::string(1, static_cast<char>(static_cast<unsigned char>(id)));
}

std::optional<int> ByteTokenizer::find_piece(std::string_view piece) const {
  if (piece == "<bos>") return kBosId;
  if (piece == "<eos>") return kEosId;
  if (piece.size() == 1) return static_cast<unsigned char>(piece[0]);
  return std::nullopt;
}

std::unique_ptr<Tokenizer> make_byte_tokenizer() { return std::make_unique<ByteTokenizer>(); }

}  // namespace helix
