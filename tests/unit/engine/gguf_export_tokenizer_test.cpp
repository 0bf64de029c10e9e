// A GGUF file helix writes carries a tokenizer that llama.cpp (and helix's own
// GGUF tokenizer) reads as the model's tokenizer.json tokenizes: the right
// pre-tokenizer name, add_bos_token and general.file_type.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helix/engine/random_model.h"
#include "helix/tokenize/gguf_tokenizer.h"
#include "helix/tokenize/hf_bpe_tokenizer.h"
#include "helix/engine/model_tokenizer.h"
#include "helix/tokenize/load_tokenizer.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"

namespace helix {
namespace {

TEST(GgufExport, TheEmbeddedTokenizerTokenizesAsTokenizerJson) {
  test::TempDir dir;
  RandomModelOptions options;
  options.config = random_model_preset("tiny");
  options.format = WeightFormat::kGguf;
  options.dtype = DType::Q8_0;
  write_random_model(options, dir.path() / "m");
  const TensorStore store = TensorStore::open(dir.path() / "m" / "model.gguf");
  const nlohmann::json& meta = store.metadata();
  EXPECT_EQ(meta.at("tokenizer.ggml.pre"), "gpt-2");
  EXPECT_EQ(meta.at("tokenizer.ggml.add_bos_token"), true);
  EXPECT_EQ(meta.at("general.file_type"), 7);  // llama.cpp's MOSTLY_Q8_0

  const auto embedded = load_model_tokenizer(dir.path() / "m" / "model.gguf");
  const auto json = load_tokenizer(dir.path() / "m");  // tokenizer.json beside it
  EXPECT_NE(dynamic_cast<const GgufTokenizer*>(embedded.get()), nullptr);
  EXPECT_EQ(embedded->add_bos(), json->add_bos());
  EXPECT_EQ(embedded->bos_id(), json->bos_id());
  EXPECT_EQ(embedded->eos_id(), json->eos_id());
  // Digits, apostrophes and punctuation runs: where llama.cpp's "default"
  // pre-tokenizer would split differently from GPT-2's.
  for (const std::string text : {"It's 12345 o'clock, isn't it?!", "x = a+b; // $100 <tag>", "we'll've 2024-12-05",
                                 "  spaces\n\n\ttabs  ", "<|begin_of_text|>hello<|end_of_text|>"}) {
    EXPECT_EQ(embedded->encode(text), json->encode(text)) << text;
    EXPECT_EQ(embedded->decode(embedded->encode(text)), json->decode(json->encode(text))) << text;
  }
}

}  // namespace
}  // namespace helix
