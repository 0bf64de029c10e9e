#include "helix/tokenize/load_tokenizer.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "helix/core/error.h"
#include "helix/tokenize/hf_bpe_tokenizer.h"
#include "helix/tokenize/json_fields.h"
#include "helix/tokenize/sentencepiece_tokenizer.h"

namespace helix {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 5> kEosNames = {"</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "<|eos|>"};
constexpr std::array<std::string_view, 3> kBosNames = {"<s>", "<|begin_of_text|>", "<bos>"};

std::optional<nlohmann::json> read_json_if_present(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("{}: cannot open for reading", file.string());
  std::ostringstream text;
  text << in.rdbuf();
  try {
    nlohmann::json value = nlohmann::json::parse(text.str());
    if (!value.is_object()) fail("{}: expected a JSON object at the top level", file.string());
    return value;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", file.string(), e.what());
  }
}

// Whether a parsed tokenizer.json uses a ByteLevel pre-tokenizer anywhere.
bool has_byte_level_pre_tokenizer(const nlohmann::json& config) {
  if (!config.is_object()) return false;
  if (config.value("type", "") == "ByteLevel") return true;
  if (const auto it = config.find("pretokenizers"); it != config.end() && it->is_array()) {
    return std::any_of(it->begin(), it->end(), has_byte_level_pre_tokenizer);
  }
  return false;
}

// A special token (no bytes of its own) of the vocabulary with this text.
std::optional<int> special_named(const Tokenizer& tokenizer, std::string_view name) {
  const std::optional<int> id = tokenizer.token_id(name);
  if (id && tokenizer.token_bytes(*id).empty()) return id;
  return std::nullopt;
}

// tokenizer_config.json's bos_token/eos_token: "text", {"content": "text"} or null.
std::optional<int> configured_token(const Tokenizer& tokenizer, const nlohmann::json& config, std::string_view key) {
  const nlohmann::json* value = json_optional_member(config, key, "");
  if (value == nullptr) return std::nullopt;
  const std::string text = value->is_object()
                               ? json_string(json_member(*value, "content", key), json_path(key, "content"))
                               : json_string(*value, key);
  const std::optional<int> id = tokenizer.token_id(text);
  if (!id) fail("{}: \"{}\" is not a token of the tokenizer", key, text);
  return id;
}

// An id or a list of ids (config.json / generation_config.json eos_token_id).
std::vector<int> id_list(const nlohmann::json& config, std::string_view key) {
  std::vector<int> ids;
  const nlohmann::json* value = json_optional_member(config, key, "");
  if (value == nullptr) return ids;
  if (value->is_array()) {
    for (std::size_t i = 0; i < value->size(); ++i) ids.push_back(json_int((*value)[i], json_path(key, i)));
  } else {
    ids.push_back(json_int(*value, key));
  }
  return ids;
}

void check_in_vocab(const Tokenizer& tokenizer, const std::vector<int>& ids, std::string_view key) {
  for (int id : ids) {
    if (id >= tokenizer.vocab_size()) {
      fail("{}: id {} is outside the vocabulary (size {})", key, id, tokenizer.vocab_size());
    }
  }
}

std::unique_ptr<Tokenizer> load_tokenizer_file(const fs::path& model_dir) {
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) {
    fail("{}: not a directory (looked for a model directory with tokenizer.json or tokenizer.model)",
         model_dir.string());
  }
  const fs::path json_file = model_dir / "tokenizer.json";
  const fs::path sentencepiece_file = model_dir / "tokenizer.model";
  const bool has_sentencepiece = fs::is_regular_file(sentencepiece_file, ec);
  if (std::optional<nlohmann::json> tokenizer_json = read_json_if_present(json_file)) {
    const bool byte_level = has_byte_level_pre_tokenizer(tokenizer_json->value("pre_tokenizer", nlohmann::json()));
    if (byte_level || !has_sentencepiece) return HfBpeTokenizer::from_json(*tokenizer_json, json_file.string());
  }
  if (has_sentencepiece) return SentencePieceTokenizer::load(sentencepiece_file);
  fail("{}: no tokenizer found (looked for tokenizer.json and tokenizer.model)", model_dir.string());
}

}  // namespace

void apply_model_configs(Tokenizer& tokenizer, const fs::path& model_dir) {
  SpecialTokenIds special = tokenizer.special_tokens();
  std::vector<int> stops = special.stop_ids;
  bool eos_configured = false;
  bool bos_configured = false;
  const fs::path tokenizer_config_file = model_dir / "tokenizer_config.json";
  if (const auto config = read_json_if_present(tokenizer_config_file)) {
    in_context(tokenizer_config_file.string(), [&] {
      if (const auto bos = configured_token(tokenizer, *config, "bos_token")) {
        special.bos_id = *bos;
        bos_configured = true;
      }
      if (const auto eos = configured_token(tokenizer, *config, "eos_token")) {
        special.eos_id = *eos;
        eos_configured = true;
      }
      special.add_bos = json_bool_or(*config, "add_bos_token", "", special.add_bos);
    });
  }
  const fs::path config_file = model_dir / "config.json";
  if (const auto config = read_json_if_present(config_file)) {
    in_context(config_file.string(), [&] {
      const std::vector<int> bos = id_list(*config, "bos_token_id");
      const std::vector<int> eos = id_list(*config, "eos_token_id");
      check_in_vocab(tokenizer, bos, "bos_token_id");
      check_in_vocab(tokenizer, eos, "eos_token_id");
      if (!bos.empty() && !bos_configured) special.bos_id = bos.front();
      if (!eos.empty() && !eos_configured) special.eos_id = eos.front();
      stops.insert(stops.end(), eos.begin(), eos.end());
    });
  }
  const fs::path generation_file = model_dir / "generation_config.json";
  if (const auto config = read_json_if_present(generation_file)) {
    in_context(generation_file.string(), [&] {
      const std::vector<int> eos = id_list(*config, "eos_token_id");
      check_in_vocab(tokenizer, eos, "eos_token_id");
      stops.insert(stops.end(), eos.begin(), eos.end());
    });
  }
  // Nothing said: the usual names.
  for (std::string_view name : kEosNames) {
    if (special.eos_id >= 0) break;
    if (const auto id = special_named(tokenizer, name)) special.eos_id = *id;
  }
  for (std::string_view name : kBosNames) {
    if (special.bos_id >= 0) break;
    if (const auto id = special_named(tokenizer, name)) special.bos_id = *id;
  }
  for (std::string_view name : kEndOfTurnTokenNames) {
    if (const auto id = special_named(tokenizer, name)) stops.push_back(*id);
  }
  if (special.add_bos && special.bos_id < 0) {
    fail("{}: add_bos_token is set but the tokenizer has no bos token", tokenizer_config_file.string());
  }
  special.stop_ids = std::move(stops);
  in_context(model_dir.string(), [&] { tokenizer.set_special_tokens(special); });
}

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& model_dir) {
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer_file(model_dir);
  apply_model_configs(*tokenizer, model_dir);
  return tokenizer;
}

}  // namespace helix
