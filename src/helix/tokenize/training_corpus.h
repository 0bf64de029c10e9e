// The built-in training corpus: a few KB of original English text written for
// helix (prose, numbers, punctuation and a little source code), so that `helix
// model init` can train a tokenizer without being given any input.
#pragma once

#include <string_view>

namespace helix {

std::string_view builtin_training_corpus();

}  // namespace helix
