#include "helix/tokenize/stream_decoder.h"

#include <algorithm>

#include "helix/tokenize/utf8.h"

namespace helix {

std::string StreamDecoder::push(int id) {
  const std::string token = tokenizer_->token_bytes(id);  // validates the id
  // A token without bytes (a control token) changes nothing once text has been
  // produced, and before that the window already stands for "no text yet".
  if (token.empty() && !window_.empty()) return {};
  window_.push_back(id);
  const std::string text = tokenizer_->decode(window_);
  const std::size_t complete = complete_utf8_prefix(text);
  std::string out;
  if (complete > emitted_bytes_) {
    out = sanitize_utf8(std::string_view(text).substr(emitted_bytes_, complete - emitted_bytes_));
  }
  emitted_bytes_ = std::max(emitted_bytes_, complete);
  // Once nothing is held back, drop the tokens before the last one that yields
  // text on its own: decoding [anchor, next...] renders the tokens after the
  // anchor exactly as they appear after everything before it. (An anchor that
  // yields nothing alone, like SentencePiece's lone U+2581, would not do: the
  // next piece would lose its leading space as if it began the text.)
  if (complete == text.size() && window_.size() > 1) {
    std::size_t anchor = window_.size() - 1;
    while (anchor > 0 && tokenizer_->decode(std::span<const int>(&window_[anchor], 1)).empty()) --anchor;
    if (anchor > 0) {
      window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(anchor));
      emitted_bytes_ = tokenizer_->decode(window_).size();
    }
  }
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  if (!window_.empty()) {
    const std::string text = tokenizer_->decode(window_);
    if (text.size() > emitted_bytes_) out = sanitize_utf8(std::string_view(text).substr(emitted_bytes_));
  }
  window_.clear();
  emitted_bytes_ = 0;
  return out;
}

}  // namespace helix
