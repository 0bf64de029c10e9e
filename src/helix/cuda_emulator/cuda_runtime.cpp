// The CUDA runtime's functions that helix's CUDA backend calls, for one emulated
// device in host memory: what the library helix_cuda_emulated links instead of
// libcudart. Device memory is host memory (kernels run on the CPU), counted against
// the device's size (HELIX_CUDA_EMULATOR_MEMORY bytes, default 4 GiB) so that
// cudaMemGetInfo and a full device behave as on a GPU; a fresh allocation reads as
// NaN, as a GPU's is garbage. Each allocation ends where an inaccessible page
// begins, so that a kernel reading or writing past its end stops at once (with a
// message naming the address) instead of quietly using a neighbour's memory as a
// GPU would; another such page lies in front of the allocation's first page (its
// start is 256-byte aligned inside it), and a freed allocation is unmapped. Streams run their work at once, in order; a captured
// stream records it for its graph. Where the real runtime refuses a call, so does
// this: the calls that may synchronize (cudaMalloc, cudaMemcpy, a synchronization)
// while the calling thread captures, which also spoils the capture, and the legacy
// stream used meanwhile.
#include <cuda_runtime_api.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "helix/cuda_emulator/kernel_launch.h"
#include "helix/cuda_emulator/streams.h"
#include "helix/cuda_emulator/thread_blocks.h"

struct CUstream_st {
  struct CUgraph_st* capture = nullptr;  // the graph being recorded, if any
  std::thread::id capturing_thread{};
  bool capture_spoiled = false;
};

struct CUgraph_st {
  std::vector<std::function<void()>> work;
};

struct CUgraphExec_st {
  std::vector<std::function<void()>> work;
};

namespace helix::cuda_emulator {
namespace {

constexpr std::size_t kFilledUpTo = std::size_t{256} << 20;  // larger ones are left as the OS gives them (zeros)
constexpr std::size_t kAlignment = 256;                      // cudaMalloc's

std::size_t device_bytes() {
  static const std::size_t bytes = [] {
    const char* v = std::getenv("HELIX_CUDA_EMULATOR_MEMORY");
    if (v == nullptr || *v == '\0') return std::size_t{4} << 30;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 10);
    if (end == v || *end != '\0' || n == 0) {
      std::fprintf(stderr, "HELIX_CUDA_EMULATOR_MEMORY=%s: expected a positive number of bytes\n", v);
      std::abort();
    }
    return static_cast<std::size_t>(n);
  }();
  return bytes;
}

// An allocation's pages: a guard page, the pages that hold it (its end at their
// end), a guard page.
struct Mapping {
  void* base = nullptr;
  std::size_t mapped = 0;  // bytes, guard pages included
  std::size_t bytes = 0;   // counted against the device (a multiple of kAlignment)
};

std::size_t page_bytes() {
  static const auto bytes = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return bytes;
}

// Says where a fault was before the default action (a core, the process killed):
// kernels run on the CPU, so a fault there is a kernel out of its arrays.
void on_fault(int signal, siginfo_t* info, void*) {
  char message[200];
  const int n = std::snprintf(message, sizeof(message),
                              "helix CUDA emulator: a read or write at %p, outside every device allocation (the guard "
                              "pages around them) or in freed memory\n",
                              info->si_addr);
  if (n > 0) (void)!write(2, message, static_cast<std::size_t>(n));
  ::signal(signal, SIG_DFL);
}

void install_fault_message() {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, nullptr);
    return true;
  }();
  (void)installed;
}

// `bytes` (a multiple of kAlignment) ending at a guard page; nullptr if the
// system gives no pages.
void* map_guarded(std::size_t bytes, Mapping& m) {
  const std::size_t page = page_bytes();
  const std::size_t body = (bytes + page - 1) / page * page;
  m.mapped = body + 2 * page;
  m.bytes = bytes;
  m.base = mmap(nullptr, m.mapped, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m.base == MAP_FAILED) return nullptr;
  auto* first = static_cast<std::byte*>(m.base) + page;
  if (mprotect(first, body, PROT_READ | PROT_WRITE) != 0) {
    munmap(m.base, m.mapped);
    return nullptr;
  }
  return first + (body - bytes);
}

