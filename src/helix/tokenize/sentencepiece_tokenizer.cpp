#include "helix/tokenize/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "helix/core/error.h"
#include "helix/tokenize/sentencepiece_pieces.h"

namespace helix {

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor,
                                               std::string source)
    : processor_(std::move(processor)), source_(std::move(source)) {}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::load(const std::filesystem::path& model_file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_file, ec)) {
    fail("{}: no such SentencePiece model file", model_file.string());
  }
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const sentencepiece::util::Status status = processor->Load(model_file.string());
  if (!status.ok()) fail("{}: not a valid SentencePiece model: {}", model_file.string(), status.ToString());
  if (processor->GetPieceSize() <= 0) fail("{}: SentencePiece model has no pieces", model_file.string());
  std::unique_ptr<SentencePieceTokenizer> result(new SentencePieceTokenizer(std::move(processor), model_file.string()));
  result->build_piece_table();
  SpecialTokenIds special;
  special.bos_id = result->processor_->bos_id();
  special.eos_id = result->processor_->eos_id();
  special.add_bos = special.bos_id >= 0;
  in_context(result->source_, [&] { result->set_special_tokens(special); });
  return result;
}

void SentencePieceTokenizer::build_piece_table() {
  const int size = processor_->GetPieceSize();
  pieces_.resize(static_cast<std::size_t>(size));
  int probe = -1;  // a normal piece with a leading U+2581, to learn the first-space rule
  for (int id = 0; id < size; ++id) {
    Piece& piece = pieces_[static_cast<std::size_t>(id)];
    const std::string& text = processor_->IdToPiece(id);
    if (processor_->IsControl(id)) continue;
    if (processor_->IsByte(id)) {
      const auto byte = byte_piece_value(text);
      if (!byte) fail("{}: byte piece {} is \"{}\", expected <0xHH>", source_, id, text);
      piece.bytes.assign(1, static_cast<char>(*byte));
      continue;
    }
    if (processor_->IsUnknown(id)) {
      piece.bytes = processor_->DecodeIds({id});  // the model's unknown surface, e.g. " \u2047 "
      continue;
    }
    piece.bytes = unescape_space_symbols(text);
    piece.leading_space = text.compare(0, kSpaceSymbol.size(), kSpaceSymbol) == 0;
    if (piece.leading_space && probe < 0) probe = id;
  }
  if (probe >= 0) {
    const std::string& expected = pieces_[static_cast<std::size_t>(probe)].bytes;
    strips_first_space_ = processor_->DecodeIds({probe}) != expected;
  }
}

std::vector<int> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const sentencepiece::util::Status status = processor_->Encode(text, &ids);
  if (!status.ok()) fail("{}: cannot encode text: {}", source_, status.ToString());
  return ids;
}

std::string SentencePieceTokenizer::decode(std::span<const int> ids) const {
  std::string out;
  bool first_text = true;  // only the first piece with text loses its leading space
  for (int id : ids) {
    check_id(id);
    const Piece& piece = pieces_[static_cast<std::size_t>(id)];
    if (first_text && strips_first_space_ && piece.leading_space) {
      out.append(piece.bytes, 1);
    } else {
      out += piece.bytes;
    }
    if (!piece.bytes.empty()) first_text = false;
  }
  return out;
}

std::string SentencePieceTokenizer::token_bytes(int id) const {
  check_id(id);
  return pieces_[static_cast<std::size_t>(id)].bytes;
}

std::optional<int> SentencePieceTokenizer::find_piece(std::string_view piece) const {
  const int id = processor_->PieceToId(piece);
  if (id < 0 || id >= vocab_size() || processor_->IdToPiece(id) != piece) return std::nullopt;
  return id;
}

}  // namespace helix
