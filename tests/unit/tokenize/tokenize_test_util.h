// Shared helpers of the tokenize tests: hand-made tokenizer.json documents and
// random text.
#pragma once

#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "helix/tokenize/byte_level_alphabet.h"
#include "helix/tokenize/utf8.h"

namespace helix::test {

// A tokenizer.json with the 256 byte symbols (id = byte value), then `extra`
// vocabulary entries given as raw bytes (ids 256, 257, ...) and `merges` of raw
// byte strings; a ByteLevel pre-tokenizer with the GPT-2 pattern.
inline nlohmann::json hand_made_tokenizer(const std::vector<std::string>& extra,
                                          const std::vector<std::pair<std::string, std::string>>& merges) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int byte = 0; byte < 256; ++byte) vocab[to_byte_level(std::string(1, static_cast<char>(byte)))] = byte;
  int next = 256;
  for (const std::string& piece : extra) vocab[to_byte_level(piece)] = next++;
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& [left, right] : merges) merge_list.push_back(to_byte_level(left) + " " + to_byte_level(right));
  return {{"version", "1.0"},
          {"added_tokens", nlohmann::json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}, {"byte_fallback", false}}}};
}

inline nlohmann::json added_token_json(int id, const std::string& content, bool special) {
  return {{"id", id}, {"content", content}, {"special", special}, {"single_word", false},
          {"lstrip", false}, {"rstrip", false}, {"normalized", false}};
}

// Random valid UTF-8 mixing ASCII, control characters, Latin-1, combining marks,
// Greek, CJK, Hangul and emoji.
inline std::string random_utf8(std::mt19937& rng, std::size_t length) {
  static const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x20, 0x7E},     {0x00, 0x1F},   {0xA0, 0xFF},   {0x300, 0x36F},  {0x391, 0x3C9},
      {0x4E00, 0x4FFF}, {0xAC00, 0xAD00}, {0x1F600, 0x1F64F}, {0x1F900, 0x1F9FF}, {0x20, 0x20}};
  std::uniform_int_distribution<std::size_t> pick_range(0, ranges.size() - 1);
  std::string out;
  for (std::size_t i = 0; i < length; ++i) {
    const auto [low, high] = ranges[pick_range(rng)];
    std::uniform_int_distribution<std::uint32_t> pick(low, high);
    append_utf8(out, static_cast<char32_t>(pick(rng)));
  }
  return out;
}

}  // namespace helix::test
