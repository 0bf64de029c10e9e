// The CUDA emulator: kernels written as for nvcc run with CUDA's meaning of
// threadIdx, shared memory, barriers, shuffles and tensor-core tiles; what the
// hardware leaves undefined (a barrier not every thread reaches, lanes meeting at
// different operations, a shuffle of a warp that lost a lane) is refused with a
// reason, as are the launches and calls the real runtime refuses; and a kernel out
// of its arrays stops there. The kernels below are compiled with the emulator's
// device names, as the build compiles helix's .cu files for it.
#include "helix/cuda_emulator/device_code.h"

#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "helix/cuda/kernel_launch.h"

namespace {

using helix::cuda_emulator::run_grid;

// The block's sum of its threads' values, through shared memory, written by thread 0.
__global__ void block_sums(const int* values, int* sums) {
  __shared__ int partial[256];
  const unsigned t = threadIdx.x + blockDim.x * threadIdx.y;
  const unsigned threads = blockDim.x * blockDim.y;
  partial[t] = values[blockIdx.x * threads + t];
  __syncthreads();
  for (unsigned half = threads / 2; half > 0; half /= 2) {
    if (t < half) partial[t] += partial[t + half];
    __syncthreads();
  }
  if (t == 0) sums[blockIdx.x] = partial[0];
}

TEST(CudaEmulator, ABlocksThreadsShareItsMemoryAndMeetAtItsBarriers) {
  const int blocks = 5;
  const dim3 block(32, 4);  // 128 threads in two dimensions
  std::vector<int> values(static_cast<std::size_t>(blocks) * 128);
  std::iota(values.begin(), values.end(), 1);
  std::vector<int> sums(blocks, -1);
  HELIX_LAUNCH(blocks, block, 0, nullptr, block_sums)(values.data(), sums.data());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (int b = 0; b < blocks; ++b) {
    const int first = b * 128 + 1, last = first + 127;
    EXPECT_EQ(sums[static_cast<std::size_t>(b)], (first + last) * 128 / 2) << "block " << b;
  }
}

// Per lane: the butterfly sum, the value from 1 lane down and 1 lane up within
// segments of 16, lane 5's value, and the xor-16 partner's within segments of 16.
__global__ void shuffles(int* out) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  int sum = lane;
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
  const int down = __shfl_down_sync(0xFFFFFFFFu, lane, 1, 16);
  const int up = __shfl_up_sync(0xFFFFFFFFu, lane, 1, 16);
  const int from5 = __shfl_sync(0xFFFFFFFFu, lane * 10, 5);
  const int xor16 = __shfl_xor_sync(0xFFFFFFFFu, lane, 16, 16);
  int* mine = out + 5 * threadIdx.x;
  mine[0] = sum;
  mine[1] = down;
  mine[2] = up;
  mine[3] = from5;
  mine[4] = xor16;
}

TEST(CudaEmulator, ShufflesFollowCudasDefinitions) {
  std::vector<int> out(64 * 5, -1);
  HELIX_LAUNCH(1, 64, 0, nullptr, shuffles)(out.data());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (int t = 0; t < 64; ++t) {
    const int lane = t % 32;
    const int* got = out.data() + 5 * t;
    EXPECT_EQ(got[0], 31 * 32 / 2) << t;
    EXPECT_EQ(got[1], lane % 16 == 15 ? lane : lane + 1) << t;  // past its segment: its own value
    EXPECT_EQ(got[2], lane % 16 == 0 ? lane : lane - 1) << t;
    EXPECT_EQ(got[3], 50) << t;
    EXPECT_EQ(got[4], lane < 16 ? lane : lane - 16) << t;  // a later segment: its own; an earlier one: read
  }
}

__global__ void half_the_block_waits(int* out) {
  if (threadIdx.x < 64) __syncthreads();  // the others never get there: undefined on a GPU
  out[threadIdx.x] = 1;
}

