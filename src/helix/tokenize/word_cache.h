// A bounded, thread-safe cache of pre-token -> token ids for the BPE model: text
// repeats words a lot, and the merge loop is the expensive part of encoding.
// When full it starts over (simple and bounded; the hot words come back fast).
#pragma once

#include <cstddef>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace helix {

class WordCache {
 public:
  explicit WordCache(std::size_t capacity = 65536, std::size_t max_word_bytes = 128)
      : capacity_(capacity), max_word_bytes_(max_word_bytes) {}

  // Appends the cached ids of `word` to `out`; false when not cached.
  bool append_cached(std::string_view word, std::vector<int>& out) const;
  void put(std::string_view word, std::vector<int> ids) const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::size_t capacity_;
  std::size_t max_word_bytes_;
  mutable std::shared_mutex mutex_;
  mutable std::unordered_map<std::string, std::vector<int>, Hash, std::equal_to<>> entries_;
};

}  // namespace helix
