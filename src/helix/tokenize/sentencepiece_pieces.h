// The piece spellings SentencePiece-style vocabularies share (tokenizer.model,
// GGUF "llama" vocabularies, byte-fallback tokenizer.json): U+2581 stands for a
// space, and "<0xAB>" is the byte 0xAB.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace helix {

inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581

// `piece` with every U+2581 as a space.
std::string unescape_space_symbols(std::string_view piece);
// Every space as U+2581.
std::string escape_spaces(std::string_view text);
// The byte a "<0xAB>" piece stands for (hex digits in either case); nullopt otherwise.
std::optional<unsigned char> byte_piece_value(std::string_view piece);

}  // namespace helix
