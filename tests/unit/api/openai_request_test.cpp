#include "helix/api/openai_request.h"

#include <gtest/gtest.h>

#include <string>

namespace helix::api {
namespace {

// The error a parse refuses with; status 0 when it was accepted.
template <typename Parse>
ApiError refusal(Parse parse, const std::string& body) {
  try {
    parse(body);
  } catch (const ApiException& e) {
    return e.error();
  }
  return ApiError{.status = 0, .type = "", .message = "accepted", .param = ""};
}

ApiError completion_refusal(const std::string& body) { return refusal(parse_completion_request, body); }
ApiError chat_refusal(const std::string& body) { return refusal(parse_chat_request, body); }

void expect_refused(const ApiError& error, const std::string& param) {
  EXPECT_EQ(error.status, 400) << error.message;
  EXPECT_EQ(error.type, "invalid_request_error");
  EXPECT_EQ(error.param, param) << error.message;
  EXPECT_FALSE(error.message.empty());
}

// A completions body with `extra` fields appended.
std::string completion(const std::string& extra) {
  return R"({"model": "m", "prompt": "hi")" + (extra.empty() ? "" : ", " + extra) + "}";
}
std::string chat(const std::string& extra) {
  return R"({"model": "m", "messages": [{"role": "user", "content": "hi"}])" + (extra.empty() ? "" : ", " + extra) +
         "}";
}

TEST(CompletionRequest, MinimalBodyGetsOpenAIDefaults) {
  GenerationRequest r = parse_completion_request(completion(""));
  EXPECT_EQ(r.model, "m");
  EXPECT_FALSE(r.chat);
  EXPECT_EQ(r.prompt, "hi");
  EXPECT_TRUE(r.prompt_tokens.empty());
  EXPECT_EQ(r.max_tokens, 16);
  EXPECT_DOUBLE_EQ(r.temperature, 1.0);
  EXPECT_DOUBLE_EQ(r.top_p, 1.0);
  EXPECT_FALSE(r.seed.has_value());
  EXPECT_TRUE(r.stop.empty());
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_FALSE(r.ignore_eos);
}

TEST(CompletionRequest, AllOptionsAreRead) {
  GenerationRequest r = parse_completion_request(completion(
      R"("max_tokens": 7, "temperature": 0, "top_p": 0.5, "seed": 18446744073709551615, "stop": ["a", "bc"],
         "n": 1, "stream": true, "stream_options": {"include_usage": true}, "ignore_eos": true)"));
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_DOUBLE_EQ(r.temperature, 0.0);
  EXPECT_DOUBLE_EQ(r.top_p, 0.5);
  ASSERT_TRUE(r.seed.has_value());
  EXPECT_EQ(*r.seed, 18446744073709551615ULL);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.ignore_eos);
}

TEST(CompletionRequest, UnknownFieldsAndNullsAreIgnored) {
  GenerationRequest r = parse_completion_request(
      completion(R"("user": "x", "frequency_penalty": 0.5, "logit_bias": {}, "stop": null, "max_tokens": null,
                    "seed": null, "stream_options": null, "logprobs": null, "echo": false)"));
  EXPECT_EQ(r.max_tokens, 16);
  EXPECT_TRUE(r.stop.empty());
  EXPECT_FALSE(r.seed.has_value());
}

TEST(CompletionRequest, TokenIdPromptsAndSingletonLists) {
  GenerationRequest ids = parse_completion_request(R"({"model": "m", "prompt": [1, 2, 2147483647]})");
  EXPECT_TRUE(ids.prompt.empty());
  EXPECT_EQ(ids.prompt_tokens, (std::vector<std::int32_t>{1, 2, 2147483647}));
  EXPECT_EQ(parse_completion_request(R"({"model": "m", "prompt": ["text"]})").prompt, "text");
  EXPECT_EQ(parse_completion_request(R"({"model": "m", "prompt": [[5, 6]]})").prompt_tokens,
            (std::vector<std::int32_t>{5, 6}));
}

TEST(CompletionRequest, MalformedJsonNamesThePosition) {
  ApiError e = completion_refusal(R"({"model": "m", "prompt": })");
  expect_refused(e, "");
  EXPECT_NE(e.message.find("not valid JSON"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("byte 26"), std::string::npos) << e.message;
  expect_refused(completion_refusal(""), "");
  expect_refused(completion_refusal("[1, 2]"), "");
}

TEST(CompletionRequest, ModelIsRequiredAndAString) {
  expect_refused(completion_refusal(R"({"prompt": "hi"})"), "model");
  expect_refused(completion_refusal(R"({"model": 3, "prompt": "hi"})"), "model");
  expect_refused(completion_refusal(R"({"model": "", "prompt": "hi"})"), "model");
  expect_refused(completion_refusal(R"({"model": null, "prompt": "hi"})"), "model");
}

TEST(CompletionRequest, PromptMustBeAStringOrTokenIds) {
  expect_refused(completion_refusal(R"({"model": "m"})"), "prompt");
  expect_refused(completion_refusal(R"({"model": "m", "prompt": ""})"), "prompt");
  expect_refused(completion_refusal(R"({"model": "m", "prompt": []})"), "prompt");
  expect_refused(completion_refusal(R"({"model": "m", "prompt": 5})"), "prompt");
  expect_refused(completion_refusal(R"({"model": "m", "prompt": [1, "a"]})"), "prompt");
  expect_refused(completion_refusal(R"({"model": "m", "prompt": [1, -2]})"), "prompt");
  expect_refused(completion_refusal(R"({"model": "m", "prompt": [1, 2147483648]})"), "prompt");
  expect_refused(completion_refusal(R"({"model": "m", "prompt": [1.5]})"), "prompt");
  ApiError batch = completion_refusal(R"({"model": "m", "prompt": ["a", "b"]})");
  expect_refused(batch, "prompt");
  EXPECT_NE(batch.message.find("batched"), std::string::npos) << batch.message;
}

TEST(CompletionRequest, MaxTokensMustBeAPositiveInteger) {
  expect_refused(completion_refusal(completion(R"("max_tokens": -1)")), "max_tokens");
  expect_refused(completion_refusal(completion(R"("max_tokens": 0)")), "max_tokens");
  expect_refused(completion_refusal(completion(R"("max_tokens": 2.5)")), "max_tokens");
  expect_refused(completion_refusal(completion(R"("max_tokens": "8")")), "max_tokens");
  expect_refused(completion_refusal(completion(R"("max_tokens": 3000000000)")), "max_tokens");
  EXPECT_EQ(parse_completion_request(completion(R"("max_tokens": 1)")).max_tokens, 1);
}

TEST(CompletionRequest, TemperatureAndTopPRanges) {
  expect_refused(completion_refusal(completion(R"("temperature": -0.1)")), "temperature");
  expect_refused(completion_refusal(completion(R"("temperature": 2.01)")), "temperature");
  expect_refused(completion_refusal(completion(R"("temperature": "hot")")), "temperature");
  EXPECT_DOUBLE_EQ(parse_completion_request(completion(R"("temperature": 2)")).temperature, 2.0);
  expect_refused(completion_refusal(completion(R"("top_p": 0)")), "top_p");
  expect_refused(completion_refusal(completion(R"("top_p": 1.5)")), "top_p");
  expect_refused(completion_refusal(completion(R"("top_p": true)")), "top_p");
  EXPECT_DOUBLE_EQ(parse_completion_request(completion(R"("top_p": 1)")).top_p, 1.0);
}

TEST(CompletionRequest, SeedIsANonNegativeUint64) {
  expect_refused(completion_refusal(completion(R"("seed": -1)")), "seed");
  expect_refused(completion_refusal(completion(R"("seed": 1.5)")), "seed");
  expect_refused(completion_refusal(completion(R"("seed": 18446744073709551616)")), "seed");
  expect_refused(completion_refusal(completion(R"("seed": "7")")), "seed");
  EXPECT_EQ(parse_completion_request(completion(R"("seed": 0)")).seed, 0U);
}

TEST(CompletionRequest, StopIsAStringOrUpToFourStrings) {
  EXPECT_EQ(parse_completion_request(completion(R"("stop": "\n")")).stop, (std::vector<std::string>{"\n"}));
  EXPECT_TRUE(parse_completion_request(completion(R"("stop": [])")).stop.empty());
  EXPECT_EQ(parse_completion_request(completion(R"("stop": ["a", "b", "c", "d"])")).stop.size(), 4U);
  expect_refused(completion_refusal(completion(R"("stop": ["a", "b", "c", "d", "e"])")), "stop");
  expect_refused(completion_refusal(completion(R"("stop": "")")), "stop");
  expect_refused(completion_refusal(completion(R"("stop": ["a", ""])")), "stop");
  expect_refused(completion_refusal(completion(R"("stop": [1])")), "stop");
  expect_refused(completion_refusal(completion(R"("stop": 1)")), "stop");
}

TEST(CompletionRequest, OnlyOneChoice) {
  ApiError e = completion_refusal(completion(R"("n": 2)"));
  expect_refused(e, "n");
  expect_refused(completion_refusal(completion(R"("n": "1")")), "n");
  expect_refused(completion_refusal(completion(R"("best_of": 3)")), "best_of");
}

TEST(CompletionRequest, BooleansMustBeBooleans) {
  expect_refused(completion_refusal(completion(R"("stream": 1)")), "stream");
  expect_refused(completion_refusal(completion(R"("stream": "true")")), "stream");
  expect_refused(completion_refusal(completion(R"("ignore_eos": 0)")), "ignore_eos");
  expect_refused(completion_refusal(completion(R"("stream_options": true)")), "stream_options");
  expect_refused(completion_refusal(completion(R"("stream": true, "stream_options": {"include_usage": "yes"})")),
                 "stream_options.include_usage");
}

TEST(CompletionRequest, OutputItCannotProduceIsRefused) {
  expect_refused(completion_refusal(completion(R"("echo": true)")), "echo");
  expect_refused(completion_refusal(completion(R"("logprobs": 2)")), "logprobs");
  EXPECT_NO_THROW(parse_completion_request(completion(R"("logprobs": 0)")));
}

TEST(ChatRequest, MessagesAndDefaults) {
  GenerationRequest r = parse_chat_request(
      R"({"model": "m", "messages": [{"role": "system", "content": "be brief"},
          {"role": "user", "content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}]},
          {"role": "assistant", "content": "ok", "name": "bot"}]})");
  EXPECT_TRUE(r.chat);
  EXPECT_EQ(r.max_tokens, 256);
  EXPECT_TRUE(r.prompt.empty());
  ASSERT_EQ(r.messages.size(), 3U);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[0].content, "be brief");
  EXPECT_EQ(r.messages[1].content, "hello");
  EXPECT_EQ(r.messages[2].role, "assistant");
}

TEST(ChatRequest, MessagesMustBeANonEmptyArrayOfRoleAndContent) {
  expect_refused(chat_refusal(R"({"model": "m"})"), "messages");
  expect_refused(chat_refusal(R"({"model": "m", "messages": []})"), "messages");
  expect_refused(chat_refusal(R"({"model": "m", "messages": "hi"})"), "messages");
  expect_refused(chat_refusal(R"({"model": "m", "messages": ["hi"]})"), "messages");
  expect_refused(chat_refusal(R"({"model": "m", "messages": [{"content": "hi"}]})"), "messages");
  expect_refused(chat_refusal(R"({"model": "m", "messages": [{"role": "tool", "content": "hi"}]})"), "messages");
  expect_refused(chat_refusal(R"({"model": "m", "messages": [{"role": "user"}]})"), "messages");
  expect_refused(chat_refusal(R"({"model": "m", "messages": [{"role": "user", "content": 5}]})"), "messages");
  expect_refused(chat_refusal(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"),
                 "messages");
  ApiError e = chat_refusal(
      R"({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]})");
  EXPECT_NE(e.message.find("messages[1]"), std::string::npos) << e.message;
  expect_refused(chat_refusal(R"({"messages": [{"role": "user", "content": "hi"}]})"), "model");
}

TEST(ChatRequest, MaxCompletionTokensWinsOverMaxTokens) {
  EXPECT_EQ(parse_chat_request(chat(R"("max_tokens": 9)")).max_tokens, 9);
  EXPECT_EQ(parse_chat_request(chat(R"("max_completion_tokens": 5, "max_tokens": 9)")).max_tokens, 5);
  expect_refused(chat_refusal(chat(R"("max_completion_tokens": 0)")), "max_completion_tokens");
  expect_refused(chat_refusal(chat(R"("max_tokens": -3)")), "max_tokens");
}

TEST(ChatRequest, SharesTheSamplingValidation) {
  expect_refused(chat_refusal(chat(R"("temperature": 3)")), "temperature");
  expect_refused(chat_refusal(chat(R"("n": 3)")), "n");
  expect_refused(chat_refusal(chat(R"("stop": [1])")), "stop");
  expect_refused(chat_refusal(chat(R"("logprobs": true)")), "logprobs");
  GenerationRequest r =
      parse_chat_request(chat(R"("stream": true, "stream_options": {"include_usage": true}, "seed": 4)"));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.seed, 4U);
}

TEST(ChatPrompt, PlainTemplateEndsWithTheAssistantHeader) {
  std::vector<ChatMessage> messages{{.role = "system", .content = "S"},
                                    {.role = "user", .content = "U1"},
                                    {.role = "assistant", .content = "A1"},
                                    {.role = "user", .content = "U2"}};
  EXPECT_EQ(render_chat_prompt(messages),
            "<|system|>\nS\n<|user|>\nU1\n<|assistant|>\nA1\n<|user|>\nU2\n<|assistant|>\n");
  EXPECT_EQ(render_chat_prompt({}), "<|assistant|>\n");
}

}  // namespace
}  // namespace helix::api
