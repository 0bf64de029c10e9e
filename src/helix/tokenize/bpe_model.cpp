#include "helix/tokenize/bpe_model.h"

#include <functional>
#include <queue>

#include <fmt/format.h>

#include "helix/core/error.h"
#include "helix/tokenize/byte_level_alphabet.h"
#include "helix/tokenize/json_fields.h"
#include "helix/tokenize/sentencepiece_pieces.h"
#include "helix/tokenize/utf8.h"

namespace helix {
namespace {

void require_unset_or(const nlohmann::json& model, std::string_view key, std::string_view path,
                      const nlohmann::json& allowed) {
  const nlohmann::json* value = json_optional_member(model, key, path);
  if (value != nullptr && *value != allowed) {
    fail("{}: {} is not supported (expected null or {})", json_path(path, key), value->dump(), allowed.dump());
  }
}

// The two halves of a merge: "a b" (older files) or ["a", "b"] (newer files).
std::pair<std::string, std::string> merge_halves(const nlohmann::json& entry, std::string_view path) {
  if (entry.is_string()) {
    const std::string text = entry.get<std::string>();
    const std::size_t space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
      fail("{}: expected \"left right\" (two tokens separated by one space), found \"{}\"", path, text);
    }
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (entry.is_array() && entry.size() == 2) {
    return {json_string(entry[0], json_path(path, 0)), json_string(entry[1], json_path(path, 1))};
  }
  fail("{}: expected a string \"left right\" or a pair [left, right], found {}", path, entry.dump());
}

}  // namespace

BpeModel BpeModel::from_json(const nlohmann::json& model, std::string_view path) {
  json_expect_object(model, path);
  if (const auto* type = json_optional_member(model, "type", path)) {
    const std::string name = json_string(*type, json_path(path, "type"));
    if (name != "BPE") fail("{}: model type \"{}\" is not supported (only BPE)", json_path(path, "type"), name);
  }
  BpeModel result;
  // byte_fallback: a character BPE (LLaMA-2, Mistral tokenizer.json) whose
  // unknown characters become <0xAB> byte tokens; otherwise byte-level.
  result.characters_ = json_bool_or(model, "byte_fallback", path, false);
  if (const auto* dropout = json_optional_member(model, "dropout", path);
      dropout != nullptr && !(dropout->is_number() && dropout->get<double>() == 0.0)) {
    fail("{}: BPE dropout {} is not supported (expected null)", json_path(path, "dropout"), dropout->dump());
  }
  require_unset_or(model, "continuing_subword_prefix", path, "");
  require_unset_or(model, "end_of_word_suffix", path, "");
  result.ignore_merges_ = json_bool_or(model, "ignore_merges", path, false);
  result.read_vocab(json_member(model, "vocab", path), json_path(path, "vocab"));
  result.read_merges(json_member(model, "merges", path), json_path(path, "merges"));
  return result;
}

void BpeModel::read_vocab(const nlohmann::json& vocab, std::string_view path) {
  json_expect_object(vocab, path);
  std::vector<bool> used;
  for (auto entry = vocab.begin(); entry != vocab.end(); ++entry) {
    const std::string& text = entry.key();
    const int id = json_int(entry.value(), json_path(path, text));
    if (id >= kMaxTokenId) fail("{}: id {} is implausibly large (limit {})", json_path(path, text), id, kMaxTokenId);
    const auto index = static_cast<std::size_t>(id);
    if (index >= used.size()) {
      used.resize(index + 1, false);
      id_bytes_.resize(index + 1);
    }
    if (used[index]) fail("{}: id {} is given to more than one entry (again to \"{}\")", path, id, text);
    used[index] = true;
    if (characters_) {
      const auto byte = byte_piece_value(text);
      id_bytes_[static_cast<std::size_t>(id)] = byte ? std::string(1, static_cast<char>(*byte)) : text;
      ids_.emplace(text, id);
    } else if (std::optional<std::string> raw = from_byte_level(text)) {
      id_bytes_[static_cast<std::size_t>(id)] = *raw;
      ids_.emplace(std::move(*raw), id);
    } else {
      id_bytes_[static_cast<std::size_t>(id)] = text;
      other_.emplace(text, id);
    }
  }
  if (characters_) {
    index_byte_tokens(path);
  } else {
    index_bytes(path, /*allow_missing=*/false);
  }
}

void BpeModel::index_byte_tokens(std::string_view path) {
  for (unsigned byte = 0; byte < 256; ++byte) {
    const std::string name = fmt::format("<0x{:02X}>", byte);
    const auto it = ids_.find(name);
    if (it == ids_.end()) fail("{}: has no byte token {}; byte_fallback needs all 256", path, name);
    byte_ids_[byte] = it->second;
  }
}

void BpeModel::index_bytes(std::string_view path, bool allow_missing) {
  for (unsigned byte = 0; byte < 256; ++byte) {
    const auto it = ids_.find(std::string(1, static_cast<char>(byte)));
    if (it == ids_.end() && allow_missing) {
      byte_ids_[byte] = -1;
      continue;
    }
    if (it == ids_.end()) {
      fail("{}: has no entry for byte 0x{:02X} (\"{}\"); a byte-level vocabulary needs all 256", path, byte,
           to_byte_level(std::string(1, static_cast<char>(byte))));
    }
    byte_ids_[byte] = it->second;
  }
}

void BpeModel::read_merges(const nlohmann::json& merges, std::string_view path) {
  if (!merges.is_array()) fail("{}: expected an array, found {}", path, merges.type_name());
  merges_.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string where = json_path(path, rank);
    const auto [left, right] = merge_halves(merges[rank], where);
    const auto id_of = [&](const std::string& text, std::string_view role) {
      const std::optional<int> id = find_text(text);
      if (!id) fail("{}: {} token \"{}\" is not in model.vocab", where, role, text);
      return *id;
    };
    const int left_id = id_of(left, "left");
    const int right_id = id_of(right, "right");
    const int merged_id = id_of(left + right, "merged");
    // A repeated merge keeps its first (best) rank.
    merges_.emplace(pair_key(left_id, right_id), Merge{static_cast<int>(rank), merged_id});
  }
}

