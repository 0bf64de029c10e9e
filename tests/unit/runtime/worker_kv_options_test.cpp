// Which KV capacity a worker's stage gets (worker.h's stage_kv_options).
#include <gtest/gtest.h>

#include "helix/runtime/worker.h"

namespace helix::runtime {
namespace {

const DeviceName kCpu{};
const DeviceName kGpu{true, 0};

TEST(WorkerKvOptions, ItsOwnCapacityWinsThenTheCoordinatorsThenTheDevicesDefault) {
  KvCacheOptions own;
  own.dtype = KvDtype::F16;
  // No capacity of its own: a GPU fills the serving share of its memory, a CPU
  // takes 4096 tokens, and the coordinator's tokens override both.
  const KvCacheOptions gpu = stage_kv_options(own, 0, kGpu);
  EXPECT_DOUBLE_EQ(gpu.memory_share, kServingMemoryShare);
  EXPECT_EQ(gpu.capacity_tokens, 0);
  EXPECT_EQ(gpu.dtype, KvDtype::F16);
  const KvCacheOptions cpu = stage_kv_options(own, 0, kCpu);
  EXPECT_EQ(cpu.capacity_tokens, 4096);
  EXPECT_EQ(cpu.memory_share, 0);
  for (const DeviceName& device : {kCpu, kGpu}) {
    const KvCacheOptions assigned = stage_kv_options(own, 96, device);
    EXPECT_EQ(assigned.capacity_tokens, 96);
    EXPECT_EQ(assigned.memory_share, 0);
  }
  // Its own capacity, in any of the three forms, beats the coordinator's.
  KvCacheOptions tokens = own, bytes = own, share = own;
  tokens.capacity_tokens = 512;
  bytes.capacity_bytes = 1 << 20;
  share.memory_share = 0.5;
  EXPECT_EQ(stage_kv_options(tokens, 96, kGpu).capacity_tokens, 512);
  EXPECT_EQ(stage_kv_options(bytes, 96, kGpu).capacity_bytes, 1U << 20);
  EXPECT_EQ(stage_kv_options(bytes, 96, kGpu).capacity_tokens, 0);
  EXPECT_DOUBLE_EQ(stage_kv_options(share, 96, kCpu).memory_share, 0.5);
  EXPECT_EQ(stage_kv_options(share, 96, kCpu).capacity_tokens, 0);
}

// Workers started together on one GPU divide the default share by their weights;
// those alone on their GPU, and CPU workers, keep their default.
TEST(WorkerKvOptions, WorkersThatShareAGpuDivideTheDefaultShareByTheirWeights) {
  const DeviceName gpu1{true, 1};
  const auto shares = shared_gpu_shares(
      {{"a", kGpu, 2e9}, {"b", kGpu, 4e9}, {"c", gpu1, 8e9}, {"d", kCpu, 1e9}, {"e", kCpu, 1e9}, {"f", kGpu, 2e9}});
  ASSERT_EQ(shares.size(), 3U);
  EXPECT_DOUBLE_EQ(shares.at("a"), kServingMemoryShare * 2 / 8);
  EXPECT_DOUBLE_EQ(shares.at("b"), kServingMemoryShare * 4 / 8);
  EXPECT_DOUBLE_EQ(shares.at("f"), kServingMemoryShare * 2 / 8);
  EXPECT_TRUE(shared_gpu_shares({{"a", kGpu, 3e9}, {"b", gpu1, 3e9}, {"c", kCpu, 3e9}, {"d", kCpu, 3e9}}).empty());
  // Llama-3-8B in bf16 split 28 + 4 layers on one 24 GB GPU: each part holds its
  // weights (the last stage's LM head included), which a split by layers did not.
  const double layer = 436e6, table = 128256 * 4096 * 2.0, gpu = 24e9;  // bytes
  const auto split = shared_gpu_shares({{"front", kGpu, 28 * layer + table}, {"back", kGpu, 4 * layer + table}});
  EXPECT_GT(split.at("back") * gpu, 4 * layer + table);
  EXPECT_GT(split.at("front") * gpu, 28 * layer + table);
  EXPECT_LT(kServingMemoryShare * 4 / 32 * gpu, 4 * layer + table);  // what the split by layers gave the back
  // Without weights to weigh by, equal parts.
  const auto unweighed = shared_gpu_shares({{"a", kGpu, 0}, {"b", kGpu, 0}});
  EXPECT_DOUBLE_EQ(unweighed.at("a"), kServingMemoryShare / 2);
}

}  // namespace
}  // namespace helix::runtime
