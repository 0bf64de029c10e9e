#include "helix/tokenize/word_cache.h"

#include <mutex>

namespace helix {

bool WordCache::append_cached(std::string_view word, std::vector<int>& out) const {
  if (word.size() > max_word_bytes_) return false;
  std::shared_lock lock(mutex_);
  const auto it = entries_.find(word);
  if (it == entries_.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::put(std::string_view word, std::vector<int> ids) const {
  if (word.size() > max_word_bytes_ || capacity_ == 0) return;
  std::unique_lock lock(mutex_);
  if (entries_.size() >= capacity_) entries_.clear();
  entries_.emplace(std::string(word), std::move(ids));
}

}  // namespace helix
