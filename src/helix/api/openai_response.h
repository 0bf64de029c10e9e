// The JSON bodies the OpenAI-compatible endpoints answer with: whole responses,
// streaming chunks and their server-sent-events framing, errors and the model
// list. Shapes follow OpenAI's API reference so that its client libraries parse
// them: "text_completion" / "chat.completion" objects, "chat.completion.chunk"
// deltas, a final usage chunk with no choices, and {"error": {...}}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "helix/api/backend.h"

namespace helix::api {

// What every response object of one request repeats.
struct ResponseInfo {
  std::string id;  // "cmpl-<n>" or "chatcmpl-<n>"
  std::string model;
  std::int64_t created = 0;  // unix seconds
  bool chat = false;         // chat.completion vs text_completion
};

// "cmpl-<serial>" for completions, "chatcmpl-<serial>" for chat.
std::string response_id(bool chat, std::uint64_t serial);

// Seconds since the Unix epoch, for `created`.
std::int64_t unix_seconds_now();

// The non-streaming body: one choice with the whole text (completions) or the
// assistant message (chat), its finish_reason, and usage.
nlohmann::json completion_response_json(const ResponseInfo& info, std::string_view text, std::string_view finish_reason,
                                        const Usage& usage);

// Streaming chunks, in the order a stream sends them:
// chat only: the opening chunk whose delta carries role "assistant";
nlohmann::json role_chunk_json(const ResponseInfo& info);
// a piece of generated text (finish_reason null);
nlohmann::json text_chunk_json(const ResponseInfo& info, std::string_view text);
// the last choice chunk, empty text / delta, carrying finish_reason;
nlohmann::json finish_chunk_json(const ResponseInfo& info, std::string_view finish_reason);
// when stream_options.include_usage: a chunk with no choices and the usage.
nlohmann::json usage_chunk_json(const ResponseInfo& info, const Usage& usage);

// {"prompt_tokens", "completion_tokens", "total_tokens"}.
nlohmann::json usage_json(const Usage& usage);

// {"error": {"message", "type", "param" (null when none), "code": null}}.
nlohmann::json error_json(const ApiError& error);

// GET /v1/models: {"object": "list", "data": [{"id", "object": "model", "created", "owned_by": "helix"}]}.
nlohmann::json models_json(const std::vector<std::string>& model_ids, std::int64_t created);

// JSON text as sent: UTF-8 kept as is, invalid UTF-8 replaced rather than thrown
// on (generated text is the backend's, the response must still go out).
std::string json_text(const nlohmann::json& value);

// One server-sent event: "data: <json>\n\n".
std::string sse_event(const nlohmann::json& value);
// The end of an OpenAI stream: "data: [DONE]\n\n".
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace helix::api