BpeModel BpeModel::from_token_list(const std::vector<std::string>& byte_level_texts,
                                   const std::vector<std::string>& merges, bool ignore_merges,
                                   std::string_view tokens_key, std::string_view merges_key) {
  BpeModel result;
  result.ignore_merges_ = ignore_merges;
  result.id_bytes_.resize(byte_level_texts.size());
  for (std::size_t id = 0; id < byte_level_texts.size(); ++id) {
    const std::string& text = byte_level_texts[id];
    if (std::optional<std::string> raw = from_byte_level(text)) {
      result.id_bytes_[id] = *raw;
      result.ids_.insert_or_assign(std::move(*raw), static_cast<int>(id));
    } else {
      result.id_bytes_[id] = text;
      result.other_.insert_or_assign(text, static_cast<int>(id));
    }
  }
  result.index_bytes(tokens_key, /*allow_missing=*/true);
  result.merges_.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank];
    // The halves are split at the first space after the first character (a
    // half never is empty).
    const std::size_t space = merge.empty() ? std::string::npos : merge.find(' ', 1);
    if (space == std::string::npos) {
      fail("{}[{}]: expected \"left right\", found \"{}\"", merges_key, rank, merge);
    }
    const std::string left = merge.substr(0, space);
    const std::string right = merge.substr(space + 1);
    const std::optional<int> left_id = result.find_text(left);
    const std::optional<int> right_id = result.find_text(right);
    const std::optional<int> merged_id = result.find_text(left + right);
    if (!left_id || !right_id || !merged_id) continue;
    result.merges_.emplace(pair_key(*left_id, *right_id), Merge{static_cast<int>(rank), *merged_id});
  }
  return result;
}

