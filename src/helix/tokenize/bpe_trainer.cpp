#include "helix/tokenize/bpe_trainer.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "helix/core/error.h"
#include "helix/tokenize/byte_level_alphabet.h"
#include "helix/tokenize/pre_tokenizer.h"

namespace helix {
namespace {

using PairKey = std::uint64_t;

PairKey pair_key(int left, int right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
}
int left_of(PairKey key) { return static_cast<int>(key >> 32); }
int right_of(PairKey key) { return static_cast<int>(key & 0xFFFFFFFFU); }

struct Word {
  std::vector<int> symbols;
  long count = 0;
};

class MergeLearner {
 public:
  explicit MergeLearner(std::string_view corpus) {
    for (int byte = 0; byte < 256; ++byte) add_token(std::string(1, static_cast<char>(byte)));
    std::map<std::string, long> counts;  // ordered: word indices do not depend on hashing
    for (const std::string& piece : PreTokenizer::gpt2().split(corpus)) ++counts[piece];
    for (const auto& [text, count] : counts) {
      Word word;
      word.count = count;
      for (char c : text) word.symbols.push_back(static_cast<unsigned char>(c));
      words_.push_back(std::move(word));
    }
    for (std::size_t i = 0; i < words_.size(); ++i) add_pairs(i, +1);
  }

  // Learns merges until the vocabulary has `target` tokens or no pair is left.
  void learn(std::size_t target) {
    while (tokens_.size() < target) {
      const std::optional<PairKey> best = best_pair();
      if (!best) break;
      apply(*best);
    }
  }

  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::vector<std::pair<int, int>>& merges() const { return merges_; }

 private:
  int add_token(std::string bytes) {
    const auto [it, inserted] = id_of_bytes_.emplace(bytes, static_cast<int>(tokens_.size()));
    if (inserted) tokens_.push_back(std::move(bytes));
    return it->second;
  }

  void add_pairs(std::size_t word_index, long sign) {
    const Word& word = words_[word_index];
    for (std::size_t i = 0; i + 1 < word.symbols.size(); ++i) {
      const PairKey key = pair_key(word.symbols[i], word.symbols[i + 1]);
      pair_counts_[key] += sign * word.count;
      if (sign > 0) words_with_pair_[key].insert(word_index);
    }
  }

  // The most frequent pair; among equals the one whose (left, right) bytes sort first.
  std::optional<PairKey> best_pair() const {
    std::optional<PairKey> best;
    long best_count = 0;
    for (const auto& [key, count] : pair_counts_) {
      if (count <= 0) continue;
      if (!best || count > best_count || (count == best_count && bytes_less(key, *best))) {
        best = key;
        best_count = count;
      }
    }
    return best;
  }

  bool bytes_less(PairKey a, PairKey b) const {
    const auto& la = tokens_[static_cast<std::size_t>(left_of(a))];
    const auto& lb = tokens_[static_cast<std::size_t>(left_of(b))];
    if (la != lb) return la < lb;
    return tokens_[static_cast<std::size_t>(right_of(a))] < tokens_[static_cast<std::size_t>(right_of(b))];
  }

  void apply(PairKey key) {
    const int left = left_of(key);
    const int right = right_of(key);
    const int merged = add_token(tokens_[static_cast<std::size_t>(left)] + tokens_[static_cast<std::size_t>(right)]);
    merges_.emplace_back(left, right);
    const std::set<std::size_t> affected = std::move(words_with_pair_[key]);
    words_with_pair_.erase(key);
    for (std::size_t index : affected) {
      add_pairs(index, -1);
      std::vector<int>& symbols = words_[index].symbols;
      std::vector<int> next;
      next.reserve(symbols.size());
      for (std::size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
          next.push_back(merged);
          ++i;
        } else {
          next.push_back(symbols[i]);
        }
      }
      symbols = std::move(next);
      add_pairs(index, +1);
    }
    pair_counts_.erase(key);
  }

  std::vector<Word> words_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int> id_of_bytes_;
  std::vector<std::pair<int, int>> merges_;
  std::unordered_map<PairKey, long> pair_counts_;
  std::unordered_map<PairKey, std::set<std::size_t>> words_with_pair_;
};

nlohmann::json byte_level_step(bool add_prefix_space) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true}, {"use_regex", true}};
}