TEST(CudaEmulator, ABarrierThatNotEveryThreadReachesIsADeadlock) {
  std::vector<int> out(128, 0);
  const std::function<void()> body = [&] { half_the_block_waits(out.data()); };
  // Threads that return count as arrived (as on the GPU), so the barrier completes...
  EXPECT_EQ(run_grid(dim3(1), dim3(128), 0, body), "");
  // ...but lanes that wait for their warp while the warp's other lanes wait for the
  // block never meet.
  const std::function<void()> split_warp = [] {
    if (threadIdx.x < 16) {
      __syncthreads();
    } else {
      __syncwarp();
    }
  };
  const std::string why = run_grid(dim3(1), dim3(32), 0, split_warp);
  EXPECT_NE(why.find("block (0, 0, 0): deadlock: 16 thread(s) wait at __syncthreads (first: thread 0), 16 at a "
                     "warp-wide operation (a shuffle, __syncwarp or wmma; first: thread 16)"),
            std::string::npos)
      << why;
}

TEST(CudaEmulator, AShuffleOfAWarpThatLostALaneIsRefused) {
  const std::function<void()> body = [] {
    if (threadIdx.x == 3) return;
    (void)__shfl_xor_sync(0xFFFFFFFFu, 1.0f, 1);
  };
  const std::string why = run_grid(dim3(1), dim3(32), 0, body);
  EXPECT_NE(why.find("returned"), std::string::npos) << why;
  const std::function<void()> partial = [] { (void)__shfl_xor_sync(0x0000FFFFu, 1.0f, 1); };
  const std::string partial_why = run_grid(dim3(1), dim3(32), 0, partial);
  EXPECT_NE(partial_why.find("whole warps only"), std::string::npos) << partial_why;
}

TEST(CudaEmulator, LanesMeetingAtDifferentOperationsAreRefused) {
  const std::function<void()> body = [] {
    if (threadIdx.x < 16) {
      (void)__shfl_sync(0xFFFFFFFFu, 1, 20);
    } else {
      __syncwarp();
    }
  };
  const std::string why = run_grid(dim3(1), dim3(32), 0, body);
  EXPECT_NE(why.find("__syncwarp while other lanes of this warp wait at a shuffle"), std::string::npos) << why;
}

// Every thread writes `winner` before the barrier: a race, whose answer is the last
// writer's.
__global__ void last_writer(int* out) {
  __shared__ int winner;
  winner = static_cast<int>(threadIdx.x);
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = winner;
}

TEST(CudaEmulator, ARaceBetweenABlocksThreadsGetsTwoAnswers) {
  std::vector<int> out(2, -1);
  HELIX_LAUNCH(2, 64, 0, nullptr, last_writer)(out.data());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(out, (std::vector<int>{63, 0}));  // threads in order in block 0, in reverse in block 1
}

__global__ void read_dynamic_shared(float* out) {
  HELIX_DYNAMIC_SHARED(float, shared);
  out[threadIdx.x] = shared[threadIdx.x];
}