struct Runtime {
  std::mutex mutex;
  std::map<const void*, Mapping> device;  // live allocations
  std::size_t allocated = 0;
  std::vector<CUstream_st*> capturing;  // streams being captured
};

Runtime& runtime() {
  static Runtime r;
  return r;
}

thread_local cudaError_t last_error = cudaSuccess;
thread_local int current_device = 0;

cudaError_t failed(cudaError_t e) {
  last_error = e;
  return e;
}

// This thread's capture, if it captures (cudaStreamCaptureModeThreadLocal and
// Global alike: helix captures one stream per thread).
CUstream_st* capture_of_this_thread() {
  Runtime& r = runtime();
  const std::lock_guard<std::mutex> lock(r.mutex);
  for (CUstream_st* s : r.capturing) {
    if (s->capturing_thread == std::this_thread::get_id()) return s;
  }
  return nullptr;
}

// A call the runtime refuses while this thread captures: it spoils the capture.
bool refused_during_capture() {
  CUstream_st* s = capture_of_this_thread();
  if (s == nullptr) return false;
  s->capture_spoiled = true;
  failed(cudaErrorStreamCaptureUnsupported);
  return true;
}

cudaError_t pending() {
  const cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}

}  // namespace

cudaError_t enqueue(cudaStream_t stream, std::function<void()> work, const char* what) {
  if (stream == nullptr) {
    if (CUstream_st* s = capture_of_this_thread()) {
      s->capture_spoiled = true;
      std::fprintf(stderr, "helix CUDA emulator: %s on the legacy stream while this thread captures a stream\n", what);
      return failed(cudaErrorStreamCaptureImplicit);
    }
  } else if (stream->capture != nullptr) {
    stream->capture->work.push_back(std::move(work));
    return cudaSuccess;
  }
  work();
  return cudaSuccess;
}

void report_failure(cudaError_t error, const std::string& why) {
  std::fprintf(stderr, "helix CUDA emulator: %s\n", why.c_str());
  last_error = error;
}

void Launch::submit(std::function<void()> thread_body) const {
  const unsigned threads = block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64 || grid.x == 0 ||
      grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || grid.x > 0x7FFFFFFFu) {
    report_failure(cudaErrorInvalidConfiguration,
                   fmt::format("{}: grid ({}, {}, {}) of blocks ({}, {}, {}) is not a launch configuration", kernel,
                               grid.x, grid.y, grid.z, block.x, block.y, block.z));
    return;
  }
  if (shared_bytes > 48 * 1024) {  // above this a kernel must opt in (cudaFuncSetAttribute)
    report_failure(cudaErrorInvalidValue,
                   fmt::format("{}: {} bytes of dynamic shared memory, over the 48 KiB a kernel gets without opting in",
                               kernel, shared_bytes));
    return;
  }
  const Launch launch = *this;
  const cudaError_t queued = enqueue(
      stream,
      [launch, body = std::move(thread_body)] {
        const std::string why = run_grid(launch.grid, launch.block, launch.shared_bytes, body);
        if (!why.empty()) report_failure(cudaErrorLaunchFailure, fmt::format("{}: {}", launch.kernel, why));
      },
      kernel);
  if (queued != cudaSuccess) last_error = queued;
}

}  // namespace helix::cuda_emulator

namespace emu = helix::cuda_emulator;

