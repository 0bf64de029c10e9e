#include "helix/engine/model_tokenizer.h"

#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "helix/core/error.h"

#include "helix/tokenize/gguf_tokenizer.h"
#include "helix/tokenize/load_tokenizer.h"
#include "helix/weights/tensor_store.h"

namespace helix {

namespace fs = std::filesystem;

namespace {

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const fs::path& gguf) {
  const TensorStore store = TensorStore::open(gguf);
  if (has_gguf_vocab(store.metadata())) {
    return GgufTokenizer::from_vocab(read_gguf_vocab(store.metadata(), gguf.string()), gguf.string());
  }
  return nullptr;
}

// The only .gguf file of a directory, if it has exactly one.
std::optional<fs::path> sole_gguf_in(const fs::path& dir) {
  std::optional<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".gguf") continue;
    if (found) return std::nullopt;
    found = entry.path();
  }
  return found;
}

}  // namespace

std::unique_ptr<Tokenizer> load_model_tokenizer(const fs::path& given) {
  const fs::path model = given.lexically_normal();
  std::error_code ec;
  if (fs::is_regular_file(model, ec)) {
    if (model.extension() == ".gguf") {
      if (auto tokenizer = load_gguf_tokenizer(model)) return tokenizer;
    }
    return load_tokenizer(model.parent_path().empty() ? fs::path(".") : model.parent_path());
  }
  // A directory: its tokenizer files, else the vocabulary of its one GGUF.
  const bool has_files = fs::is_regular_file(model / "tokenizer.json", ec) ||
                         fs::is_regular_file(model / "tokenizer.model", ec);
  if (!has_files && fs::is_directory(model, ec)) {
    if (const std::optional<fs::path> gguf = sole_gguf_in(model)) {
      if (auto tokenizer = load_gguf_tokenizer(*gguf)) return tokenizer;
    }
  }
  return load_tokenizer(model);
}

namespace {

std::string config_token_text(const nlohmann::json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return {};
}

std::optional<ModelChatTemplate> from_tokenizer_config(const fs::path& dir) {
  const fs::path file = dir / "tokenizer_config.json";
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  const nlohmann::json config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) fail("{}: not a JSON object", file.string());
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::nullopt;
  ModelChatTemplate result;
  result.source = file.string() + ": chat_template";
  if (it->is_string()) {
    result.text = it->get<std::string>();
  } else if (it->is_array()) {  // [{"name": "default", "template": "..."}, ...]
    for (const auto& entry : *it) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string()) {
        result.text = entry["template"].get<std::string>();
      }
    }
    if (result.text.empty()) fail("{}: chat_template: a list without a \"default\" template", file.string());
  } else {
    fail("{}: chat_template: expected a string or a list of named templates", file.string());
  }
  result.bos_token = config_token_text(config, "bos_token");
  result.eos_token = config_token_text(config, "eos_token");
  return result;
}

std::optional<ModelChatTemplate> from_gguf(const fs::path& gguf) {
  const TensorStore store = TensorStore::open(gguf);
  if (!has_gguf_vocab(store.metadata())) return std::nullopt;
  const GgufVocab vocab = read_gguf_vocab(store.metadata(), gguf.string());
  if (vocab.chat_template.empty()) return std::nullopt;
  ModelChatTemplate result;
  result.text = vocab.chat_template;
  result.source = gguf.string() + ": tokenizer.chat_template";
  if (vocab.bos_id >= 0) result.bos_token = vocab.tokens[static_cast<std::size_t>(vocab.bos_id)];
  if (vocab.eos_id >= 0) result.eos_token = vocab.tokens[static_cast<std::size_t>(vocab.eos_id)];
  return result;
}

}  // namespace

std::optional<ModelChatTemplate> load_model_chat_template(const fs::path& given) {
  const fs::path model = given.lexically_normal();
  std::error_code ec;
  if (fs::is_regular_file(model, ec)) {
    if (model.extension() == ".gguf") {
      if (auto found = from_gguf(model)) return found;
    }
    return from_tokenizer_config(model.parent_path().empty() ? fs::path(".") : model.parent_path());
  }
  if (auto found = from_tokenizer_config(model)) return found;
  if (const std::optional<fs::path> gguf = sole_gguf_in(model)) return from_gguf(*gguf);
  return std::nullopt;
}

}  // namespace helix