TEST(CudaEmulator, UnwrittenDynamicSharedMemoryAndFreshDeviceMemoryReadAsNaN) {
  std::vector<float> out(32, 0.0f);
  HELIX_LAUNCH(1, 32, 32 * sizeof(float), nullptr, read_dynamic_shared)(out.data());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (float v : out) EXPECT_TRUE(std::isnan(v));
  float* device = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), 16 * sizeof(float)), cudaSuccess);
  float seventh = 0.0f;
  ASSERT_EQ(cudaMemcpy(&seventh, device + 7, sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_TRUE(std::isnan(seventh));
  EXPECT_EQ(cudaFree(device), cudaSuccess);
}

TEST(CudaEmulator, LaunchesTheRuntimeRefusesAreRefused) {
  std::vector<float> out(2048, 0.0f);
  HELIX_LAUNCH(1, 1025, 0, nullptr, read_dynamic_shared)(out.data());
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  HELIX_LAUNCH(1, 32, 49 * 1024, nullptr, read_dynamic_shared)(out.data());  // past 48 KiB without opting in
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // reported once
}

__global__ void add_one(int* x) { x[threadIdx.x] += 1; }

TEST(CudaEmulator, ACapturedStreamRecordsItsWorkAndTheGraphReplaysIt) {
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  std::vector<int> x(32, 0);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  HELIX_LAUNCH(1, 32, 0, s, add_one)(x.data());
  EXPECT_EQ(x[0], 0);  // recorded, not run
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);  // launched: freed once they are done
  EXPECT_EQ(x[31], 0);                                  // queued, not run
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(x[31], 3);

  // cudaMalloc while capturing is refused and spoils the capture.
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 64), cudaErrorStreamCaptureUnsupported);
  EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(graph, nullptr);
  EXPECT_EQ(cudaGetLastError(), cudaErrorStreamCaptureInvalidated);  // the last error, as every refusal sets it
  // Work on the legacy stream is queued beside a non-blocking stream's capture...
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  HELIX_LAUNCH(1, 32, 0, nullptr, add_one)(x.data());
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaErrorIllegalState);  // not while it captures
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalState);
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(x[31], 4);
  // ...but is refused, and spoils it, beside a blocking stream's.
  cudaStream_t blocking = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&blocking, cudaStreamDefault), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  HELIX_LAUNCH(1, 32, 0, nullptr, add_one)(x.data());
  EXPECT_EQ(cudaGetLastError(), cudaErrorStreamCaptureImplicit);
  EXPECT_EQ(cudaStreamEndCapture(blocking, &graph), cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(x[31], 4);
  EXPECT_EQ(cudaStreamDestroy(blocking), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST(CudaEmulator, DeviceMemoryIsCountedAgainstTheDevicesSize) {
  std::size_t free_before = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_before, &total), cudaSuccess);
  cudaDeviceProp prop{};
  ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
  EXPECT_EQ(prop.totalGlobalMem, total);
  void* p = nullptr;
  ASSERT_EQ(cudaMalloc(&p, 1000), cudaSuccess);
  std::size_t free_after = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_after, &total), cudaSuccess);
  EXPECT_EQ(free_before - free_after, 1024u);  // in 256-byte units
  void* too_much = nullptr;
  EXPECT_EQ(cudaMalloc(&too_much, free_after + 1), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaErrorInvalidValue);  // freed twice
  cudaGetLastError();
}

__global__ void write_at(float* x, int at) {
  if (threadIdx.x == 0) x[at] = 1.0f;
}

void write_and_wait(float* x, int at) {
  HELIX_LAUNCH(1, 32, 0, nullptr, write_at)(x, at);
  (void)cudaDeviceSynchronize();
}

// An array's end meets an inaccessible page; its start is 256-byte aligned inside a
// page, so only a write more than a page before it reaches the page in front.
TEST(CudaEmulatorDeathTest, AKernelWritingPastItsArrayStopsThereSayingSo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float* x = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&x), 64 * sizeof(float)), cudaSuccess);
  write_and_wait(x, 63);
  float last = 0.0f;
  ASSERT_EQ(cudaMemcpy(&last, x + 63, sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(last, 1.0f);
  EXPECT_DEATH((void)*static_cast<volatile float*>(x), "host code touched device memory");  // as on a GPU's host
  EXPECT_DEATH(write_and_wait(x, 64), "outside device memory");
  EXPECT_DEATH(write_and_wait(x, -1024), "outside device memory");
  ASSERT_EQ(cudaFree(x), cudaSuccess);
  float* next = nullptr;  // freed addresses are not handed out again
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&next), 64 * sizeof(float)), cudaSuccess);
  EXPECT_NE(next, x);
  EXPECT_DEATH(write_and_wait(x, 0), "outside device memory");
  ASSERT_EQ(cudaFree(next), cudaSuccess);
}

// One warp multiplies a 16x16 by a 16x16 bf16 tile on the (emulated) tensor cores,
// through shared memory, as the dequantizing GEMM does.
__global__ void tile_product(const __nv_bfloat16* a, const __nv_bfloat16* b, float* c) {
  namespace wmma = nvcuda::wmma;
  __shared__ float staged[16 * 16];
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(staged, acc, 16, wmma::mem_row_major);
  __syncwarp();
  for (unsigned i = threadIdx.x; i < 256; i += 32) c[i] = staged[i];
}

