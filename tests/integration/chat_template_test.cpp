// Chat requests rendered with the model's own chat template
// (tokenizer_config.json "chat_template" beside a model), served by a
// coordinator and three worker processes: the streamed text equals the
// single-process greedy continuation of the template's rendering, and a
// conversation the template rejects (raise_exception) gets a 400 with its message.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helix/engine/random_model.h"
#include "support/local_cluster.h"
#include "support/test_support.h"

namespace helix {
namespace {

using nlohmann::json;
using test::LocalCluster;
using test::TempDir;

constexpr const char* kTemplate =
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['content'] == 'forbidden' %}{{ raise_exception('this conversation is not allowed') }}{% endif %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

TEST(ChatTemplate, ChatRequestsUseTheModelsTemplate) {
  TempDir dir;
  RandomModelOptions o;
  o.config = random_model_preset("tiny");
  o.seed = 7;
  const auto model = dir.path() / "tiny";
  write_random_model(o, model);
  const json config = {{"chat_template", kTemplate}, {"bos_token", "<|begin_of_text|>"},
                       {"eos_token", "<|end_of_text|>"}, {"add_bos_token", true}};
  dir.write("tiny/tokenizer_config.json", config.dump());
  LocalCluster cluster(dir, model, test::placement_json("local3", 4,
                                                          {{"fast", "cpu-fast", 0, 2},
                                                           {"mid", "cpu-mid", 2, 3},
                                                           {"slow", "cpu-slow", 3, 4}}),
                       {"fast", "mid", "slow"});
  ASSERT_TRUE(cluster.wait_healthy(60)) << cluster.log();
  EXPECT_NE(cluster.log().find("chat requests use the model's template"), std::string::npos) << cluster.log();

  const json messages = {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", " hello "}}};
  const auto chat = [&](const json& body, int* status) {
    auto res = cluster.client().Post("/v1/chat/completions", body.dump(), "application/json");
    if (!res) return json{{"transport_error", httplib::to_string(res.error())}};
    *status = res->status;
    return json::parse(res->body, nullptr, false);
  };
  int status = 0;
  const json reply = chat({{"model", "tiny"}, {"messages", messages}, {"max_tokens", 12}, {"temperature", 0}}, &status);
  EXPECT_EQ(status, 200) << reply.dump();
  // What the template renders after the bos, generated with the bos in one process.
  const std::string rendered =
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n";
  const auto [expected, tokens] = test::generate(model, rendered, 12);
  EXPECT_EQ(reply["choices"][0]["message"]["content"], expected) << reply.dump();

  const json rejected = chat({{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", "forbidden"}}}}, {"max_tokens", 4}},
                             &status);
  EXPECT_EQ(status, 400) << rejected.dump();
  EXPECT_NE(rejected.dump().find("this conversation is not allowed"), std::string::npos) << rejected.dump();
}

}  // namespace
}  // namespace helix
