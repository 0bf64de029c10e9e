#include "helix/tokenize/special_partition.h"

#include <algorithm>
#include <list>

namespace helix {

SpecialPartition::SpecialPartition(std::vector<SpecialText> tokens) {
  std::erase_if(tokens, [](const SpecialText& t) { return t.text.empty(); });
  std::sort(tokens.begin(), tokens.end(), [](const SpecialText& a, const SpecialText& b) {
    return a.text.size() != b.text.size() ? a.text.size() > b.text.size() : a.id < b.id;
  });
  tokens_ = std::move(tokens);
}

std::vector<TextFragment> SpecialPartition::split(std::string_view text) const {
  std::list<TextFragment> fragments;
  if (!text.empty()) fragments.push_back({text, -1});
  for (const SpecialText& token : tokens_) {
    for (auto it = fragments.begin(); it != fragments.end(); ++it) {
      if (it->id >= 0) continue;
      const std::string_view plain = it->text;
      std::size_t cursor = 0;
      std::size_t found = plain.find(token.text);
      if (found == std::string_view::npos) continue;
      // Replace the plain fragment by its pieces, leaving `it` on the last one.
      it = fragments.erase(it);
      while (found != std::string_view::npos) {
        if (found > cursor) fragments.insert(it, {plain.substr(cursor, found - cursor), -1});
        fragments.insert(it, {plain.substr(found, token.text.size()), token.id});
        cursor = found + token.text.size();
        found = plain.find(token.text, cursor);
      }
      if (cursor < plain.size()) {
        it = fragments.insert(it, {plain.substr(cursor), -1});
      } else {
        --it;
      }
    }
  }
  return {fragments.begin(), fragments.end()};
}

}  // namespace helix
