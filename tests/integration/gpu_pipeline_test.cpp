// A pipeline of a CPU worker and a GPU worker (issue 15): the trained stories260K
// model's layers [0, 3) on the CPU and [3, 5) on cuda:0, over real sockets, give
// the single-process CPU text, whether the GPU is the worker's --device or the
// cluster file's device for its node. Where no GPU is usable (no CUDA in the build,
// no driver, no device) the first test skips and prints `helix generate --device
// cuda:0`'s reason, and the same pipeline runs with the GPU worker on the CUDA
// emulator instead; the second then checks that the cluster file's device reached
// the worker (which stops, naming it and why) and that --device cpu overrides it.
// Also: `helix profile --device cuda:0`, on the emulated GPU, writes tables the
// planner plans from.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/local_cluster.h"
#include "support/test_support.h"

namespace helix {
namespace {

using nlohmann::json;
using test::LocalCluster;
using test::TempDir;

const std::string kClusterYaml = test::loopback_cluster_yaml("mixed", {"host", "gpu"});

const std::filesystem::path kStories = test::source_dir() / "data" / "models" / "stories260K";

// `helix generate --device cuda:0`'s answer: exit 0 where a GPU is usable.
test::CommandResult probe_gpu() {
  return test::run_command(std::string(HELIX_BINARY) + " generate --model '" + (kStories / "model.gguf").string() +
                           "' --prompt x --max-tokens 1 --device cuda:0");
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Layers [0, 3) on a CPU worker, [3, 5) on a worker on cuda:0 started from
// `gpu_binary`: the story the single process tells.
void expect_the_single_process_story(const std::string& gpu_binary) {
  const auto stories = kStories;
  TempDir dir;
  const auto cluster = dir.write("mixed.yaml", kClusterYaml);
  const std::string placement = test::placement_json("mixed", 5, {{"host", "cpu", 0, 3}, {"gpu", "cpu", 3, 5}});
  LocalCluster c(dir, stories, placement, {}, {}, cluster.string(), "stories");
  c.start_worker("host");
  // 4096 tokens, not its default share of the GPU: the GPU unit tests may run beside it.
  c.start_worker("gpu", {"--device", "cuda:0", "--kv-tokens", "4096"}, gpu_binary);
  ASSERT_TRUE(c.wait_healthy(120)) << c.log();
  const json r = c.complete({{"model", "stories"}, {"prompt", "Once upon a time"}, {"max_tokens", 32}, {"temperature", 0}});
  EXPECT_EQ(r["choices"][0]["text"], test::generate(stories, "Once upon a time", 32).first) << r.dump();
  EXPECT_NE(read_text(dir.path() / "gpu.log").find("layers [3, 5) loaded on cuda:0"), std::string::npos)
      << read_text(dir.path() / "gpu.log");
}

TEST(GpuPipeline, ACpuWorkerAndAGpuWorkerGiveTheSingleProcessText) {
  const test::CommandResult probe = probe_gpu();
  if (probe.exit_code != 0) GTEST_SKIP() << "no usable GPU: " << probe.err;
  expect_the_single_process_story(HELIX_BINARY);
}

// The same with the GPU worker on the CUDA emulator (helix-emulated-gpu): the GPU
// stage's code (kernels, stream, graphs, pinned copies of the activations) runs on
// the CPU, wherever the CUDA backend is built.
TEST(GpuPipeline, ACpuWorkerAndAnEmulatedGpuWorkerGiveTheSingleProcessText) {
#if defined(HELIX_EMULATED_GPU_BINARY)
  expect_the_single_process_story(HELIX_EMULATED_GPU_BINARY);
#else
  GTEST_SKIP() << "built without the CUDA backend (no nvcc), so without its emulator";
#endif
}

// `generate` gives the GPU stage its largest step (a prefill chunk) before the KV
// cache takes its share: on a 64 MiB emulated GPU a 99% share still prefills a
// prompt of 400-odd tokens (buffers for 512), where the step's buffers once found
// no memory left.
TEST(GpuPipeline, AGpuStageFilledToItsShareStillTakesItsLargestStep) {
#if defined(HELIX_EMULATED_GPU_BINARY)
  std::string prompt;
  for (int i = 0; i < 40; ++i) prompt += "Once upon a time there was a dog. ";
  const test::CommandResult r = test::run_command(
      std::string("HELIX_CUDA_EMULATOR_MEMORY=67108864 ") + HELIX_EMULATED_GPU_BINARY + " generate --model '" +
      (kStories / "model.gguf").string() + "' --prompt '" + prompt + "' --max-tokens 4 --device cuda:0 --kv-memory 99% --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  const int prompt_tokens = j["prompt_tokens"].get<int>();
  EXPECT_GT(prompt_tokens, 256) << r.out;
  EXPECT_GT(j["kv_capacity_tokens"].get<int>(), prompt_tokens) << r.out;
#else
  GTEST_SKIP() << "built without the CUDA backend (no nvcc), so without its emulator";
#endif
}

// A GPU worker whose device breaks mid-generation (on the emulator, its 60th kernel
// fails as one reaching an illegal address fails on a GPU: every later CUDA call
// fails too) fails its batch, which moves to the other worker holding the same
// layers, and leaves the cluster naming its device, instead of failing every
// request routed to it from then on. Every request still gets the single-process
// story.
TEST(GpuPipeline, AWorkerWhoseGpuBreaksLeavesAndItsRequestsFinishElsewhere) {
#if defined(HELIX_EMULATED_GPU_BINARY)
  TempDir dir;
  const auto cluster = dir.write("mixed.yaml", test::loopback_cluster_yaml("mixed", {"host", "gpu", "spare"}));
  const std::string placement =
      test::placement_json("mixed", 5, {{"host", "cpu", 0, 3}, {"gpu", "cpu", 3, 5}, {"spare", "cpu", 3, 5}});
  LocalCluster c(dir, kStories, placement, {}, {}, cluster.string(), "stories");
  c.start_worker("host");
  c.start_worker("spare");
  const std::size_t gpu = c.start_worker("gpu", {"--device", "cuda:0", "--kv-tokens", "4096"},
                                         HELIX_EMULATED_GPU_BINARY, {"HELIX_CUDA_EMULATOR_FAIL_AT_KERNEL=60"});
  ASSERT_TRUE(c.wait_healthy(120)) << c.log();
  const std::string expected = test::generate(kStories, "Once upon a time", 32).first;
  for (int i = 0; i < 4; ++i) {  // the router sends some of them through the GPU worker
    const json r =
        c.complete({{"model", "stories"}, {"prompt", "Once upon a time"}, {"max_tokens", 32}, {"temperature", 0}});
    EXPECT_EQ(r["choices"][0]["text"], expected) << "request " << i << ": " << r.dump();
  }
  const std::string log = read_text(dir.path() / "gpu.log");
  EXPECT_EQ(c.worker(gpu).wait(60), 1) << log;
  EXPECT_NE(log.find("worker gpu: its device cuda:0 failed, leaving the cluster"), std::string::npos) << log;
  EXPECT_NE(log.find("failed as HELIX_CUDA_EMULATOR_FAIL_AT_KERNEL asked"), std::string::npos) << log;
  EXPECT_NE(c.log().find("moves to a new route"), std::string::npos) << c.log();  // the failed batch's request
#else
  GTEST_SKIP() << "built without the CUDA backend (no nvcc), so without its emulator";
#endif
}

// `helix profile --device cuda:0` (issue 15's profiles from the user's GPUs), on the
// emulated GPU: it times the GPU stage's layers and writes the tables a cluster
// file's layer_times names, and the planner plans the model from them. The times
// are the emulator's, no GPU's: this shows the path, not a GPU profile.
TEST(GpuProfile, AGpusLayerTimesAreWhatThePlannerPlansFrom) {
#if defined(HELIX_EMULATED_GPU_BINARY)
  TempDir dir;
  const auto out = dir.path() / "profiles";
  const std::string model = (kStories / "model.gguf").string();
  const test::CommandResult r = test::run_command(
      std::string(HELIX_EMULATED_GPU_BINARY) + " profile --model '" + model + "' --out '" + out.string() +
      "' --machine EMULATED --device cuda:0 --prompt-tokens 8,32 --decode-batches 1,4 --decode-context 16 --repeats 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json meta = json::parse(read_text(out / "EMULATED" / "profile.json"));
  EXPECT_EQ(meta["device"], "cuda:0");
  EXPECT_EQ(meta["kernels"], "cuda");
  for (const char* table : {"prompt_bs2time.csv", "decode_bs2time.csv"}) {
    EXPECT_NE(read_text(out / "EMULATED" / table).find('\n'), std::string::npos) << table;
  }
  const auto cluster = dir.write("gpus.yaml", test::profiled_pair_cluster_yaml("EMULATED", "profiles/EMULATED"));
  const std::string plan = std::string(HELIX_BINARY) + " plan --objective max-flow -q --cluster '" + cluster.string() +
                           "' --model ";
  const test::CommandResult planned = test::run_command(plan + "'" + model + "'");
  EXPECT_EQ(planned.exit_code, 0) << planned.err;
  // The tables are read: another model's layers are refused by them.
  const test::CommandResult other = test::run_command(plan + "llama3-8b");
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("profile.json: timed on layers with hidden_size 64"), std::string::npos) << other.err;
#else
  GTEST_SKIP() << "built without the CUDA backend (no nvcc), so without its emulator";
#endif
}

TEST(GpuPipeline, TheClusterFileNamesTheGpuWorkersDevice) {
  TempDir dir;
  std::string yaml = kClusterYaml;
  const std::string plain = "{name: gpu, gpu: cpu}";
  ASSERT_NE(yaml.find(plain), std::string::npos) << yaml;
  yaml.replace(yaml.find(plain), plain.size(), "{name: gpu, gpu: cpu, device: cuda:0}");
  const auto cluster = dir.write("mixed.yaml", yaml);
  const std::string placement = test::placement_json("mixed", 5, {{"host", "cpu", 0, 3}, {"gpu", "cpu", 3, 5}});
  LocalCluster c(dir, kStories, placement, {}, {}, cluster.string(), "stories");
  c.start_worker("host");
  const std::size_t gpu = c.start_worker("gpu", {"--kv-tokens", "4096"});  // no --device: the cluster file's
  const std::string expected = test::generate(kStories, "Once upon a time", 32).first;
  const auto device_of = [&](const std::string& node) {  // as the admin API reports it
    const auto answer = c.nodes();
    if (answer.contains("nodes")) {
      for (const auto& n : answer["nodes"]) {
        if (n["name"] == node) return n["device"].is_string() ? n["device"].get<std::string>() : std::string("null");
      }
    }
    return "no node " + node + " in " + answer.dump();
  };
  const auto story = [&] {
    return c.complete({{"model", "stories"}, {"prompt", "Once upon a time"}, {"max_tokens", 32}, {"temperature", 0}});
  };
  if (probe_gpu().exit_code == 0) {
    ASSERT_TRUE(c.wait_healthy(120)) << c.log();
    EXPECT_EQ(story()["choices"][0]["text"], expected);
    EXPECT_NE(read_text(dir.path() / "gpu.log").find("layers [3, 5) loaded on cuda:0"), std::string::npos);
    EXPECT_EQ(device_of("gpu"), "cuda:0");
    EXPECT_EQ(device_of("host"), "cpu");
    return;
  }
  // No GPU here: the worker got cuda:0 from the coordinator and stops, saying so.
  EXPECT_EQ(c.worker(gpu).wait(60), 1) << read_text(dir.path() / "gpu.log");
  EXPECT_NE(read_text(dir.path() / "gpu.log")
                .find("worker gpu: layers [3, 5) on cuda:0 (its node's device in the cluster file): cuda:0: "),
            std::string::npos)
      << read_text(dir.path() / "gpu.log");
  // Its own --device wins over the file's: on the CPU the pipeline serves the story.
  c.start_worker("gpu", {"--device", "cpu"});
  ASSERT_TRUE(c.wait_healthy(120)) << c.log();
  EXPECT_EQ(story()["choices"][0]["text"], expected);
  EXPECT_NE(read_text(dir.path() / "gpu.2.log").find("layers [3, 5) loaded on cpu"), std::string::npos)
      << read_text(dir.path() / "gpu.2.log");
  EXPECT_NE(read_text(dir.path() / "host.log").find("layers [0, 3) loaded on cpu"), std::string::npos)
      << read_text(dir.path() / "host.log");
  EXPECT_EQ(device_of("gpu"), "cpu");
  EXPECT_EQ(device_of("host"), "cpu");
}

}  // namespace
}  // namespace helix
