// What `make demo` runs: `helix up` with the bundled stories260K GGUF (nothing
// beside it), a coordinator and three worker processes over real sockets. The
// story streamed through the distributed pipeline must equal the single-process
// greedy text and llama2.c's published sample, and be valid UTF-8.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helix/tokenize/utf8.h"
#include "support/test_support.h"

namespace helix {
namespace {

constexpr std::string_view kPublished =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
    "a big, red ball. She wanted to play with it, but it was too high.";

std::string helix_cmd(const std::string& args) { return std::string(HELIX_BINARY) + " " + args; }

TEST(Demo, ThreeWorkersStreamThePublishedStoryAsOneProcessDoes) {
  test::TempDir dir;
  const auto gguf = dir.path() / "stories260K.gguf";
  std::filesystem::copy_file(test::source_dir() / "data" / "models" / "stories260K" / "model.gguf", gguf);
  const std::string model = "'" + gguf.string() + "'";
  // The timeout guards against a hang only.
  test::CommandResult up = test::run_command(
      "timeout 300 " + helix_cmd("up --listen 127.0.0.1:0 --model " + model +
                                 " --prompt 'Once upon a time' --max-tokens 64 --log-dir '" +
                                 (dir.path() / "logs").string() + "'"));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_NE(up.err.find("3 workers ready"), std::string::npos) << up.err;
  EXPECT_TRUE(is_valid_utf8(up.out));
  test::CommandResult one = test::run_command(
      helix_cmd("generate --model " + model + " --prompt 'Once upon a time' --max-tokens 64 --json"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::string single = "Once upon a time" + nlohmann::json::parse(one.out)["text"].get<std::string>();
  // `up` prints the prompt, the streamed text and a newline.
  EXPECT_EQ(up.out, single + "\n");
  EXPECT_EQ(up.out.rfind(kPublished, 0), 0U) << up.out;
}

}  // namespace
}  // namespace helix
