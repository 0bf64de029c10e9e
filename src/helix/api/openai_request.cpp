#include "helix/api/openai_request.h"

#include <cstdint>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace helix::api {
namespace {

using nlohmann::json;

[[noreturn]] void refuse(std::string param, std::string message) {
  throw ApiException(ApiError{
      .status = 400, .type = "invalid_request_error", .message = std::move(message), .param = std::move(param)});
}

[[noreturn]] void refuse_type(const std::string& param, std::string_view expected, const json& value) {
  refuse(param, fmt::format("'{}' must be {}, got {}", param, expected, value.type_name()));
}

json parse_object(std::string_view body) {
  json root;
  try {
    root = json::parse(body);
  } catch (const json::parse_error& e) {
    // e.byte is the 1-based position the parser stopped at; clients need it to
    // find the mistake in a hand-written body.
    refuse("", fmt::format("request body is not valid JSON (at byte {}): {}", e.byte, e.what()));
  }
  if (!root.is_object()) refuse("", fmt::format("request body must be a JSON object, got {}", root.type_name()));
  return root;
}

// The field's value, or nullptr when absent or null (OpenAI clients send null for
// every optional field they do not set).
const json* field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// Integers as JSON integers only: 5.0 is refused, as OpenAI does.
std::int64_t integer_value(const json& value, const std::string& param) {
  if (!value.is_number_integer()) refuse_type(param, "an integer", value);
  if (value.is_number_unsigned()) {
    auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      refuse(param, fmt::format("'{}' is too large ({})", param, u));
    return static_cast<std::int64_t>(u);
  }
  return value.get<std::int64_t>();
}

double number_value(const json& value, const std::string& param) {
  if (!value.is_number()) refuse_type(param, "a number", value);
  return value.get<double>();
}

bool bool_value(const json& value, const std::string& param) {
  if (!value.is_boolean()) refuse_type(param, "a boolean", value);
  return value.get<bool>();
}

std::string read_model(const json& root) {
  const json* model = field(root, "model");
  if (model == nullptr) refuse("model", "missing required field 'model'");
  if (!model->is_string()) refuse_type("model", "a string", *model);
  auto id = model->get<std::string>();
  if (id.empty()) refuse("model", "'model' must not be empty");
  return id;
}

int read_max_tokens(const json& value, const std::string& param) {
  std::int64_t n = integer_value(value, param);
  if (n < 1) refuse(param, fmt::format("'{}' must be at least 1, got {}", param, n));
  if (n > std::numeric_limits<int>::max()) refuse(param, fmt::format("'{}' is too large ({})", param, n));
  return static_cast<int>(n);
}

bool all_integers(const json& array) {
  for (const json& element : array)
    if (!element.is_number_integer()) return false;
  return true;
}

std::vector<std::int32_t> read_token_ids(const json& array) {
  std::vector<std::int32_t> ids;
  ids.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    const json& element = array[i];
    bool in_range = element.is_number_unsigned()
                        ? element.get<std::uint64_t>() <= std::numeric_limits<std::int32_t>::max()
                        : element.get<std::int64_t>() >= 0 &&
                              element.get<std::int64_t>() <= std::numeric_limits<std::int32_t>::max();
    if (!in_range)
      refuse("prompt", fmt::format("prompt token id {} ({}) is not a non-negative 32-bit integer", i, element.dump()));
    ids.push_back(static_cast<std::int32_t>(element.get<std::int64_t>()));
  }
  return ids;
}