extern "C" {

cudaError_t cudaGetLastError() { return emu::pending(); }
cudaError_t cudaPeekAtLastError() { return emu::last_error; }

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure (the emulator printed why)";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit: return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorIllegalState: return "the operation is not permitted in the current state";
    default: return "unknown error";
  }
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device != 0) return emu::failed(cudaErrorInvalidDevice);
  emu::current_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = emu::current_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return emu::failed(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof(p->name), "%s", "helix CUDA emulator (on the CPU)");
  p->totalGlobalMem = emu::device_bytes();
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 1;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->sharedMemPerBlock = 48 * 1024;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return emu::failed(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrComputeCapabilityMajor: *value = 9; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = 1; return cudaSuccess;
    case cudaDevAttrWarpSize: *value = 32; return cudaSuccess;
    default: return emu::failed(cudaErrorInvalidValue);
  }
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  emu::Runtime& r = emu::runtime();
  const std::lock_guard<std::mutex> lock(r.mutex);
  *total = emu::device_bytes();
  *free = *total - r.allocated;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = nullptr;
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  if (bytes == 0) return cudaSuccess;
  emu::install_fault_message();
  const std::size_t rounded = (bytes + emu::kAlignment - 1) / emu::kAlignment * emu::kAlignment;
  emu::Runtime& r = emu::runtime();
  {
    const std::lock_guard<std::mutex> lock(r.mutex);
    if (rounded > emu::device_bytes() - r.allocated) return emu::failed(cudaErrorMemoryAllocation);
    r.allocated += rounded;
  }
  emu::Mapping m;
  void* q = emu::map_guarded(rounded, m);
  const std::lock_guard<std::mutex> lock(r.mutex);
  if (q == nullptr) {
    r.allocated -= rounded;
    return emu::failed(cudaErrorMemoryAllocation);
  }
  if (rounded <= emu::kFilledUpTo) std::memset(q, 0xFF, rounded);
  r.device[q] = m;
  *p = q;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (p == nullptr) return cudaSuccess;
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  emu::Runtime& r = emu::runtime();
  emu::Mapping m;
  {
    const std::lock_guard<std::mutex> lock(r.mutex);
    const auto it = r.device.find(p);
    if (it == r.device.end()) return emu::failed(cudaErrorInvalidValue);
    m = it->second;
    r.allocated -= m.bytes;
    r.device.erase(it);
  }
  munmap(m.base, m.mapped);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t bytes) {
  *p = std::aligned_alloc(emu::kAlignment, (bytes + emu::kAlignment - 1) / emu::kAlignment * emu::kAlignment);
  return *p == nullptr && bytes > 0 ? emu::failed(cudaErrorMemoryAllocation) : cudaSuccess;
}

cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* to, const void* from, size_t bytes, cudaMemcpyKind) {
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  if (bytes > 0) std::memcpy(to, from, bytes);
  return emu::pending();
}

cudaError_t cudaMemcpyAsync(void* to, const void* from, size_t bytes, cudaMemcpyKind, cudaStream_t stream) {
  return emu::enqueue(stream, [to, from, bytes] { if (bytes > 0) std::memcpy(to, from, bytes); }, "cudaMemcpyAsync");
}

cudaError_t cudaDeviceSynchronize() {
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  return emu::pending();
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
  *stream = new CUstream_st;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return emu::failed(cudaErrorInvalidValue);
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (stream != nullptr && stream->capture != nullptr) {
    stream->capture_spoiled = true;
    return emu::failed(cudaErrorStreamCaptureUnsupported);
  }
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  return emu::pending();
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  if (stream == nullptr || stream->capture != nullptr) return emu::failed(cudaErrorIllegalState);
  stream->capture = new CUgraph_st;
  stream->capturing_thread = std::this_thread::get_id();
  stream->capture_spoiled = false;
  emu::Runtime& r = emu::runtime();
  const std::lock_guard<std::mutex> lock(r.mutex);
  r.capturing.push_back(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  *graph = nullptr;
  if (stream == nullptr || stream->capture == nullptr) return emu::failed(cudaErrorIllegalState);
  {
    emu::Runtime& r = emu::runtime();
    const std::lock_guard<std::mutex> lock(r.mutex);
    std::erase(r.capturing, stream);
  }
  std::unique_ptr<CUgraph_st> recorded(stream->capture);
  stream->capture = nullptr;
  if (stream->capture_spoiled) return emu::failed(cudaErrorStreamCaptureInvalidated);
  *graph = recorded.release();
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (graph == nullptr) return emu::failed(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->work};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return emu::failed(cudaErrorInvalidValue);
  return emu::enqueue(
      stream,
      [exec] {
        for (const auto& work : exec->work) work();
      },
      "cudaGraphLaunch");
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

}  // extern "C"