TEST(CudaEmulator, TensorCoreTilesMultiplyAsTheirLayoutsSay) {
  std::vector<__nv_bfloat16> a(256), b(256);
  for (int i = 0; i < 256; ++i) {
    a[static_cast<std::size_t>(i)] = __float2bfloat16_rn(static_cast<float>(i % 7) - 3.0f);
    b[static_cast<std::size_t>(i)] = __float2bfloat16_rn(static_cast<float>(i % 5) * 0.5f);
  }
  std::vector<float> c(256, 0.0f);
  HELIX_LAUNCH(1, 32, 0, nullptr, tile_product)(a.data(), b.data(), c.data());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      float want = 0.0f;  // a row-major (i, k) at i * 16 + k; b column-major (k, j) at j * 16 + k
      for (int k = 0; k < 16; ++k) {
        want += __bfloat162float(a[static_cast<std::size_t>(i * 16 + k)]) *
                __bfloat162float(b[static_cast<std::size_t>(j * 16 + k)]);
      }
      EXPECT_EQ(c[static_cast<std::size_t>(i * 16 + j)], want) << i << ", " << j;
    }
  }
}

// A tile stored and read back by every lane without waiting for the warp: on a GPU
// each lane may read before the others stored; here every lane, in both block
// orders, reads what was there before.
__global__ void store_then_read_without_waiting(float* out) {
  namespace wmma = nvcuda::wmma;
  __shared__ float staged[16 * 16];
  for (unsigned i = threadIdx.x; i < 256; i += 32) staged[i] = -1.0f;
  __syncwarp();
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 2.0f);
  wmma::store_matrix_sync(staged, acc, 16, wmma::mem_row_major);
  out[blockIdx.x * 64 + threadIdx.x] = staged[threadIdx.x];  // no __syncwarp first
  __syncwarp();
  out[blockIdx.x * 64 + 32 + threadIdx.x] = staged[threadIdx.x];
}

TEST(CudaEmulator, AStoredTileIsSeenOnlyAfterTheWarpMeets) {
  std::vector<float> out(128, 0.0f);
  HELIX_LAUNCH(2, 32, 0, nullptr, store_then_read_without_waiting)(out.data());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (int b = 0; b < 2; ++b) {
    for (int lane = 0; lane < 32; ++lane) {
      EXPECT_EQ(out[static_cast<std::size_t>(b * 64 + lane)], -1.0f) << b << ", " << lane;
      EXPECT_EQ(out[static_cast<std::size_t>(b * 64 + 32 + lane)], 2.0f) << b << ", " << lane;
    }
  }
}

