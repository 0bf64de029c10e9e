#include "helix/tokenize/gguf_vocab.h"

#include <nlohmann/json.hpp>

#include "helix/core/error.h"

namespace helix {
namespace {

constexpr std::string_view kPrefix = "tokenizer.ggml.";

std::string key_of(std::string_view name) { return std::string(kPrefix) + std::string(name); }

const nlohmann::json* find_key(const nlohmann::json& metadata, const std::string& key) {
  const auto it = metadata.find(key);
  return it == metadata.end() || it->is_null() ? nullptr : &*it;
}

const nlohmann::json& array_key(const nlohmann::json& metadata, const std::string& key) {
  const nlohmann::json* value = find_key(metadata, key);
  if (value == nullptr) fail("{}: missing", key);
  if (!value->is_array()) fail("{}: expected an array, found {}", key, value->type_name());
  return *value;
}

std::string string_at(const nlohmann::json& value, std::string_view key, std::size_t index) {
  if (!value.is_string()) fail("{}[{}]: expected a string, found {}", key, index, value.type_name());
  return value.get<std::string>();
}

std::vector<std::string> strings(const nlohmann::json& metadata, const std::string& key) {
  const nlohmann::json& list = array_key(metadata, key);
  std::vector<std::string> out;
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) out.push_back(string_at(list[i], key, i));
  return out;
}

std::string optional_string(const nlohmann::json& metadata, const std::string& key) {
  const nlohmann::json* value = find_key(metadata, key);
  if (value == nullptr) return {};
  if (!value->is_string()) fail("{}: expected a string, found {}", key, value->type_name());
  return value->get<std::string>();
}

std::optional<bool> optional_bool(const nlohmann::json& metadata, const std::string& key) {
  const nlohmann::json* value = find_key(metadata, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) fail("{}: expected a bool, found {}", key, value->dump());
  return value->get<bool>();
}

// A token id key: absent -> -1; present -> inside the vocabulary.
int optional_id(const nlohmann::json& metadata, std::string_view name, int vocab_size) {
  const std::string key = key_of(name);
  const nlohmann::json* value = find_key(metadata, key);
  if (value == nullptr) return -1;
  if (!value->is_number_integer()) fail("{}: expected a token id, found {}", key, value->dump());
  const long long id = value->get<long long>();
  // Some converters write -1 or a sentinel for "none".
  if (id < 0 || id == 0xFFFFFFFFLL) return -1;
  if (id >= vocab_size) fail("{}: id {} is outside the vocabulary (size {})", key, id, vocab_size);
  return static_cast<int>(id);
}

std::vector<GgufTokenType> token_types(const nlohmann::json& metadata, std::size_t count) {
  const std::string key = key_of("token_type");
  if (find_key(metadata, key) == nullptr) return std::vector<GgufTokenType>(count, GgufTokenType::kNormal);
  const nlohmann::json& list = array_key(metadata, key);
  if (list.size() != count) fail("{}: {} entries for {} tokens", key, list.size(), count);
  std::vector<GgufTokenType> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (!list[i].is_number_integer()) fail("{}[{}]: expected an integer, found {}", key, i, list[i].dump());
    const long long type = list[i].get<long long>();
    if (type < 0 || type > 6) fail("{}[{}]: unknown token type {} (expected 0..6)", key, i, type);
    out[i] = static_cast<GgufTokenType>(type);
  }
  return out;
}

std::vector<float> token_scores(const nlohmann::json& metadata, std::size_t count) {
  const std::string key = key_of("scores");
  if (find_key(metadata, key) == nullptr) return {};
  const nlohmann::json& list = array_key(metadata, key);
  if (list.size() != count) fail("{}: {} entries for {} tokens", key, list.size(), count);
  std::vector<float> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (!list[i].is_number()) fail("{}[{}]: expected a number, found {}", key, i, list[i].dump());
    out[i] = list[i].get<float>();
  }
  return out;
}

}  // namespace

bool has_gguf_vocab(const nlohmann::json& metadata) {
  return metadata.is_object() && find_key(metadata, key_of("model")) != nullptr;
}

GgufVocab read_gguf_vocab(const nlohmann::json& metadata, std::string_view source) {
  GgufVocab vocab;
  in_context(std::string(source), [&] {
    if (!metadata.is_object()) fail("metadata is not a key/value map");
    vocab.model = optional_string(metadata, key_of("model"));
    if (vocab.model != "llama" && vocab.model != "gpt2") {
      fail("{}: tokenizer \"{}\" is not supported (expected \"llama\" or \"gpt2\")", key_of("model"), vocab.model);
    }
    vocab.pre = optional_string(metadata, key_of("pre"));
    vocab.tokens = strings(metadata, key_of("tokens"));
    if (vocab.tokens.empty()) fail("{}: the vocabulary is empty", key_of("tokens"));
    if (vocab.tokens.size() >= (1U << 24)) fail("{}: {} tokens is implausibly many", key_of("tokens"), vocab.tokens.size());
    vocab.scores = token_scores(metadata, vocab.tokens.size());
    vocab.types = token_types(metadata, vocab.tokens.size());
    if (vocab.model == "gpt2") vocab.merges = strings(metadata, key_of("merges"));
    if (vocab.model == "llama" && vocab.scores.empty()) fail("{}: missing (a \"llama\" vocabulary needs scores)", key_of("scores"));
    const int size = vocab.size();
    vocab.bos_id = optional_id(metadata, "bos_token_id", size);
    vocab.eos_id = optional_id(metadata, "eos_token_id", size);
    vocab.eot_id = optional_id(metadata, "eot_token_id", size);
    vocab.eom_id = optional_id(metadata, "eom_token_id", size);
    vocab.unknown_id = optional_id(metadata, "unknown_token_id", size);
    vocab.padding_id = optional_id(metadata, "padding_token_id", size);
    vocab.add_bos = optional_bool(metadata, key_of("add_bos_token"));
    vocab.add_eos = optional_bool(metadata, key_of("add_eos_token"));
    vocab.add_space_prefix = optional_bool(metadata, key_of("add_space_prefix"));
    vocab.chat_template = optional_string(metadata, "tokenizer.chat_template");
  });
  return vocab;
}

}  // namespace helix
