// `helix model init`, `helix generate` and `helix profile` as a user runs them: real
// processes, model files on disk, and one clear error line for each bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>

#include <unistd.h>

#include "helix/core/cgroup_memory.h"
#include "helix/perf/layer_time_table.h"
#include "support/local_cluster.h"
#include "support/test_support.h"

namespace helix {
namespace {

std::string helix_cmd(const std::string& args) { return std::string(HELIX_BINARY) + " " + args; }
std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

void expect_one_line_error(const std::string& args, const std::string& must_contain) {
  test::CommandResult r = test::run_command(helix_cmd(args));
  EXPECT_EQ(r.exit_code, 1) << args << "\nstdout: " << r.out << "\nstderr: " << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0U) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << "expected '" << must_contain << "' in: " << r.err;
}

nlohmann::json generate_json(const std::filesystem::path& model, const std::string& extra = "") {
  test::CommandResult r = test::run_command(
      helix_cmd("generate --model " + quoted(model) + " --prompt 'The cluster serves' --max-tokens 24 --json " + extra));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(EngineCli, InitThenGenerateIsDeterministicAcrossFormats) {
  test::TempDir dir;
  auto st = dir.path() / "st", gguf = dir.path() / "gguf", sharded = dir.path() / "sharded";
  ASSERT_EQ(test::run_command(helix_cmd("model init --preset tiny --dtype f32 --seed 3 --out " + quoted(st))).exit_code, 0);
  ASSERT_EQ(test::run_command(helix_cmd("model init --preset tiny --dtype f32 --seed 3 --format gguf --out " +
                                        quoted(gguf))).exit_code, 0);
  ASSERT_EQ(test::run_command(helix_cmd("model init --preset tiny --dtype f32 --seed 3 --max-shard-size '100 KB' --out " +
                                        quoted(sharded))).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(st / "config.json"));
  EXPECT_TRUE(std::filesystem::exists(st / "tokenizer.json"));
  EXPECT_TRUE(std::filesystem::exists(gguf / "model.gguf"));
  EXPECT_TRUE(std::filesystem::exists(sharded / "model.safetensors.index.json"));
  nlohmann::json a = generate_json(st), b = generate_json(st), c = generate_json(sharded), d = generate_json(gguf);
  EXPECT_EQ(a["format"], "helix-generation");
  // A random model may well sample its end-of-text token before max_tokens.
  EXPECT_GT(a["tokens"].size(), 4u);
  EXPECT_TRUE(a["finish_reason"] == "stop" || (a["finish_reason"] == "length" && a["tokens"].size() == 24u)) << a;
  EXPECT_EQ(a["tokens"], b["tokens"]);  // greedy: same process inputs, same tokens
  EXPECT_EQ(a["tokens"], c["tokens"]);
  EXPECT_EQ(a["tokens"], d["tokens"]);  // GGUF's permuted Q/K give the same greedy text
  // Sampling with a seed is reproducible, and differs from greedy.
  nlohmann::json s1 = generate_json(st, "--temperature 1.0 --top-p 0.9 --seed 11");
  nlohmann::json s2 = generate_json(st, "--temperature 1.0 --top-p 0.9 --seed 11");
  EXPECT_EQ(s1["tokens"], s2["tokens"]);
  EXPECT_NE(s1["tokens"], a["tokens"]);
}

// A GGUF as people download it: one file, its tokenizer inside. stories260K
// (llama2.c's model, converted by llama.cpp) gives llama2.c's published sample.
TEST(EngineCli, AGgufFileAloneGivesThePublishedStory) {
  test::TempDir dir;
  const auto gguf = dir.path() / "stories260K-f32.gguf";
  std::filesystem::copy_file(test::source_dir() / "data" / "models" / "stories260K" / "model.gguf", gguf);
  test::CommandResult r =
      test::run_command(helix_cmd("generate --model " + quoted(gguf) + " --prompt '' --max-tokens 62 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["text"].get<std::string>().rfind(
                "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One "
                "day, she saw a big, red ball. She wanted to play with it, but it was too high.",
                0),
            0U)
      << out["text"];
}

// A folder holding just a GGUF works like the file; paths in messages are
// normalized ("x//model.gguf" is named "x/model.gguf").
TEST(EngineCli, AFolderWithOneGgufAndCleanPathsInErrors) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "m");
  std::filesystem::copy_file(test::source_dir() / "data" / "models" / "stories260K" / "model.gguf",
                             dir.path() / "m" / "stories.gguf");
  test::CommandResult r = test::run_command(
      helix_cmd("generate --model " + quoted(dir.path() / "m") + "/ --prompt 'Once upon a time' --max-tokens 8"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(", there was a little girl", 0), 0U) << r.out;
  test::TempDir bad;
  bad.write("model.gguf", "not a gguf");
  expect_one_line_error("generate --model " + quoted(bad.path()) + "//model.gguf --prompt x",
                        (bad.path() / "model.gguf").string() + ": bad magic");
}

TEST(EngineCli, GenerateStreamsTextAndReportsSpeed) {
  test::TempDir dir;
  auto m = dir.path() / "m";
  ASSERT_EQ(test::run_command(helix_cmd("model init --preset tiny-qwen2 --out " + quoted(m))).exit_code, 0);
  test::CommandResult r = test::run_command(helix_cmd("generate --model " + quoted(m) + " --prompt hi --max-tokens 5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_NE(r.err.find("5 generated"), std::string::npos) << r.err;
}

TEST(EngineCli, ProfileWritesTablesThePlannerReads) {
  test::TempDir dir;
  auto m = dir.path() / "m", out = dir.path() / "profile";
  ASSERT_EQ(test::run_command(helix_cmd("model init --preset tiny --out " + quoted(m))).exit_code, 0);
  test::CommandResult r = test::run_command(helix_cmd("profile --model " + quoted(m) + " --out " + quoted(out) +
                                                      " --machine LAPTOP --prompt-tokens 8,32 --decode-batches 1,4 "
                                                      "--decode-context 16 --repeats 1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* table : {"prompt_bs2time.csv", "decode_bs2time.csv"}) {
    auto path = out / "LAPTOP" / table;
    LayerTimeTable t = LayerTimeTable::from_csv(test::read_file(path), path.string());
    EXPECT_GT(t.at(2), 0.0) << table;
  }
  nlohmann::json meta = nlohmann::json::parse(test::read_file(out / "LAPTOP" / "profile.json"));
  EXPECT_EQ(meta["format"], "helix-layer-profile");
  EXPECT_EQ(meta["layer"]["hidden_size"], 64);
  // A cluster of such machines plans this model from the tables, and refuses to plan
  // another model's layers with them.
  const auto cluster = dir.write("laptops.yaml", test::profiled_pair_cluster_yaml("LAPTOP", "profile/LAPTOP"));
  const std::string plan = "plan --objective max-flow -q --cluster " + quoted(cluster) + " --model ";
  test::CommandResult planned = test::run_command(helix_cmd(plan + quoted(m)));
  EXPECT_EQ(planned.exit_code, 0) << planned.err;
  expect_one_line_error(plan + "llama3-8b", "profile.json: timed on layers with hidden_size 64, but model");
}

TEST(EngineCli, BadInputGivesOneLineErrors) {
  test::TempDir dir;
  auto m = dir.path() / "m";
  expect_one_line_error("model init --preset huge --out " + quoted(m), "unknown model preset 'huge'");
  expect_one_line_error("model init --dtype q4 --out " + quoted(m), "--dtype 'q4'");
  expect_one_line_error("model init --dtype q8_0 --out " + quoted(m), "needs --format gguf");
  expect_one_line_error("model init --format onnx --out " + quoted(m), "--format 'onnx'");
  ASSERT_EQ(test::run_command(helix_cmd("model init --out " + quoted(m))).exit_code, 0);
  expect_one_line_error("model init --out " + quoted(m), "is not empty");
  expect_one_line_error("generate --model " + quoted(dir.path() / "none") + " --prompt x", "no such model");
  expect_one_line_error("generate --model " + quoted(m) + " --prompt x --temperature -1", "temperature");
  expect_one_line_error("generate --model " + quoted(m) + " --prompt x --top-p 1.5", "top_p");
  std::filesystem::resize_file(m / "model.safetensors", 64);
  expect_one_line_error("generate --model " + quoted(m) + " --prompt x", "model.safetensors");
}

// --device names the stage's device; a GPU that cannot be used says why in one line:
// no CUDA in the build, or (with it) the runtime's answer, such as no driver. Where a
// GPU is usable the stage runs there instead, and test_cuda checks its output.
TEST(EngineCli, DevicesAreNamedOrRefusedWithTheReason) {
  const std::string stories = "generate --model '" + std::string(HELIX_SOURCE_DIR) + "/data/models/stories260K/model.gguf'";
  expect_one_line_error(stories + " --prompt x --device gpu", "--device: 'gpu' is not a device (cpu or cuda:N");
  expect_one_line_error(stories + " --prompt x --device cuda:-1", "'cuda:-1' is not a device");
  test::CommandResult cpu = test::run_command(helix_cmd(stories + " --prompt 'Once upon a time' --max-tokens 8 --device cpu"));
  EXPECT_EQ(cpu.exit_code, 0) << cpu.err;
  test::CommandResult gpu = test::run_command(helix_cmd(stories + " --prompt 'Once upon a time' --max-tokens 8 --device cuda:0"));
  if (gpu.exit_code != 0) {
    EXPECT_EQ(gpu.exit_code, 1);
    EXPECT_TRUE(gpu.err.find("this build has no CUDA backend") != std::string::npos ||
                gpu.err.find("cuda: ") != std::string::npos)
        << gpu.err;
  } else {
    EXPECT_EQ(gpu.out, cpu.out);  // greedy: the same story on the GPU
  }
}

// --activations f16: hidden states cross between three workers, each holding part of
// the layers, as f16 (half the bytes of float32 on every link); stories260K's greedy
// story of 200 tokens is the one float32 activations give, which is llama2.c's.
TEST(EngineCli, F16ActivationsBetweenWorkersTellThePublishedStory) {
  const std::string model = "'" + std::string(HELIX_SOURCE_DIR) + "/data/models/stories260K/model.gguf'";
  test::TempDir dir;
  const auto placement = dir.write(
      "pipeline.json", test::placement_json("local3", 5, {{"fast", "cpu-fast", 0, 2}, {"mid", "cpu-mid", 2, 4},
                                                          {"slow", "cpu-slow", 4, 5}}));
  std::map<std::string, std::string> story;
  for (const std::string activations : {"f32", "f16"}) {
    const auto logs = dir.path() / ("logs-" + activations);
    test::CommandResult up = test::run_command(
        "timeout 300 " + helix_cmd("up --listen 127.0.0.1:0 --model " + model + " --placement '" + placement.string() +
                                   "' --activations " + activations + " --prompt 'Once upon a time' --max-tokens 200 "
                                   "--log-dir '" + logs.string() + "'"));
    ASSERT_EQ(up.exit_code, 0) << up.err;
    story[activations] = up.out;
    long long f16 = 0, f32 = 0;  // hidden-state messages the workers sent, by type
    for (const auto& log : std::filesystem::directory_iterator(logs)) {
      const std::string text = test::read_file(log.path());
      const std::string marker = "hidden-state messages in f16, ";
      const auto at = text.find(marker);
      ASSERT_NE(at, std::string::npos) << log.path() << ":\n" << text;
      f16 += std::stoll(text.substr(text.rfind("sent ", at) + 5));
      f32 += std::stoll(text.substr(at + marker.size()));
    }
    EXPECT_GE(activations == "f16" ? f16 : f32, 2 * 200) << activations << ": two of the three workers pass each token on";
    EXPECT_EQ(activations == "f16" ? f32 : f16, 0) << activations;
  }
  EXPECT_EQ(story["f16"], story["f32"]);
  EXPECT_EQ(story["f16"].rfind("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.", 0),
            0U)
      << story["f16"];
  expect_one_line_error("up --listen 127.0.0.1:0 --prompt '' --activations f8", "--activations: 'f8' is not an activation type");
  expect_one_line_error("up --listen 127.0.0.1:0 --prompt '' --engine emulated --activations f16", "needs --engine real");
  expect_one_line_error("plan --model llama2-70b --activations f16", "--activations f16: applies to a model's files");
}

// --kv-dtype f16 halves the bytes a cached token takes. On stories260K, greedy, it
// tells the published story with the f32 cache's tokens, alone (generate) and over
// three worker processes (up), whose logs say what their caches hold. A type that is
// no KV type is a one-line error, before anything starts.
TEST(EngineCli, AnF16KvCacheTellsThePublishedStory) {
  const std::string model = "'" + std::string(HELIX_SOURCE_DIR) + "/data/models/stories260K/model.gguf'";
  const std::string generate = "generate --model " + model + " --prompt '' --max-tokens 62 --json";
  test::CommandResult f32 = test::run_command(helix_cmd(generate));
  test::CommandResult f16 = test::run_command(helix_cmd(generate + " --kv-dtype f16"));
  ASSERT_EQ(f32.exit_code, 0) << f32.err;
  ASSERT_EQ(f16.exit_code, 0) << f16.err;
  const nlohmann::json a = nlohmann::json::parse(f32.out), b = nlohmann::json::parse(f16.out);
  EXPECT_EQ(b["tokens"], a["tokens"]);
  EXPECT_EQ(b["text"].get<std::string>().rfind("Once upon a time, there was a little girl named Lily. She loved to play "
                                                "outside in the park. One day, she saw a big, red ball.",
                                                0),
            0U)
      << b["text"];
  test::TempDir dir;
  test::CommandResult up = test::run_command(
      "timeout 300 " + helix_cmd("up --listen 127.0.0.1:0 --model " + model + " --kv-dtype f16 --prompt 'Once upon a time' "
                                 "--max-tokens 40 --log-dir '" + (dir.path() / "logs").string() + "'"));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_EQ(up.out.rfind("Once upon a time, there was a little girl named Lily.", 0), 0U) << up.out;
  int f16_workers = 0;
  for (const auto& log : std::filesystem::directory_iterator(dir.path() / "logs")) {
    std::ifstream in(log.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find(" tokens in f16, sending ") != std::string::npos) ++f16_workers;
  }
  EXPECT_EQ(f16_workers, 3);
  expect_one_line_error(generate + " --kv-dtype bf8", "--kv-dtype: 'bf8' is not a KV cache type (f32 or f16)");
  expect_one_line_error("up --listen 127.0.0.1:0 --prompt '' --kv-dtype half", "--kv-dtype: 'half' is not a KV cache type");
  expect_one_line_error("up --listen 127.0.0.1:0 --prompt '' --engine emulated --kv-dtype f16", "need --engine real");
  expect_one_line_error("worker --node a --engine emulated --kv-dtype f16", "need --engine real");
  expect_one_line_error("worker --node a --kv-dtype f8", "--kv-dtype: 'f8' is not a KV cache type");
}

// --kv-memory gives the capacity in memory instead of tokens: an f16 cache of the
// same memory holds twice the tokens (whole blocks of 16), as generate reports.
TEST(EngineCli, AKvCacheSizedInMemoryHoldsTwiceTheTokensInF16) {
  const std::string generate = "generate --model '" + std::string(HELIX_SOURCE_DIR) +
                               "/data/models/stories260K/model.gguf' --prompt 'Once upon a time' --max-tokens 20 --json";
  std::vector<long long> capacity;
  for (const char* dtype : {"f32", "f16"}) {
    test::CommandResult r = test::run_command(helix_cmd(generate + " --kv-memory '64 KiB' --kv-dtype " + dtype));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json out = nlohmann::json::parse(r.out);
    EXPECT_EQ(out["kv_dtype"], dtype);
    EXPECT_EQ(out["tokens"].size(), 20U);
    capacity.push_back(out["kv_capacity_tokens"].get<long long>());
  }
  EXPECT_GE(capacity[0], 32);
  EXPECT_EQ(capacity[0] % 16, 0);
  EXPECT_EQ(capacity[1], 2 * capacity[0]);
  expect_one_line_error(generate + " --kv-tokens 64 --kv-memory '1 MiB'", "--kv-tokens and --kv-memory: give one of the two");
  expect_one_line_error(generate + " --kv-memory lots", "--kv-memory: ");
  expect_one_line_error(generate + " --kv-memory '100 B'", "less than one block of 16");
  expect_one_line_error("up --listen 127.0.0.1:0 --prompt '' --kv-tokens 64 --kv-memory '1 MiB'",
                        "--kv-tokens and --kv-memory: give one of the two");
  // A share of the device's memory: a percentage in (0, 100], of which the host
  // keeps what it uses already.
  expect_one_line_error(generate + " --kv-memory 150%", "--kv-memory: '150%' is not a share of the device's memory");
  expect_one_line_error(generate + " --kv-memory 0%", "--kv-memory: '0%' is not a share");
  expect_one_line_error(generate + " --kv-memory x%", "--kv-memory: 'x%' is not a share");
  expect_one_line_error(generate + " --kv-tokens 64 --kv-memory 50%", "--kv-tokens and --kv-memory: give one of the two");
  expect_one_line_error(generate + " --kv-memory 0.0000001%", "KV cache on the cpu: ");
  expect_one_line_error("worker --node a --engine emulated --kv-memory 50%", "need --engine real");
  expect_one_line_error("up --listen 127.0.0.1:0 --prompt '' --kv-memory 101%", "--kv-memory: '101%' is not a share");
}

// A memory cgroup limited to `limit` bytes, made at the root of the hierarchy that
// holds this process's memory (core/cgroup_memory.h finds it: v1's memory
// controller on hybrid hosts, else v2, whose root may hold a child with a limit
// wherever systemd enabled the memory controller), removed at the end. why_not()
// says why it could not be made (not root, no writable cgroup, no memory
// controller there). A command runs inside it through a wrapper that moves its
// shell in first.
class LimitedCgroup {
 public:
  explicit LimitedCgroup(std::size_t limit) {
    const std::optional<MemoryCgroup> own = memory_cgroup(test::read_file("/proc/self/cgroup"));
    if (!own) {
      why_not_ = "no memory cgroup in /proc/self/cgroup";
      return;
    }
    std::error_code ec;
    dir_ = own->mount / ("helix-test-" + std::to_string(getpid()));
    if (!std::filesystem::create_directory(dir_, ec)) {
      why_not_ = "cannot make " + dir_.string() + ": " + (ec ? ec.message() : "it exists");
      dir_.clear();
      return;
    }
    if (!std::filesystem::exists(dir_ / "cgroup.procs")) {
      why_not_ = own->mount.string() + " is not a cgroup hierarchy";
      return;
    }
    std::ofstream(dir_ / own->limit_file()) << limit << "\n";
    if (test::read_file(dir_ / own->limit_file()) != std::to_string(limit) + "\n") {
      why_not_ = "cannot limit " + dir_.string() + "'s memory (no memory controller there?)";
      return;
    }
    wrapper_ = scratch_.write("in_cgroup.sh", "#!/bin/sh\necho $$ > '" + (dir_ / "cgroup.procs").string() +
                                                 "' || exit 99\nexec \"$@\"\n");
    if (test::run_command("sh " + wrapper_.string() + " true").exit_code != 0) {
      why_not_ = "cannot move a process into " + dir_.string();
    }
  }
  ~LimitedCgroup() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove(dir_, ec);  // a cgroup's files go with it; a plain directory is empty
  }
  LimitedCgroup(const LimitedCgroup&) = delete;
  LimitedCgroup& operator=(const LimitedCgroup&) = delete;

  const std::string& why_not() const { return why_not_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string inside(const std::string& command) const { return "sh " + wrapper_.string() + " " + command; }

 private:
  test::TempDir scratch_;
  std::filesystem::path dir_, wrapper_;
  std::string why_not_;
};

// A worker in a container sizes a share of memory from the container's limit, not
// from the host's /proc/meminfo, which shows the whole host: a cache sized from it
// would outgrow the container and the kernel would kill the worker.
TEST(EngineCli, AShareOfMemoryInAMemoryLimitedCgroupIsAShareOfItsLimit) {
  constexpr std::size_t kLimit = 512 * 1024 * 1024;
  const LimitedCgroup cgroup(kLimit);
  if (!cgroup.why_not().empty()) GTEST_SKIP() << cgroup.why_not();
  const std::string generate = "generate --model '" + std::string(HELIX_SOURCE_DIR) +
                               "/data/models/stories260K/model.gguf' --prompt 'Once upon a time' --max-tokens 20 --json";
  test::CommandResult r = test::run_command(cgroup.inside(helix_cmd(generate + " --kv-memory 50%")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["tokens"].size(), 20U);
  // stories260K keeps 2 x 5 layers x 32 values x 4 bytes a token: half the limit,
  // less the weights (1.2 MB) and a part block.
  const std::size_t bytes = out["kv_capacity_tokens"].get<std::size_t>() * 1280;
  EXPECT_LE(bytes, kLimit / 2);
  EXPECT_GT(bytes, kLimit / 2 - 4 * 1024 * 1024);
  // The refusal of a share the weights fill names the limit.
  test::CommandResult small = test::run_command(cgroup.inside(helix_cmd(generate + " --kv-memory 0.15%")));
  EXPECT_EQ(small.exit_code, 1);
  EXPECT_NE(small.err.find("KV cache on the cpu: 0.15% of "), std::string::npos) << small.err;
  EXPECT_NE(small.err.find("(the memory limit of cgroup " + cgroup.dir().string() + ")"), std::string::npos) << small.err;
}

// `up --device NODE=DEVICE` checks every device before a worker starts, and the node
// once the cluster is planned (before any worker starts too).
TEST(EngineCli, UpChecksEachWorkersDeviceBeforeStarting) {
  const std::string up = "up --listen 127.0.0.1:0 --prompt '' ";
  expect_one_line_error(up + "--device fast", "--device fast: expected NODE=cpu or NODE=cuda:N");
  expect_one_line_error(up + "--device fast=gpu", "--device: 'gpu' is not a device (cpu or cuda:N");
  expect_one_line_error(up + "--engine emulated --device fast=cpu", "--device needs --engine real");
  test::CommandResult gpu = test::run_command("timeout 60 " + helix_cmd(up + "--device fast=cuda:99"));
  EXPECT_EQ(gpu.exit_code, 1) << gpu.err;  // no machine here has 100 GPUs
  EXPECT_NE(gpu.err.find("error: --device cuda:99: "), std::string::npos) << gpu.err;
  test::CommandResult node = test::run_command("timeout 60 " + helix_cmd(up + "--device nosuch=cpu"));
  EXPECT_EQ(node.exit_code, 1) << node.err;
  EXPECT_NE(node.err.find("error: --device nosuch=cpu: no node 'nosuch' in the cluster"), std::string::npos) << node.err;
  EXPECT_EQ(node.err.find("workers ready"), std::string::npos) << node.err;
}

// A cluster file that names a node's device: `up` checks it before any worker
// starts, naming the node and the file, as it checks --device.
TEST(EngineCli, UpChecksTheClusterFilesDevicesBeforeStarting) {
  test::TempDir dir;
  std::string yaml = test::loopback_cluster_yaml("named", {"a", "b"});
  for (const std::string node : {"a", "b"}) {
    const std::string plain = "{name: " + node + ", gpu: cpu}";
    yaml.replace(yaml.find(plain), plain.size(), "{name: " + node + ", gpu: cpu, device: cuda:99}");
  }
  const auto cluster = dir.write("named.yaml", yaml);
  test::CommandResult r = test::run_command(
      "timeout 60 " + helix_cmd("up --listen 127.0.0.1:0 --prompt '' --cluster '" + cluster.string() + "'"));
  EXPECT_EQ(r.exit_code, 1) << r.err;  // no machine here has 100 GPUs
  EXPECT_NE(r.err.find("error: the cluster file's node "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(": device cuda:99: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("workers ready"), std::string::npos) << r.err;
  // A device that is no device is the cluster file's error, with its line.
  const std::string plain = "device: cuda:99}";
  yaml.replace(yaml.find(plain), plain.size(), "device: gpu}");
  const auto bad = dir.write("bad.yaml", yaml);
  r = test::run_command("timeout 60 " + helix_cmd("up --listen 127.0.0.1:0 --prompt '' --cluster '" + bad.string() + "'"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("bad.yaml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nodes[0].device: 'gpu' is not a device (cpu or cuda:N"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace helix
