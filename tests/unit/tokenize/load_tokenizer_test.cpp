#include "helix/tokenize/load_tokenizer.h"

#include <gtest/gtest.h>

#include "helix/core/error.h"
#include "helix/tokenize/bpe_trainer.h"
#include "helix/tokenize/sentencepiece_training.h"
#include "support/test_support.h"

namespace helix {
namespace {

const std::vector<std::string> kSpecials = {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"};

// A model directory with a trained tokenizer.json (vocab 400: specials 397..399).
struct BpeModelDir {
  test::TempDir dir;
  BpeModelDir() { dir.write("tokenizer.json", train_byte_level_bpe("some text to learn from", 400, kSpecials).dump()); }
};

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LoadTokenizer, ByteLevelBpeWithoutConfigsGuessesByName) {
  BpeModelDir model;
  const auto tokenizer = load_tokenizer(model.dir.path());
  EXPECT_EQ(tokenizer->kind(), "bpe");
  EXPECT_EQ(tokenizer->vocab_size(), 400);
  EXPECT_EQ(tokenizer->bos_id(), 397);
  EXPECT_EQ(tokenizer->eos_id(), 398);
  EXPECT_TRUE(tokenizer->add_bos());  // the trainer's post-processor template
  EXPECT_EQ(tokenizer->stop_ids(), (std::vector<int>{398, 399}));
}

TEST(LoadTokenizer, TokenizerConfigCanTurnTheBosOff) {
  BpeModelDir model;
  model.dir.write("tokenizer_config.json", R"({"add_bos_token": false})");
  const auto tokenizer = load_tokenizer(model.dir.path());
  EXPECT_FALSE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->encode_with_bos("some"), tokenizer->encode("some"));
}

TEST(LoadTokenizer, ConfigsSetBosEosAndStops) {
  BpeModelDir model;
  model.dir.write("tokenizer_config.json",
                  R"({"add_bos_token": true, "bos_token": "<|begin_of_text|>",
                      "eos_token": {"content": "<|eot_id|>", "special": true}})");
  model.dir.write("config.json", R"({"bos_token_id": 397, "eos_token_id": [398, 399]})");
  model.dir.write("generation_config.json", R"({"eos_token_id": 12})");
  const auto tokenizer = load_tokenizer(model.dir.path());
  EXPECT_EQ(tokenizer->bos_id(), 397);
  EXPECT_EQ(tokenizer->eos_id(), 399);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_TRUE(tokenizer->is_stop(398));
  EXPECT_TRUE(tokenizer->is_stop(399));
  EXPECT_TRUE(tokenizer->is_stop(12));
  EXPECT_FALSE(tokenizer->is_stop(397));
  const std::vector<int> ids = tokenizer->encode_with_bos("some");
  EXPECT_EQ(ids.front(), 397);
  EXPECT_EQ(std::vector<int>(ids.begin() + 1, ids.end()), tokenizer->encode("some"));
}

TEST(LoadTokenizer, BadConfigsNameFileAndField) {
  BpeModelDir model;
  model.dir.write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  std::string message = error_of([&] { load_tokenizer(model.dir.path()); });
  EXPECT_NE(message.find("tokenizer_config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("bos_token"), std::string::npos) << message;

  model.dir.write("tokenizer_config.json", R"({"add_bos_token": "yes"})");
  message = error_of([&] { load_tokenizer(model.dir.path()); });
  EXPECT_NE(message.find("add_bos_token"), std::string::npos) << message;

  model.dir.write("tokenizer_config.json", "{}");
  model.dir.write("config.json", R"({"eos_token_id": 100000})");
  message = error_of([&] { load_tokenizer(model.dir.path()); });
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("eos_token_id"), std::string::npos) << message;

  model.dir.write("config.json", "{ broken");
  message = error_of([&] { load_tokenizer(model.dir.path()); });
  EXPECT_NE(message.find("config.json: not valid JSON"), std::string::npos) << message;
}

TEST(LoadTokenizer, MissingDirectoryOrFiles) {
  test::TempDir dir;
  std::string message = error_of([&] { load_tokenizer(dir.path() / "absent"); });
  EXPECT_NE(message.find("absent"), std::string::npos) << message;
  message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_NE(message.find(dir.path().string()), std::string::npos) << message;
  EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
  EXPECT_NE(message.find("tokenizer.model"), std::string::npos) << message;
}

TEST(LoadTokenizer, PrefersTokenizerModelOverANonByteLevelTokenizerJson) {
  test::TempDir dir;
  train_sentencepiece_model("a small corpus\nfor a small model\n", 300, dir.path() / "tokenizer.model");
  // The shape of a LLaMA-2 tokenizer.json (Metaspace-style), which is not byte-level.
  dir.write("tokenizer.json",
            R"({"model": {"type": "BPE", "vocab": {}, "merges": [], "byte_fallback": true},
                "pre_tokenizer": null, "decoder": {"type": "Sequence", "decoders": []}})");
  EXPECT_EQ(load_tokenizer(dir.path())->kind(), "sentencepiece");
  std::filesystem::remove(dir.path() / "tokenizer.model");
  const std::string message = error_of([&] { load_tokenizer(dir.path()); });
  EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
}

}  // namespace
}  // namespace helix