TEST(CudaEmulator, CublasMultipliesTransposedWeightsByColumnsOfTokens) {
  // y (rows x tokens, column-major) = W^T-as-stored (rows x cols, row-major) x X (cols x tokens).
  const int rows = 3, cols = 4, tokens = 2;
  const std::vector<float> w = {1, 2, 3, 4, 0, 1, 0, 1, -1, 0, 2, 0};
  const std::vector<float> x = {1, 1, 1, 1, 1, 0, -1, 2};
  std::vector<float> y(rows * tokens, NAN);
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  const float one = 1.0f, zero = 0.0f;
  ASSERT_EQ(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, cols, &one, w.data(), cols, x.data(), cols, &zero,
                        y.data(), rows),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(y, (std::vector<float>{10, 2, 1, 6, 2, -3}));
  std::vector<__nv_bfloat16> w16(w.size()), x16(x.size());
  for (std::size_t i = 0; i < w.size(); ++i) w16[i] = __float2bfloat16_rn(w[i]);
  for (std::size_t i = 0; i < x.size(); ++i) x16[i] = __float2bfloat16_rn(x[i]);
  std::vector<float> y16(rows * tokens, NAN);
  ASSERT_EQ(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, cols, &one, w16.data(), CUDA_R_16BF, cols,
                         x16.data(), CUDA_R_16BF, cols, &zero, y16.data(), CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(y16, y);
  EXPECT_EQ(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, cols, &one, w16.data(), CUDA_R_16F, cols,
                         x16.data(), CUDA_R_16BF, cols, &zero, y16.data(), CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

// Lanes that wait for their warp while the warp's other lanes wait for the block:
// they never meet.
__global__ void warp_split_between_barriers(int*) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncwarp();
  }
}

__global__ void copy_ints(const int* from, int* to) { to[threadIdx.x] = from[threadIdx.x]; }

// Pinned host memory: the kind a GPU reads and writes while the host runs on.
struct PinnedInts {
  int* data = nullptr;
  explicit PinnedInts(int n, int value) {
    EXPECT_EQ(cudaMallocHost(reinterpret_cast<void**>(&data), sizeof(int) * static_cast<std::size_t>(n)), cudaSuccess);
    std::fill(data, data + n, value);
  }
  ~PinnedInts() { EXPECT_EQ(cudaFreeHost(data), cudaSuccess); }
  PinnedInts(const PinnedInts&) = delete;
  PinnedInts& operator=(const PinnedInts&) = delete;
};

TEST(CudaEmulator, QueuedWorkIsDoneOnlyWhenTheHostSynchronizes) {
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  int* device = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), 32 * sizeof(int)), cudaSuccess);
  const PinnedInts in(32, 5), out(32, -1);
  ASSERT_EQ(cudaMemcpyAsync(device, in.data, 32 * sizeof(int), cudaMemcpyHostToDevice, s), cudaSuccess);
  in.data[0] = 6;  // pinned: the queued copy reads it when it runs, so it takes this
  HELIX_LAUNCH(1, 32, 0, s, add_one)(device);
  ASSERT_EQ(cudaMemcpyAsync(out.data, device, 32 * sizeof(int), cudaMemcpyDeviceToHost, s), cudaSuccess);
  EXPECT_EQ(out.data[0], -1);  // a host that reads before it synchronizes reads what was there
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(out.data[0], 7);
  EXPECT_EQ(out.data[31], 6);
  // A pageable source is staged at the call, as the driver stages it.
  std::vector<int> pageable(32, 10);
  ASSERT_EQ(cudaMemcpyAsync(device, pageable.data(), 32 * sizeof(int), cudaMemcpyHostToDevice, s), cudaSuccess);
  pageable[0] = 11;
  ASSERT_EQ(cudaMemcpyAsync(out.data, device, 32 * sizeof(int), cudaMemcpyDeviceToHost, s), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(s), cudaSuccess);  // its queued work is still done, but later
  EXPECT_EQ(out.data[0], 7);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(out.data[0], 10);
  ASSERT_EQ(cudaFree(device), cudaSuccess);
}

