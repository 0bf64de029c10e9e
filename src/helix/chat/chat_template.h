// A model's own chat template (the Jinja text in tokenizer_config.json's
// "chat_template" or a GGUF's tokenizer.chat_template), rendered the way
// Hugging Face transformers renders it, so that a prompt built here is byte for
// byte the prompt the model was trained with:
//  - jinja2 with trim_blocks=True and lstrip_blocks=True;
//  - transformers' `tojson` (json.dumps, ensure_ascii=False, keys in order);
//  - the globals raise_exception(message) (throws Error with the message) and
//    strftime_now(format) (the date from RenderOptions::now, so tests are
//    deterministic);
//  - the variables messages, add_generation_prompt, bos_token, eos_token,
//    tools and documents (none unless given), plus any extra ones.
//
// Parsing happens once; a ChatTemplate is immutable and can render from many
// threads at once.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "helix/chat/jinja_ast.h"
#include "helix/chat/jinja_render.h"

namespace helix::chat {

struct Message {
  std::string role;  // "system", "user", "assistant", "tool", ...
  std::string content;
};

struct RenderOptions {
  bool add_generation_prompt = false;
  std::string bos_token;
  std::string eos_token;
  // More template variables, e.g. {"tools": [...], "enable_thinking": false};
  // they override the ones above. Key order is kept (tojson shows it).
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  // The time strftime_now formats (local time fields); absent: now.
  std::optional<std::tm> now;
};

// How templates are read and run. The defaults are transformers' settings;
// jinja2_defaults() gives plain jinja2's (no trimming, HTML-safe sorted tojson).
struct TemplateSettings {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool transformers_tojson = true;
  RenderLimits limits;

  static TemplateSettings jinja2_defaults();
};

class ChatTemplate {
 public:
  // Throws Error "<where>: line L, column C: ..." if the template does not parse.
  static ChatTemplate parse(std::string_view source, std::string_view where,
                            const TemplateSettings& settings = TemplateSettings());

  // Throws Error "<where>: line L, column C: ..." if rendering fails, including
  // the template's own raise_exception("...") (its message is kept verbatim).
  std::string render(const std::vector<Message>& messages, const RenderOptions& options = RenderOptions()) const;

  // The same with messages as JSON objects, for fields beyond role and content
  // (tool_calls, tool_call_id, reasoning_content, ...).
  std::string render_json(const nlohmann::ordered_json& messages, const RenderOptions& options = RenderOptions()) const;

 private:
  ChatTemplate(std::shared_ptr<const Body> program, std::string where, const TemplateSettings& settings)
      : program_(std::move(program)), where_(std::move(where)), settings_(settings) {}

  std::shared_ptr<const Body> program_;
  std::string where_;
  TemplateSettings settings_;
};

}  // namespace helix::chat