// A prompt is one string or one list of token ids. A one-element list of either
// is unwrapped (clients such as lm-eval send ["text"]); longer lists of prompts
// are batches, which OpenAI answers with several choices: not supported here.
void read_prompt_value(const json& prompt, GenerationRequest& request, bool unwrapped) {
  if (prompt.is_string()) {
    request.prompt = prompt.get<std::string>();
    if (request.prompt.empty()) refuse("prompt", "'prompt' must not be empty");
    return;
  }
  if (!prompt.is_array()) refuse_type("prompt", "a string or an array of integer token ids", prompt);
  if (prompt.empty()) refuse("prompt", "'prompt' must not be empty");
  if (all_integers(prompt)) {
    request.prompt_tokens = read_token_ids(prompt);
    return;
  }
  if (!unwrapped && prompt.size() == 1 && (prompt[0].is_string() || prompt[0].is_array())) {
    read_prompt_value(prompt[0], request, true);
    return;
  }
  if (prompt.size() > 1 && (prompt[0].is_string() || prompt[0].is_array()))
    refuse("prompt", fmt::format("batched prompts ({} in one request) are not supported; send one request per prompt",
                                 prompt.size()));
  refuse("prompt", "'prompt' must be a string or an array of integer token ids");
}

void read_prompt(const json& root, GenerationRequest& request) {
  const json* prompt = field(root, "prompt");
  if (prompt == nullptr) refuse("prompt", "missing required field 'prompt'");
  read_prompt_value(*prompt, request, false);
}

// OpenAI message content: a string, or an array of {"type":"text","text":...}
// parts (newer clients send that even for plain text), joined in order.
std::string read_content(const json& content, std::size_t index) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array())
    refuse("messages", fmt::format("messages[{}].content must be a string, got {}", index, content.type_name()));
  std::string text;
  for (const json& part : content) {
    bool is_text =
        part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string();
    if (!is_text)
      refuse("messages", fmt::format("messages[{}].content parts must be {{\"type\": \"text\", \"text\": ...}}; "
                                     "other content types are not supported",
                                     index));
    text += part["text"].get<std::string>();
  }
  return text;
}

ChatMessage read_message(const json& message, std::size_t index) {
  if (!message.is_object())
    refuse("messages", fmt::format("messages[{}] must be an object, got {}", index, message.type_name()));
  const json* role = field(message, "role");
  if (role == nullptr || !role->is_string())
    refuse("messages", fmt::format("messages[{}].role must be a string", index));
  auto name = role->get<std::string>();
  if (name != "system" && name != "user" && name != "assistant")
    refuse("messages", fmt::format("messages[{}].role must be one of system, user, assistant, got '{}'", index, name));
  const json* content = field(message, "content");
  if (content == nullptr) refuse("messages", fmt::format("messages[{}].content is missing", index));
  return ChatMessage{.role = std::move(name), .content = read_content(*content, index)};
}

void read_messages(const json& root, GenerationRequest& request) {
  const json* messages = field(root, "messages");
  if (messages == nullptr) refuse("messages", "missing required field 'messages'");
  if (!messages->is_array()) refuse_type("messages", "an array of messages", *messages);
  if (messages->empty()) refuse("messages", "'messages' must not be empty");
  for (std::size_t i = 0; i < messages->size(); ++i) request.messages.push_back(read_message((*messages)[i], i));
}

void read_stop(const json& root, GenerationRequest& request) {
  const json* stop = field(root, "stop");
  if (stop == nullptr) return;
  if (stop->is_string()) {
    if (stop->get<std::string>().empty()) refuse("stop", "'stop' strings must not be empty");
    request.stop.push_back(stop->get<std::string>());
    return;
  }
  if (!stop->is_array()) refuse_type("stop", "a string or an array of strings", *stop);
  if (stop->size() > kMaxStopStrings)
    refuse("stop", fmt::format("'stop' allows at most {} strings, got {}", kMaxStopStrings, stop->size()));
  for (const json& s : *stop) {
    if (!s.is_string()) refuse_type("stop", "a string or an array of strings", s);
    if (s.get<std::string>().empty()) refuse("stop", "'stop' strings must not be empty");
    request.stop.push_back(s.get<std::string>());
  }
}

void read_seed(const json& root, GenerationRequest& request) {
  const json* seed = field(root, "seed");
  if (seed == nullptr) return;
  if (!seed->is_number_integer()) refuse_type("seed", "an integer", *seed);
  if (!seed->is_number_unsigned()) refuse("seed", fmt::format("'seed' must be non-negative, got {}", seed->dump()));
  request.seed = seed->get<std::uint64_t>();
}

