#include "helix/api/openai_response.h"

#include <gtest/gtest.h>

namespace helix::api {
namespace {

using nlohmann::json;

ResponseInfo completion_info() {
  return ResponseInfo{.id = response_id(false, 7), .model = "m", .created = 1700000000, .chat = false};
}
ResponseInfo chat_info() {
  return ResponseInfo{.id = response_id(true, 8), .model = "m", .created = 1700000001, .chat = true};
}

TEST(OpenAIResponse, IdsAndCreatedTime) {
  EXPECT_EQ(response_id(false, 7), "cmpl-7");
  EXPECT_EQ(response_id(true, 12), "chatcmpl-12");
  EXPECT_GT(unix_seconds_now(), 1700000000);
}

TEST(OpenAIResponse, CompletionBody) {
  json body =
      completion_response_json(completion_info(), "Hello", "length", Usage{.prompt_tokens = 3, .completion_tokens = 5});
  EXPECT_EQ(body["id"], "cmpl-7");
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["created"], 1700000000);
  EXPECT_EQ(body["model"], "m");
  ASSERT_EQ(body["choices"].size(), 1U);
  const json& choice = body["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["text"], "Hello");
  EXPECT_TRUE(choice["logprobs"].is_null());
  EXPECT_EQ(choice["finish_reason"], "length");
  EXPECT_EQ(body["usage"], (json{{"prompt_tokens", 3}, {"completion_tokens", 5}, {"total_tokens", 8}}));
}

TEST(OpenAIResponse, ChatBody) {
  json body =
      completion_response_json(chat_info(), "Hi there", "stop", Usage{.prompt_tokens = 1, .completion_tokens = 2});
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["id"], "chatcmpl-8");
  const json& choice = body["choices"][0];
  EXPECT_EQ(choice["message"], (json{{"role", "assistant"}, {"content", "Hi there"}}));
  EXPECT_FALSE(choice.contains("text"));
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(body["usage"]["total_tokens"], 3);
}

TEST(OpenAIResponse, CompletionChunks) {
  json text = text_chunk_json(completion_info(), "He");
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(text["choices"][0]["text"], "He");
  EXPECT_TRUE(text["choices"][0]["finish_reason"].is_null());
  json last = finish_chunk_json(completion_info(), "stop");
  EXPECT_EQ(last["choices"][0]["text"], "");
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  EXPECT_FALSE(last.contains("usage"));
}

TEST(OpenAIResponse, ChatChunksCarryDeltas) {
  json role = role_chunk_json(chat_info());
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(role["choices"][0]["finish_reason"].is_null());
  json text = text_chunk_json(chat_info(), "lo");
  EXPECT_EQ(text["choices"][0]["delta"], (json{{"content", "lo"}}));
  json last = finish_chunk_json(chat_info(), "length");
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
}

TEST(OpenAIResponse, UsageChunkHasNoChoices) {
  json usage = usage_chunk_json(chat_info(), Usage{.prompt_tokens = 4, .completion_tokens = 6});
  EXPECT_EQ(usage["object"], "chat.completion.chunk");
  EXPECT_TRUE(usage["choices"].is_array());
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 10);
}

TEST(OpenAIResponse, SseFraming) {
  EXPECT_EQ(sse_event(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
  // UTF-8 stays UTF-8; a broken byte is replaced instead of throwing.
  EXPECT_EQ(sse_event(json("h\xc3\xa9")), "data: \"h\xc3\xa9\"\n\n");
  EXPECT_NO_THROW(sse_event(json(std::string("bad \xff byte"))));
}

TEST(OpenAIResponse, ErrorBody) {
  json e = error_json(ApiError{.status = 400, .type = "invalid_request_error", .message = "bad n", .param = "n"});
  EXPECT_EQ(
      e,
      (json{{"error", {{"message", "bad n"}, {"type", "invalid_request_error"}, {"param", "n"}, {"code", nullptr}}}}));
  json no_param = error_json(ApiError{.status = 500, .type = "server_error", .message = "boom", .param = ""});
  EXPECT_TRUE(no_param["error"]["param"].is_null());
}

TEST(OpenAIResponse, ModelList) {
  json models = models_json({"a", "b"}, 42);
  EXPECT_EQ(models["object"], "list");
  ASSERT_EQ(models["data"].size(), 2U);
  EXPECT_EQ(models["data"][1], (json{{"id", "b"}, {"object", "model"}, {"created", 42}, {"owned_by", "helix"}}));
}

}  // namespace
}  // namespace helix::api
