#include "helix/api/chat_prompt.h"

#include "helix/api/openai_request.h"
#include "helix/core/error.h"

namespace helix::api {

ChatPrompt::ChatPrompt(const ChatFormat& format)
    : template_(chat::ChatTemplate::parse(format.template_text, format.source)),
      bos_(format.bos_token),
      eos_(format.eos_token) {}

std::string ChatPrompt::render(const std::vector<ChatMessage>& messages) const {
  if (!template_) return render_chat_prompt(messages);
  std::vector<chat::Message> conversation;
  conversation.reserve(messages.size());
  for (const ChatMessage& m : messages) conversation.push_back({m.role, m.content});
  chat::RenderOptions options;
  options.add_generation_prompt = true;
  options.bos_token = bos_;
  options.eos_token = eos_;
  try {
    return template_->render(conversation, options);
  } catch (const Error& e) {
    throw ApiException(ApiError{400, "invalid_request_error",
                                std::string("the model's chat template rejects these messages: ") + e.what(),
                                "messages"});
  }
}

}  // namespace helix::api
