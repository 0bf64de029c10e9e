// The prompt a /v1/chat/completions request is generated from: the model's own
// chat template (chat/chat_template.h: tokenizer.chat_template of a GGUF, or
// tokenizer_config.json's "chat_template"), rendered as transformers renders it;
// or, for a model without one, the plain template of render_chat_prompt.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "helix/api/backend.h"
#include "helix/chat/chat_template.h"

namespace helix::api {

// Where a model's template comes from, as the model files give it.
struct ChatFormat {
  std::string template_text;  // Jinja source
  std::string bos_token;      // the texts the template may write
  std::string eos_token;
  std::string source;         // for messages, e.g. "model.gguf: tokenizer.chat_template"
};

class ChatPrompt {
 public:
  // The plain template.
  ChatPrompt() = default;
  // Throws Error naming format.source (line, column) if the template does not parse.
  explicit ChatPrompt(const ChatFormat& format);

  // Throws ApiException (400, field "messages") when the template rejects the
  // conversation (its raise_exception, e.g. roles that do not alternate).
  std::string render(const std::vector<ChatMessage>& messages) const;

  // Whether the model's own template is used (then the rendered text carries
  // any bos itself and must not get another).
  bool uses_model_template() const { return template_.has_value(); }
  const std::string& bos_token() const { return bos_; }

 private:
  std::optional<chat::ChatTemplate> template_;
  std::string bos_, eos_;
};

}  // namespace helix::api
