// Unicode Normalization Form C, for tokenizers whose tokenizer.json asks for the
// NFC normalizer (Qwen2). Text that is already NFC -- nearly all text -- is
// returned unchanged after a quick scan. Bytes that are not valid UTF-8 are
// kept as they are and act as boundaries (nothing composes across them).
#pragma once

#include <string>
#include <string_view>

namespace helix {

std::string to_nfc(std::string_view text);

}  // namespace helix