// What CUDA orders implicitly: the legacy stream after what blocking streams queued
// before it, and they after it; a non-blocking stream after nothing. Synchronizing
// the later stream alone shows which.
TEST(CudaEmulator, StreamsKeepCudasImplicitOrderAndNoOther) {
  cudaStream_t blocking = nullptr, non_blocking = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&blocking, cudaStreamDefault), cudaSuccess);
  ASSERT_EQ(cudaStreamCreateWithFlags(&non_blocking, cudaStreamNonBlocking), cudaSuccess);
  const PinnedInts seen_by_blocking(32, 0), seen_by_non_blocking(32, 0);
  int* device = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), 32 * sizeof(int)), cudaSuccess);
  // A synchronous copy from pageable memory returns once staged: it lands later,
  // on the legacy stream.
  const std::vector<int> source(32, 1);
  ASSERT_EQ(cudaMemcpy(device, source.data(), 32 * sizeof(int), cudaMemcpyHostToDevice), cudaSuccess);
  HELIX_LAUNCH(1, 32, 0, blocking, copy_ints)(device, seen_by_blocking.data);
  HELIX_LAUNCH(1, 32, 0, non_blocking, copy_ints)(device, seen_by_non_blocking.data);
  ASSERT_EQ(cudaStreamSynchronize(non_blocking), cudaSuccess);
  EXPECT_EQ(seen_by_non_blocking.data[3], -1);  // ran before the upload: fresh device memory (0xFF bytes)
  ASSERT_EQ(cudaStreamSynchronize(blocking), cudaSuccess);
  EXPECT_EQ(seen_by_blocking.data[3], 1);  // waited for the upload on the legacy stream
  // A synchronous copy (the legacy stream) waits for a blocking stream's kernel.
  HELIX_LAUNCH(1, 32, 0, blocking, add_one)(device);
  std::vector<int> back(32, 0);
  ASSERT_EQ(cudaMemcpy(back.data(), device, 32 * sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(back[3], 2);
  ASSERT_EQ(cudaFree(device), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(blocking), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(non_blocking), cudaSuccess);
}

// An event waits for the work queued before its record, and no more; it outlives
// its stream, and a record outlives its event.
TEST(CudaEmulator, AnEventWaitsForTheWorkBeforeItsRecordOnly) {
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  const PinnedInts x(32, 0);
  cudaEvent_t first = nullptr, second = nullptr;
  ASSERT_EQ(cudaEventCreate(&first), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&second), cudaSuccess);
  HELIX_LAUNCH(1, 32, 0, s, add_one)(x.data);
  ASSERT_EQ(cudaEventRecord(first, s), cudaSuccess);
  HELIX_LAUNCH(1, 32, 0, s, add_one)(x.data);
  ASSERT_EQ(cudaEventRecord(second, s), cudaSuccess);
  ASSERT_EQ(cudaEventSynchronize(first), cudaSuccess);
  EXPECT_EQ(x.data[0], 1);
  float ms = -1.0f;
  EXPECT_EQ(cudaEventElapsedTime(&ms, first, second), cudaErrorNotReady);
  EXPECT_EQ(cudaGetLastError(), cudaErrorNotReady);
  ASSERT_EQ(cudaStreamDestroy(s), cudaSuccess);  // its work not yet done...
  EXPECT_EQ(x.data[0], 1);
  ASSERT_EQ(cudaEventSynchronize(second), cudaSuccess);  // ...but waited for through the event
  EXPECT_EQ(x.data[0], 2);
  EXPECT_EQ(cudaEventElapsedTime(&ms, first, second), cudaSuccess);
  EXPECT_GE(ms, 0.0f);
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  HELIX_LAUNCH(1, 32, 0, s, add_one)(x.data);
  ASSERT_EQ(cudaEventRecord(first, s), cudaSuccess);
  ASSERT_EQ(cudaEventDestroy(first), cudaSuccess);  // before its record runs
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(x.data[0], 3);
  ASSERT_EQ(cudaEventDestroy(second), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

// A kernel that fails while it runs breaks the device for the rest of the process,
// as an illegal address does on a GPU (run in a child process, which it breaks).
TEST(CudaEmulatorDeathTest, AKernelThatFailsBreaksTheDeviceForEveryLaterCall) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto fail_and_go_on = [] {
    std::vector<int> out(128, 0);
    HELIX_LAUNCH(1, 128, 0, nullptr, half_the_block_waits)(out.data());
    if (cudaGetLastError() != cudaSuccess) std::exit(1);  // queued: nothing has failed yet
    HELIX_LAUNCH(1, 32, 0, nullptr, warp_split_between_barriers)(out.data());
    std::vector<int> after(32, 0);
    HELIX_LAUNCH(1, 32, 0, nullptr, add_one)(after.data());  // queued behind the failure: never runs
    const bool reported = cudaDeviceSynchronize() == cudaErrorLaunchFailure && after[0] == 0;
    void* p = nullptr;
    const bool sticky = cudaGetLastError() == cudaErrorLaunchFailure && cudaMalloc(&p, 64) == cudaErrorLaunchFailure &&
                        cudaMemcpy(out.data(), out.data() + 1, 4, cudaMemcpyHostToHost) == cudaErrorLaunchFailure;
    HELIX_LAUNCH(1, 32, 0, nullptr, add_one)(out.data());
    std::exit(reported && sticky && cudaGetLastError() == cudaErrorLaunchFailure ? 0 : 2);
  };
  EXPECT_EXIT(fail_and_go_on(), testing::ExitedWithCode(0), "deadlock");
}

}  // namespace
