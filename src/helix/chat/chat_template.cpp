#include "helix/chat/chat_template.h"

#include "helix/chat/jinja_json.h"
#include "helix/chat/jinja_lexer.h"
#include "helix/chat/jinja_parser.h"
#include "helix/core/error.h"

namespace helix::chat {
namespace {

std::tm current_time() {
  const std::time_t t = std::time(nullptr);
  std::tm out{};
  localtime_r(&t, &out);
  return out;
}

Value strftime_now(const CallArgs& args, const std::tm& now) {
  const Value* format = args.get(0, "format");
  if (format == nullptr || !format->is_string()) fail("strftime_now takes a format string");
  if (format->as_string().empty()) return Value::string("");
  std::string buffer(256, '\0');
  const std::size_t n = std::strftime(buffer.data(), buffer.size(), format->as_string().c_str(), &now);
  if (n == 0) fail("strftime_now: format '{}' gives nothing or too much", format->as_string());
  buffer.resize(n);
  return Value::string(std::move(buffer));
}

FilterSettings filter_settings(const TemplateSettings& s) {
  FilterSettings f;
  f.max_size = s.limits.max_output_bytes;
  if (!s.transformers_tojson) {  // jinja2's htmlsafe_json_dumps with its default sort_keys
    f.json.sort_keys = true;
    f.json.ensure_ascii = true;
    f.json.html_safe = true;
  }
  return f;
}

// Errors are helix::Error; anything else the standard library throws (a
// length_error, bad_alloc) is turned into one too, naming the template.
template <typename F>
auto guarded(std::string_view where, F&& body) -> decltype(body()) {
  try {
    return in_context(where, body);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("{}: template failed: {}", where, e.what());
  }
}

}  // namespace

TemplateSettings TemplateSettings::jinja2_defaults() {
  TemplateSettings s;
  s.trim_blocks = false;
  s.lstrip_blocks = false;
  s.transformers_tojson = false;
  return s;
}

ChatTemplate ChatTemplate::parse(std::string_view source, std::string_view where, const TemplateSettings& settings) {
  return guarded(where, [&] {
    LexOptions lex;
    lex.trim_blocks = settings.trim_blocks;
    lex.lstrip_blocks = settings.lstrip_blocks;
    auto program = std::make_shared<const Body>(parse_template(tokenize(source, lex)));
    return ChatTemplate(std::move(program), std::string(where), settings);
  });
}

std::string ChatTemplate::render(const std::vector<Message>& messages, const RenderOptions& options) const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Message& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  return render_json(list, options);
}

std::string ChatTemplate::render_json(const nlohmann::ordered_json& messages, const RenderOptions& options) const {
  return guarded(where_, [&] {
    if (!messages.is_array()) fail("messages must be a JSON array");
    const std::tm now = options.now.value_or(current_time());
    Dict variables;
    variables.set("messages", from_json(messages));
    variables.set("add_generation_prompt", Value::boolean(options.add_generation_prompt));
    variables.set("bos_token", Value::string(options.bos_token));
    variables.set("eos_token", Value::string(options.eos_token));
    variables.set("tools", Value::none());
    variables.set("documents", Value::none());
    variables.set("raise_exception", Value::callable("raise_exception", [](const CallArgs& args) -> Value {
                    const Value* message = args.get(0, "message");
                    fail("{}", message != nullptr ? message->to_string() : std::string("raise_exception() called"));
                  }));
    variables.set("strftime_now", Value::callable("strftime_now", [now](const CallArgs& args) { return strftime_now(args, now); }));
    if (!options.extra.is_object()) fail("extra template variables must be a JSON object");
    for (const auto& [key, value] : options.extra.items()) variables.set(key, from_json(value));
    return render_template(*program_, variables, filter_settings(settings_), settings_.limits);
  });
}

}  // namespace helix::chat