void read_stream(const json& root, GenerationRequest& request) {
  if (const json* stream = field(root, "stream")) request.stream = bool_value(*stream, "stream");
  const json* options = field(root, "stream_options");
  if (options == nullptr) return;
  if (!options->is_object()) refuse_type("stream_options", "an object", *options);
  if (const json* usage = field(*options, "include_usage"))
    request.include_usage = bool_value(*usage, "stream_options.include_usage");
}

// Sampling and output options common to both endpoints.
void read_options(const json& root, GenerationRequest& request) {
  if (const json* t = field(root, "temperature")) {
    request.temperature = number_value(*t, "temperature");
    if (!(request.temperature >= 0.0 && request.temperature <= 2.0))
      refuse("temperature", fmt::format("'temperature' must be in [0, 2], got {}", t->dump()));
  }
  if (const json* p = field(root, "top_p")) {
    request.top_p = number_value(*p, "top_p");
    if (!(request.top_p > 0.0 && request.top_p <= 1.0))
      refuse("top_p", fmt::format("'top_p' must be in (0, 1], got {}", p->dump()));
  }
  if (const json* n = field(root, "n")) {
    if (integer_value(*n, "n") != 1) refuse("n", fmt::format("only n = 1 is supported, got {}", n->dump()));
  }
  if (const json* ignore = field(root, "ignore_eos")) request.ignore_eos = bool_value(*ignore, "ignore_eos");
  read_seed(root, request);
  read_stop(root, request);
  read_stream(root, request);
}

// Fields that ask for output this server cannot produce. Ignoring them like
// unknown fields would silently give a client wrong results (lm-eval's
// loglikelihood relies on echo + logprobs), so they are refused.
bool asks_for(const json& root, const char* name) {
  const json* value = field(root, name);
  if (value == nullptr) return false;
  if (value->is_boolean()) return value->get<bool>();
  if (value->is_number()) return value->get<double>() != 0.0;
  return true;
}

void refuse_unsupported(const json& root, bool chat) {
  for (const char* name : {"logprobs", "top_logprobs", "echo"}) {
    if (chat && std::string_view(name) == "echo") continue;
    if (asks_for(root, name)) refuse(name, fmt::format("'{}' is not supported by this server", name));
  }
  if (const json* best_of = field(root, "best_of"); best_of != nullptr && !chat) {
    if (integer_value(*best_of, "best_of") != 1) refuse("best_of", "only best_of = 1 is supported");
  }
}

}  // namespace

GenerationRequest parse_completion_request(std::string_view body) {
  json root = parse_object(body);
  GenerationRequest request;
  request.chat = false;
  request.model = read_model(root);
  read_prompt(root, request);
  request.max_tokens = kDefaultCompletionMaxTokens;
  if (const json* max = field(root, "max_tokens")) request.max_tokens = read_max_tokens(*max, "max_tokens");
  read_options(root, request);
  refuse_unsupported(root, false);
  return request;
}

GenerationRequest parse_chat_request(std::string_view body) {
  json root = parse_object(body);
  GenerationRequest request;
  request.chat = true;
  request.model = read_model(root);
  read_messages(root, request);
  // max_completion_tokens is OpenAI's newer name; it wins when both are sent.
  request.max_tokens = kDefaultChatMaxTokens;
  if (const json* max = field(root, "max_completion_tokens"))
    request.max_tokens = read_max_tokens(*max, "max_completion_tokens");
  else if (const json* old_max = field(root, "max_tokens"))
    request.max_tokens = read_max_tokens(*old_max, "max_tokens");
  read_options(root, request);
  refuse_unsupported(root, true);
  return request;
}

std::string render_chat_prompt(const std::vector<ChatMessage>& messages) {
  std::string prompt;
  for (const ChatMessage& message : messages) {
    prompt += "<|" + message.role + "|>\n";
    prompt += message.content;
    prompt += '\n';
  }
  prompt += "<|assistant|>\n";
  return prompt;
}

}  // namespace helix::api
