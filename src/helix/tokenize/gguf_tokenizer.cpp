#include "helix/tokenize/gguf_tokenizer.h"

#include <algorithm>

#include "helix/core/error.h"
#include "helix/tokenize/byte_level_alphabet.h"
#include "helix/tokenize/gguf_pre_tokenizers.h"
#include "helix/tokenize/sentencepiece_pieces.h"

namespace helix {
namespace {

// What <unk> decodes to: SentencePiece's " \u2047 " (llama.cpp prints U+2585 instead).
constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 ";

bool is_special_type(GgufTokenType type) {
  return type == GgufTokenType::kControl || type == GgufTokenType::kUserDefined || type == GgufTokenType::kUnknown;
}

}  // namespace

GgufTokenizer::GgufTokenizer(GgufVocab vocab, std::string source)
    : vocab_(std::move(vocab)), source_(std::move(source)) {}

std::unique_ptr<GgufTokenizer> GgufTokenizer::from_vocab(GgufVocab vocab, std::string source) {
  std::unique_ptr<GgufTokenizer> result(new GgufTokenizer(std::move(vocab), std::move(source)));
  in_context(result->source_, [&] {
    result->build_encoder();
    result->build_pieces();
    result->build_partitions();
    result->set_special_tokens(result->special_ids());
  });
  return result;
}

void GgufTokenizer::build_encoder() {
  if (vocab_.model == "llama") {
    spm_ = std::make_unique<SpmEncoder>(vocab_);
    add_space_prefix_ = vocab_.add_space_prefix.value_or(true);
    default_add_bos_ = true;
    return;
  }
  const GgufPreTokenizer pre = gguf_pre_tokenizer(vocab_.pre);
  pre_tokenizer_ = std::make_unique<PreTokenizer>(PreTokenizer::isolated_splits(pre.patterns, "tokenizer.ggml.pre"));
  bpe_ = std::make_unique<BpeModel>(BpeModel::from_token_list(vocab_.tokens, vocab_.merges, pre.ignore_merges,
                                                              "tokenizer.ggml.tokens", "tokenizer.ggml.merges"));
  add_space_prefix_ = vocab_.add_space_prefix.value_or(false);
  default_add_bos_ = pre.add_bos;
}

void GgufTokenizer::build_pieces() {
  pieces_.resize(vocab_.tokens.size());
  ids_by_text_.reserve(vocab_.tokens.size());
  for (int id = 0; id < vocab_.size(); ++id) {
    const std::string& text = vocab_.tokens[static_cast<std::size_t>(id)];
    ids_by_text_.insert_or_assign(text, id);
    Piece& piece = pieces_[static_cast<std::size_t>(id)];
    switch (vocab_.type(id)) {
      case GgufTokenType::kControl:
      case GgufTokenType::kUnused:
        break;
      case GgufTokenType::kUserDefined:
        piece.bytes = spm_ ? unescape_space_symbols(text) : text;
        break;
      case GgufTokenType::kUnknown:
        piece.bytes = kUnknownSurface;
        break;
      case GgufTokenType::kByte:
        if (const auto byte = byte_piece_value(text)) {
          piece.bytes.assign(1, static_cast<char>(*byte));
        } else {
          fail("tokenizer.ggml.tokens[{}]: byte token \"{}\" is not <0xHH>", id, text);
        }
        break;
      case GgufTokenType::kNormal:
      case GgufTokenType::kUndefined:
        if (spm_) {
          piece.bytes = unescape_space_symbols(text);
          piece.leading_space = text.starts_with(kSpaceSymbol);
        } else {
          piece.bytes = from_byte_level(text).value_or(text);
        }
        break;
    }
  }
}

void GgufTokenizer::build_partitions() {
  std::vector<SpecialText> all;
  std::vector<SpecialText> user;
  for (int id = 0; id < vocab_.size(); ++id) {
    const GgufTokenType type = vocab_.type(id);
    if (!is_special_type(type)) continue;
    SpecialText token{vocab_.tokens[static_cast<std::size_t>(id)], id};
    if (type == GgufTokenType::kUserDefined) user.push_back(token);
    all.push_back(std::move(token));
  }
  with_control_ = std::make_unique<SpecialPartition>(std::move(all));
  user_defined_ = std::make_unique<SpecialPartition>(std::move(user));
}

SpecialTokenIds GgufTokenizer::special_ids() const {
  SpecialTokenIds special;
  special.bos_id = vocab_.bos_id;
  special.eos_id = vocab_.eos_id;
  special.add_bos = vocab_.add_bos.value_or(default_add_bos_) && vocab_.bos_id >= 0;
  for (int id : {vocab_.eot_id, vocab_.eom_id}) {
    if (id >= 0) special.stop_ids.push_back(id);
  }
  for (std::string_view name : kEndOfTurnTokenNames) {
    const auto it = ids_by_text_.find(std::string(name));
    if (it != ids_by_text_.end() && is_special_type(vocab_.type(it->second))) special.stop_ids.push_back(it->second);
  }
  return special;
}

std::vector<int> GgufTokenizer::encode(std::string_view text, bool parse_control) const {
  const std::vector<TextFragment> fragments = (parse_control ? *with_control_ : *user_defined_).split(text);
  std::vector<int> ids;
  if (spm_) {
    encode_spm(fragments, ids);
  } else {
    encode_bpe(fragments, ids);
  }
  return ids;
}

void GgufTokenizer::encode_spm(std::span<const TextFragment> fragments, std::vector<int>& out) const {
  // The dummy prefix goes before text that starts the input or follows a
  // special token, as SentencePiece sees each such stretch as a new sentence.
  bool after_special = true;
  for (const TextFragment& fragment : fragments) {
    if (fragment.id >= 0) {
      out.push_back(fragment.id);
      after_special = true;
      continue;
    }
    std::string text;
    if (add_space_prefix_ && after_special) text = " ";
    text += fragment.text;
    spm_->encode(escape_spaces(text), out);
    after_special = false;
  }
}

void GgufTokenizer::encode_bpe(std::span<const TextFragment> fragments, std::vector<int>& out) const {
  for (const TextFragment& fragment : fragments) {
    if (fragment.id >= 0) {
      out.push_back(fragment.id);
      continue;
    }
    for (const std::string& word : pre_tokenizer_->split(fragment.text)) bpe_->encode_word(word, out);
  }
}

std::string GgufTokenizer::decode(std::span<const int> ids) const {
  std::string out;
  bool first_text = true;  // only the first piece with text loses its leading space
  for (int id : ids) {
    check_id(id);
    const Piece& piece = pieces_[static_cast<std::size_t>(id)];
    // The space the encoder put before the text is not part of it.
    if (first_text && add_space_prefix_ && piece.leading_space) {
      out.append(piece.bytes, 1);
    } else {
      out += piece.bytes;
    }
    if (!piece.bytes.empty()) first_text = false;
  }
  return out;
}

std::string GgufTokenizer::token_bytes(int id) const {
  check_id(id);
  return pieces_[static_cast<std::size_t>(id)].bytes;
}

std::optional<int> GgufTokenizer::find_piece(std::string_view piece) const {
  const auto it = ids_by_text_.find(std::string(piece));
  if (it == ids_by_text_.end()) return std::nullopt;
  return it->second;
}

}  // namespace helix
