#include "helix/tokenize/tokenizer.h"

#include <algorithm>

#include "helix/core/error.h"

namespace helix {

bool Tokenizer::is_stop(int id) const {
  return std::find(special_.stop_ids.begin(), special_.stop_ids.end(), id) != special_.stop_ids.end();
}

std::vector<int> Tokenizer::encode_with_bos(std::string_view text) const {
  std::vector<int> ids;
  if (special_.add_bos && special_.bos_id >= 0) ids.push_back(special_.bos_id);
  const std::vector<int> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

void Tokenizer::set_special_tokens(SpecialTokenIds special) {
  const auto check_optional = [&](int id, std::string_view what) {
    if (id < -1 || id >= vocab_size()) {
      fail("{} id {} is outside the vocabulary (size {})", what, id, vocab_size());
    }
  };
  check_optional(special.bos_id, "bos");
  check_optional(special.eos_id, "eos");
  if (special.add_bos && special.bos_id < 0) fail("add_bos is set but there is no bos token");
  std::vector<int> stops;
  if (special.eos_id >= 0) stops.push_back(special.eos_id);
  for (int id : special.stop_ids) {
    check_optional(id, "stop token");
    if (id >= 0 && std::find(stops.begin(), stops.end(), id) == stops.end()) stops.push_back(id);
  }
  special.stop_ids = std::move(stops);
  special_ = std::move(special);
}

void Tokenizer::check_id(int id) const {
  if (id < 0 || id >= vocab_size()) {
    fail("token id {} is outside the vocabulary of the {} tokenizer (size {})", id, kind(), vocab_size());
  }
}

}  // namespace helix
