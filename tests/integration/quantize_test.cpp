// `helix model quantize` as a user runs it: stories260K (llama2.c's model,
// F32 GGUF) re-quantized to each type still tells the published story, and a
// model whose rows are whole 256-blocks gets real K-quants in the _M mix; the
// rewritten file keeps every metadata value with its GGUF type.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helix/weights/gguf_raw_metadata.h"
#include "support/test_support.h"

namespace helix {
namespace {

std::string helix_cmd(const std::string& args) { return std::string(HELIX_BINARY) + " " + args; }
std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

nlohmann::json run_json(const std::string& args) {
  test::CommandResult r = test::run_command(helix_cmd(args));
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

std::vector<int> greedy_tokens(const std::filesystem::path& model) {
  return run_json("generate --model " + quoted(model) + " --prompt '' --max-tokens 30 --json")["tokens"]
      .get<std::vector<int>>();
}

TEST(Quantize, Stories260KKeepsItsStoryInEveryType) {
  test::TempDir dir;
  const auto f32 = test::source_dir() / "data" / "models" / "stories260K" / "model.gguf";
  const std::vector<int> reference = greedy_tokens(f32);
  ASSERT_EQ(reference.size(), 30U);
  for (const std::string type : {"q8_0", "q6_k", "q5_1", "q5_0", "q4_1", "q4_0", "q5_k_m", "q4_k_m"}) {
    const auto out = dir.path() / (type + ".gguf");
    const nlohmann::json report =
        run_json("model quantize " + quoted(f32) + " " + quoted(out) + " --type " + type + " --json");
    EXPECT_LT(report.value("bytes_after", 0), report.value("bytes_before", 0)) << type;
    const std::vector<int> tokens = greedy_tokens(out);
    int same = 0;
    for (std::size_t i = 0; i < tokens.size() && i < reference.size(); ++i) same += tokens[i] == reference[i];
    // Measured: 20 to 30 of 30 (docs/performance.md); a broken layout gives noise.
    EXPECT_GE(same, 15) << type;
  }
}

TEST(Quantize, WholeBlocksGetKQuantsInTheMixAndMetadataKeepsItsTypes) {
  test::TempDir dir;
  // hidden 256, so that every matrix row is a whole number of 256-value blocks.
  const auto config = dir.write("config.json", R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 8, "num_attention_heads": 4,
    "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0, "tie_word_embeddings": false})");
  const auto model = dir.path() / "m";
  ASSERT_EQ(test::run_command(helix_cmd("model init --config " + quoted(config) + " --format gguf --dtype f32 --out " +
                                        quoted(model)))
                .exit_code,
            0);
  const auto out = dir.path() / "q4km.gguf";
  const nlohmann::json report =
      run_json("model quantize " + quoted(model / "model.gguf") + " " + quoted(out) + " --type q4_k_m --json");
  std::map<std::string, std::string> to;
  for (const auto& t : report["tensors"]) to[t["name"]] = t["to"];
  EXPECT_EQ(to["blk.0.attn_q.weight"], "Q4_K");
  EXPECT_EQ(to["output.weight"], "Q6_K");
  // More bits in layers 0 (first eighth), 7 (last eighth), 3 and 6 (every third between).
  EXPECT_EQ(to["blk.0.ffn_down.weight"], "Q6_K");
  EXPECT_EQ(to["blk.2.ffn_down.weight"], "Q4_K");
  EXPECT_EQ(to["blk.3.attn_v.weight"], "Q6_K");
  EXPECT_EQ(to["blk.4.attn_v.weight"], "Q4_K");
  EXPECT_EQ(to["blk.7.ffn_down.weight"], "Q6_K");
  EXPECT_EQ(to["blk.0.attn_norm.weight"], "F32");  // vectors stay
  // Every key but general.file_type is copied with its type and bytes.
  const auto before = read_gguf_raw_metadata(model / "model.gguf");
  const auto after = read_gguf_raw_metadata(out);
  std::map<std::string, GgufRawValue> written;
  for (const auto& e : after) written[e.key] = std::get<GgufRawValue>(e.value);
  for (const auto& e : before) {
    if (e.key == "general.file_type" || e.key == "general.alignment") continue;
    const auto& raw = std::get<GgufRawValue>(e.value);
    ASSERT_TRUE(written.count(e.key)) << e.key;
    EXPECT_EQ(written[e.key].type, raw.type) << e.key;
    EXPECT_EQ(written[e.key].bytes, raw.bytes) << e.key;
  }
  EXPECT_EQ(written["general.file_type"].bytes, std::string("\x0f\0\0\0", 4));  // 15: MOSTLY_Q4_K_M
  // And it runs.
  const nlohmann::json gen = run_json("generate --model " + quoted(out) + " --prompt 'The cluster' --max-tokens 8 --json");
  EXPECT_EQ(gen["tokens"].size(), 8U);
}

TEST(Quantize, BadInputGivesOneLineErrors) {
  test::TempDir dir;
  const auto f32 = test::source_dir() / "data" / "models" / "stories260K" / "model.gguf";
  test::CommandResult r = test::run_command(helix_cmd("model quantize " + quoted(f32) + " " +
                                                      quoted(dir.path() / "x.gguf") + " --type q3_k"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--type q3_k: unknown"), std::string::npos) << r.err;
  r = test::run_command(helix_cmd("model quantize " + quoted(dir.write("x.txt", "hi")) + " " +
                                  quoted(dir.path() / "y.gguf") + " --type q4_0"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("expected a .gguf file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace helix
