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

// Workers started together on one GPU divide the default share by the layers they
// hold; those alone on their GPU, and CPU workers, keep their default.
TEST(WorkerKvOptions, WorkersThatShareAGpuDivideTheDefaultShareByTheirLayers) {
  const DeviceName gpu1{true, 1};
  const auto shares = shared_gpu_shares(
      {{"a", kGpu, 2}, {"b", kGpu, 4}, {"c", gpu1, 8}, {"d", kCpu, 1}, {"e", kCpu, 1}, {"f", kGpu, 2}});
  ASSERT_EQ(shares.size(), 3U);
  EXPECT_DOUBLE_EQ(shares.at("a"), kServingMemoryShare * 2 / 8);
  EXPECT_DOUBLE_EQ(shares.at("b"), kServingMemoryShare * 4 / 8);
  EXPECT_DOUBLE_EQ(shares.at("f"), kServingMemoryShare * 2 / 8);
  EXPECT_TRUE(shared_gpu_shares({{"a", kGpu, 3}, {"b", gpu1, 3}, {"c", kCpu, 3}, {"d", kCpu, 3}}).empty());
  // Without layers to weigh by, equal parts.
  const auto unweighed = shared_gpu_shares({{"a", kGpu, 0}, {"b", kGpu, 0}});
  EXPECT_DOUBLE_EQ(unweighed.at("a"), kServingMemoryShare / 2);
}

}  // namespace
}  // namespace helix::runtime
