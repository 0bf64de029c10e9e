#include "helix/api/openai_response.h"

#include <chrono>

#include <fmt/format.h>

namespace helix::api {
namespace {

using nlohmann::json;

json envelope(const ResponseInfo& info, bool chunk) {
  const char* object = info.chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                 : "text_completion";  // OpenAI uses it for chunks too
  return json{{"id", info.id}, {"object", object}, {"created", info.created}, {"model", info.model}};
}

// A null finish_reason is how OpenAI marks a choice that is still going.
json finish_value(std::string_view finish_reason) {
  return finish_reason.empty() ? json(nullptr) : json(finish_reason);
}

// choices[0] of a chunk: the text (completions) or a delta object (chat).
json chunk_choice(const ResponseInfo& info, json delta_or_text, std::string_view finish_reason) {
  json choice{{"index", 0}};
  if (info.chat) {
    choice["delta"] = std::move(delta_or_text);
  } else {
    choice["text"] = std::move(delta_or_text);
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_value(finish_reason);
  return choice;
}

json chunk(const ResponseInfo& info, json choice) {
  json body = envelope(info, true);
  body["choices"] = json::array({std::move(choice)});
  return body;
}

}  // namespace

std::string response_id(bool chat, std::uint64_t serial) {
  return fmt::format("{}-{}", chat ? "chatcmpl" : "cmpl", serial);
}

std::int64_t unix_seconds_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json usage_json(const Usage& usage) {
  return json{{"prompt_tokens", usage.prompt_tokens},
              {"completion_tokens", usage.completion_tokens},
              {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

json completion_response_json(const ResponseInfo& info, std::string_view text, std::string_view finish_reason,
                              const Usage& usage) {
  json choice{{"index", 0}};
  if (info.chat) {
    choice["message"] = json{{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_value(finish_reason);
  json body = envelope(info, false);
  body["choices"] = json::array({std::move(choice)});
  body["usage"] = usage_json(usage);
  return body;
}

json role_chunk_json(const ResponseInfo& info) {
  return chunk(info, chunk_choice(info, json{{"role", "assistant"}, {"content", ""}}, ""));
}

json text_chunk_json(const ResponseInfo& info, std::string_view text) {
  json payload = info.chat ? json{{"content", text}} : json(text);
  return chunk(info, chunk_choice(info, std::move(payload), ""));
}

json finish_chunk_json(const ResponseInfo& info, std::string_view finish_reason) {
  json payload = info.chat ? json::object() : json("");
  return chunk(info, chunk_choice(info, std::move(payload), finish_reason));
}

json usage_chunk_json(const ResponseInfo& info, const Usage& usage) {
  json body = envelope(info, true);
  body["choices"] = json::array();
  body["usage"] = usage_json(usage);
  return body;
}

json error_json(const ApiError& error) {
  return json{{"error",
               {{"message", error.message},
                {"type", error.type},
                {"param", error.param.empty() ? json(nullptr) : json(error.param)},
                {"code", nullptr}}}};
}

json models_json(const std::vector<std::string>& model_ids, std::int64_t created) {
  json data = json::array();
  for (const std::string& id : model_ids)
    data.push_back(json{{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "helix"}});
  return json{{"object", "list"}, {"data", std::move(data)}};
}

std::string json_text(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& value) { return "data: " + json_text(value) + "\n\n"; }

}  // namespace helix::api
