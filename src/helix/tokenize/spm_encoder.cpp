#include "helix/tokenize/spm_encoder.h"

#include <queue>

#include <fmt/format.h>

#include "helix/core/error.h"

namespace helix {
namespace {

// A candidate merge of two adjacent symbols.
struct Bigram {
  int left;
  int right;
  float score;
  std::size_t size;
};

// Highest score first; the leftmost among equal scores.
struct WorseBigram {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

// The length of the character a byte starts, by its high nibble (a stray
// continuation byte is a character of its own).
std::size_t utf8_length(unsigned char lead) {
  static constexpr std::size_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

// The unknown token: the key's, else the first token of type unknown.
int unknown_id(const GgufVocab& vocab) {
  if (vocab.unknown_id >= 0) return vocab.unknown_id;
  for (int id = 0; id < vocab.size(); ++id) {
    if (vocab.type(id) == GgufTokenType::kUnknown) return id;
  }
  return -1;
}

}  // namespace

SpmEncoder::SpmEncoder(const GgufVocab& vocab) : scores_(vocab.scores) {
  ids_.reserve(vocab.tokens.size());
  // A text given to several ids maps to the last (as in llama.cpp).
  for (int id = 0; id < vocab.size(); ++id) ids_.insert_or_assign(vocab.tokens[static_cast<std::size_t>(id)], id);
  for (unsigned byte = 0; byte < 256; ++byte) {
    int id = find(fmt::format("<0x{:02X}>", byte));
    if (id < 0) id = find(std::string(1, static_cast<char>(byte)));
    if (id < 0) id = unknown_id(vocab);
    if (id < 0) {
      fail("tokenizer.ggml.tokens: no piece <0x{:02X}> and no unknown token: byte 0x{:02X} cannot be encoded", byte,
           byte);
    }
    byte_ids_[byte] = id;
  }
}

int SpmEncoder::find(std::string_view text) const {
  const auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

void SpmEncoder::encode(std::string_view text, std::vector<int>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> symbols;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t length = std::min(text.size() - pos, utf8_length(static_cast<unsigned char>(text[pos])));
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, pos + length < text.size() ? index + 1 : -1, pos, length});
    pos += length;
  }
  std::priority_queue<Bigram, std::vector<Bigram>, WorseBigram> queue;
  const auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<std::size_t>(left)];
    const Symbol& r = symbols[static_cast<std::size_t>(right)];
    const std::string_view joined = text.substr(l.begin, l.size + r.size);
    const int id = find(joined);
    if (id < 0) return;
    queue.push({left, right, scores_[static_cast<std::size_t>(id)], joined.size()});
  };
  for (std::size_t i = 1; i < symbols.size(); ++i) consider(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<std::size_t>(bigram.left)];
    Symbol& right = symbols[static_cast<std::size_t>(bigram.right)];
    // Stale: one side was merged away, or grew, since the pair was queued.
    if (left.size == 0 || right.size == 0 || left.size + right.size != bigram.size) continue;
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = bigram.left;
    consider(left.prev, bigram.left);
    consider(bigram.left, left.next);
  }
  for (int i = 0; i != -1; i = symbols[static_cast<std::size_t>(i)].next) {
    const Symbol& symbol = symbols[static_cast<std::size_t>(i)];
    const std::string_view piece = text.substr(symbol.begin, symbol.size);
    if (const int id = find(piece); id >= 0) {
      out.push_back(id);
    } else {
      for (char byte : piece) out.push_back(byte_ids_[static_cast<unsigned char>(byte)]);
    }
  }
}

}  // namespace helix
