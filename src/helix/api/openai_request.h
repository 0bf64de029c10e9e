// Parsing and validating OpenAI /v1/completions and /v1/chat/completions request
// bodies into a GenerationRequest. The rules follow OpenAI and vLLM so that
// existing clients work unchanged: unknown fields are ignored (clients send many),
// JSON null means "not given", and every refusal is a 400 invalid_request_error
// whose `param` names the field at fault.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "helix/api/backend.h"

namespace helix::api {

// OpenAI's defaults when max_tokens is not given (chat has none upstream: vLLM
// uses the remaining context; a fixed, generous cap keeps runaway requests out).
inline constexpr int kDefaultCompletionMaxTokens = 16;
inline constexpr int kDefaultChatMaxTokens = 256;
// OpenAI allows at most this many stop strings.
inline constexpr std::size_t kMaxStopStrings = 4;

// A /v1/completions body. Throws ApiException (400) naming the field at fault.
GenerationRequest parse_completion_request(std::string_view body);

// A /v1/chat/completions body. Throws ApiException (400) naming the field at fault.
GenerationRequest parse_chat_request(std::string_view body);

// The prompt of a chat request for a model without a chat template of its own
// (chat_prompt.h renders the model's template when there is one). A plain,
// model-independent template, one block per message:
//
//   <|system|>\n{content}\n<|user|>\n{content}\n<|assistant|>\n{content}\n ...
//
// ending with an open "<|assistant|>\n" header for the model to continue.
std::string render_chat_prompt(const std::vector<ChatMessage>& messages);

}  // namespace helix::api