nlohmann::json added_token(int id, const std::string& content) {
  return {{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},   {"normalized", false}, {"special", true}};
}

// LLaMA-3's post-processor: ByteLevel, then a template that puts `bos` first.
nlohmann::json bos_post_processor(const std::string& bos, int bos_id) {
  const auto special = [&](int type_id) {
    return nlohmann::json{{"SpecialToken", {{"id", bos}, {"type_id", type_id}}}};
  };
  const auto sequence = [](const char* name, int type_id) {
    return nlohmann::json{{"Sequence", {{"id", name}, {"type_id", type_id}}}};
  };
  nlohmann::json tokens = nlohmann::json::object();
  tokens[bos] = {{"id", bos}, {"ids", {bos_id}}, {"tokens", {bos}}};
  nlohmann::json template_processing = {{"type", "TemplateProcessing"},
                                        {"single", {special(0), sequence("A", 0)}},
                                        {"pair", {special(0), sequence("A", 0), special(1), sequence("B", 1)}},
                                        {"special_tokens", std::move(tokens)}};
  nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false},
                               {"use_regex", true}};
  return {{"type", "Sequence"}, {"processors", {std::move(byte_level), std::move(template_processing)}}};
}

bool is_bos_name(const std::string& token) {
  return token == "<|begin_of_text|>" || token == "<s>" || token == "<bos>";
}

void check_special_tokens(std::span<const std::string> special_tokens) {
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < special_tokens.size(); ++i) {
    if (special_tokens[i].empty()) fail("special_tokens[{}]: is empty", i);
    if (!seen.insert(special_tokens[i]).second) fail("special_tokens[{}]: \"{}\" is repeated", i, special_tokens[i]);
  }
}

}  // namespace

nlohmann::json train_byte_level_bpe(std::string_view corpus, int vocab_size,
                                    std::span<const std::string> special_tokens) {
  check_special_tokens(special_tokens);
  const auto special_count = static_cast<int>(special_tokens.size());
  if (vocab_size < 256 + special_count) {
    fail("vocab_size {} is too small: a byte-level BPE needs 256 byte tokens plus {} special tokens", vocab_size,
         special_count);
  }
  MergeLearner learner(corpus);
  learner.learn(static_cast<std::size_t>(vocab_size - special_count));

  nlohmann::json vocab = nlohmann::json::object();
  const std::vector<std::string>& tokens = learner.tokens();
  for (std::size_t id = 0; id < tokens.size(); ++id) vocab[to_byte_level(tokens[id])] = static_cast<int>(id);
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [left, right] : learner.merges()) {
    merges.push_back(to_byte_level(tokens[static_cast<std::size_t>(left)]) + " " +
                     to_byte_level(tokens[static_cast<std::size_t>(right)]));
  }
  nlohmann::json added = nlohmann::json::array();
  int next_id = static_cast<int>(tokens.size());
  for (int reserved = 0; next_id < vocab_size - special_count; ++reserved) {
    added.push_back(added_token(next_id++, "<|reserved_" + std::to_string(reserved) + "|>"));
  }
  nlohmann::json post_processor = byte_level_step(true);
  for (const std::string& special : special_tokens) {
    if (is_bos_name(special) && post_processor["type"] == "ByteLevel") {
      post_processor = bos_post_processor(special, next_id);
    }
    added.push_back(added_token(next_id++, special));
  }

  nlohmann::json model = {{"type", "BPE"},
                          {"dropout", nullptr},
                          {"unk_token", nullptr},
                          {"continuing_subword_prefix", nullptr},
                          {"end_of_word_suffix", nullptr},
                          {"fuse_unk", false},
                          {"byte_fallback", false},
                          {"ignore_merges", false},
                          {"vocab", std::move(vocab)},
                          {"merges", std::move(merges)}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", std::move(added)},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level_step(false)},
          {"post_processor", std::move(post_processor)},
          {"decoder", byte_level_step(true)},
          {"model", std::move(model)}};
}

}  // namespace helix
