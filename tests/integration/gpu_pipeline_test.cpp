// A pipeline of a CPU worker and a GPU worker (issue 15): the trained stories260K
// model's layers [0, 3) on the CPU and [3, 5) on cuda:0, over real sockets, give
// the single-process CPU text. Where no GPU is usable (no CUDA in the build, no
// driver, no device) it skips and prints `helix generate --device cuda:0`'s reason.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/local_cluster.h"
#include "support/test_support.h"

namespace helix {
namespace {

using nlohmann::json;
using test::LocalCluster;
using test::TempDir;

const std::string kClusterYaml = test::loopback_cluster_yaml("mixed", {"host", "gpu"});

TEST(GpuPipeline, ACpuWorkerAndAGpuWorkerGiveTheSingleProcessText) {
  const auto stories = test::source_dir() / "data" / "models" / "stories260K";
  const test::CommandResult probe = test::run_command(std::string(HELIX_BINARY) + " generate --model '" +
                                                      (stories / "model.gguf").string() +
                                                      "' --prompt x --max-tokens 1 --device cuda:0");
  if (probe.exit_code != 0) GTEST_SKIP() << "no usable GPU: " << probe.err;
  TempDir dir;
  const auto cluster = dir.write("mixed.yaml", kClusterYaml);
  const std::string placement = test::placement_json("mixed", 5, {{"host", "cpu", 0, 3}, {"gpu", "cpu", 3, 5}});
  LocalCluster c(dir, stories, placement, {}, {}, cluster.string(), "stories");
  c.start_worker("host");
  c.start_worker("gpu", {"--device", "cuda:0"});
  ASSERT_TRUE(c.wait_healthy(120)) << c.log();
  const json r = c.complete({{"model", "stories"}, {"prompt", "Once upon a time"}, {"max_tokens", 32}, {"temperature", 0}});
  EXPECT_EQ(r["choices"][0]["text"], test::generate(stories, "Once upon a time", 32).first) << r.dump();
}

}  // namespace
}  // namespace helix