std::optional<int> BpeModel::find_text(std::string_view byte_level_text) const {
  if (characters_) {
    const auto it = ids_.find(std::string(byte_level_text));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  if (std::optional<std::string> raw = from_byte_level(byte_level_text)) {
    const auto it = ids_.find(*raw);
    if (it != ids_.end()) return it->second;
    return std::nullopt;
  }
  const auto it = other_.find(std::string(byte_level_text));
  if (it != other_.end()) return it->second;
  return std::nullopt;
}

void BpeModel::encode_word(std::string_view word, std::vector<int>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const auto it = ids_.find(std::string(word));
    if (it != ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (word.size() == 1 && !characters_) {
    if (const int id = byte_ids_[static_cast<unsigned char>(word[0])]; id >= 0) out.push_back(id);
    return;
  }
  if (cache_->append_cached(word, out)) return;
  std::vector<int> ids;
  merge_word(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  cache_->put(word, std::move(ids));
}

bool BpeModel::is_byte_token(int id) const {
  if (!characters_ || id < 0 || id >= id_end()) return false;
  const std::string& bytes = id_bytes_[static_cast<std::size_t>(id)];
  return bytes.size() == 1 && byte_ids_[static_cast<unsigned char>(bytes[0])] == id;
}

std::vector<int> BpeModel::initial_ids(std::string_view word) const {
  std::vector<int> ids;
  ids.reserve(word.size());
  if (!characters_) {
    for (char byte : word) ids.push_back(byte_ids_[static_cast<unsigned char>(byte)]);
    return ids;
  }
  // One symbol per character; a character outside the vocabulary is its bytes.
  for (std::size_t pos = 0; pos < word.size();) {
    const Utf8Char c = decode_utf8_at(word, pos);
    const std::string_view character = word.substr(pos, c.length);
    if (const auto it = ids_.find(std::string(character)); c.valid && it != ids_.end()) {
      ids.push_back(it->second);
    } else {
      for (char byte : character) ids.push_back(byte_ids_[static_cast<unsigned char>(byte)]);
    }
    pos += c.length;
  }
  return ids;
}

void BpeModel::merge_word(std::string_view word, std::vector<int>& out) const {
  // The symbols form a doubly linked list over positions; a merge absorbs the
  // right neighbour into the left one.
  struct Symbol {
    int id;
    int prev;
    int next;
  };
  const std::vector<int> initial = initial_ids(word);
  const int n = static_cast<int>(initial.size());
  std::vector<Symbol> symbols(initial.size());
  for (int i = 0; i < n; ++i) {
    symbols[static_cast<std::size_t>(i)] = {initial[static_cast<std::size_t>(i)], i - 1, i + 1 < n ? i + 1 : -1};
  }
  // Candidates (rank, left position), smallest first; stale ones are skipped.
  using Candidate = std::pair<int, int>;
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto consider = [&](int left) {
    if (left < 0) return;
    const int right = symbols[static_cast<std::size_t>(left)].next;
    if (right < 0) return;
    const auto it = merges_.find(
        pair_key(symbols[static_cast<std::size_t>(left)].id, symbols[static_cast<std::size_t>(right)].id));
    if (it != merges_.end()) queue.emplace(it->second.rank, left);
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  std::vector<bool> removed(initial.size(), false);
  while (!queue.empty()) {
    const auto [rank, left] = queue.top();
    queue.pop();
    if (removed[static_cast<std::size_t>(left)]) continue;
    Symbol& symbol = symbols[static_cast<std::size_t>(left)];
    if (symbol.next < 0) continue;
    const auto it = merges_.find(pair_key(symbol.id, symbols[static_cast<std::size_t>(symbol.next)].id));
    if (it == merges_.end() || it->second.rank != rank) continue;  // the pair changed since
    const int right = symbol.next;
    removed[static_cast<std::size_t>(right)] = true;
    symbol.id = it->second.merged_id;
    symbol.next = symbols[static_cast<std::size_t>(right)].next;
    if (symbol.next >= 0) symbols[static_cast<std::size_t>(symbol.next)].prev = left;
    consider(symbol.prev);
    consider(left);
  }
  // A byte the vocabulary lacks (possible only in GGUF vocabularies) is dropped,
  // as llama.cpp drops it.
  for (int i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
    if (symbols[static_cast<std::size_t>(i)].id >= 0) out.push_back(symbols[static_cast<std::size_t>(i)].id);
  }
}

}  // namespace helix
