// The tokenizer of a model as `--model` names it, for the commands that tokenize
// (generate, serve, up). Here rather than in tokenize/ because a GGUF file is
// opened with the weights module, which tokenize does not depend on.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "helix/tokenize/tokenizer.h"

namespace helix {

// The tokenizer of a model as `--model` names it: a GGUF file's own vocabulary
// (tokenizer.ggml.*, see gguf_tokenizer.h) when it has one -- the way GGUF
// models are distributed, with nothing beside them -- else the tokenizer files
// of the file's directory (load_tokenizer). For a directory: its tokenizer
// files, else the vocabulary of the one .gguf file in it.
std::unique_ptr<Tokenizer> load_model_tokenizer(const std::filesystem::path& model);

// The model's own chat template, found the same way: a GGUF's
// tokenizer.chat_template (with the texts of its bos/eos tokens), else the
// "chat_template" of tokenizer_config.json (a string, or a list of named ones:
// "default") with its bos_token/eos_token. nullopt when the model has none.
struct ModelChatTemplate {
  std::string text;
  std::string bos_token, eos_token;
  std::string source;  // file and key, for messages
};
std::optional<ModelChatTemplate> load_model_chat_template(const std::filesystem::path& model);

}  // namespace helix
