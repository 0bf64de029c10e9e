// The CUDA runtime's memory functions for the emulated device. Device memory is host
// memory (kernels run on the CPU), counted against the device's size so that
// cudaMemGetInfo, memory shares and a full device behave as on a GPU.
//
// Each allocation (rounded up to 256 bytes, as cudaMalloc aligns) ends where an
// inaccessible page begins, so that a kernel reading or writing past its rounded end
// stops at once instead of quietly using a neighbour's memory as a GPU would;
// another such page lies in front of its first page. A freed allocation's pages are
// released and made inaccessible but never handed out again, so that a stale
// pointer faults too. Allocations up to 256 MiB start filled with 0xFF bytes (NaN
// as f32, f16 or bf16), as a GPU's fresh memory holds garbage; larger ones (a KV
// cache sized by a share of the device) start as the system's zero pages.
//
// Device memory is inaccessible to the host except while queued work runs
// (DeviceAccess), so host code that reads or writes it directly, which faults on
// a GPU's host, faults here too.
//
// Pinned host memory (cudaMallocHost) is remembered too: copies from it are read
// when they run, copies from pageable memory are staged when queued (streams.h).
#include "helix/cuda_emulator/device_memory.h"

#include <cuda_runtime_api.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "helix/cuda_emulator/runtime_errors.h"
#include "helix/cuda_emulator/settings.h"
#include "helix/cuda_emulator/streams.h"

namespace helix::cuda_emulator {
namespace {

constexpr std::size_t kFilledUpTo = std::size_t{256} << 20;
constexpr std::size_t kAlignment = 256;  // cudaMalloc's

// An allocation's pages: a guard page, the pages that hold it (its end at their
// end), a guard page.
struct Mapping {
  void* base = nullptr;
  std::size_t mapped = 0;  // bytes, guard pages included
  std::size_t bytes = 0;   // counted against the device (a multiple of kAlignment)
};

struct Allocations {
  std::mutex mutex;
  std::map<const void*, Mapping> live;
  std::size_t allocated = 0;
  int opened = 0;  // nesting depth of DeviceAccess: while 0, live allocations are inaccessible
  std::map<const void*, std::size_t> pinned;  // cudaMallocHost's: start, bytes
};

Allocations& allocations() {
  static Allocations a;
  return a;
}

std::size_t page_bytes() {
  static const auto bytes = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return bytes;
}

// Writes "0x" and the address in hex: no formatting that is unsafe in a signal
// handler.
void write_address(const void* p) {
  char text[2 + 16];
  auto v = reinterpret_cast<std::uintptr_t>(p);
  text[0] = '0';
  text[1] = 'x';
  for (int i = 17; i >= 2; --i, v >>= 4) text[i] = "0123456789abcdef"[v & 15];
  (void)!write(2, text, sizeof(text));
}

// Says what an access fault most likely was before the default action (a core, the
// process killed): with the emulator, kernels run on the CPU, and its guard pages
// and freed allocations are the inaccessible memory a kernel reaches.
void on_fault(int signal, siginfo_t* info, void*) {
  static const char kStart[] = "helix CUDA emulator: an access fault at ";
  static const char kEnd[] =
      ": a kernel read or wrote outside device memory (past an array's end, before its start, or in freed "
      "memory), or host code touched device memory, which only kernels and copies may\n";
  (void)!write(2, kStart, sizeof(kStart) - 1);
  write_address(info->si_addr);
  (void)!write(2, kEnd, sizeof(kEnd) - 1);
  raise(signal);  // SA_RESETHAND restored the default action: delivered on return
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

// `bytes` (a multiple of kAlignment) ending at a guard page; nullptr if the system
// gives no pages.
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

// True where `p` lies in [start, start + bytes) of the allocation of `in` that
// starts last at or before it.
template <typename Value>
bool lies_in(const std::map<const void*, Value>& in, const void* p, std::size_t (*bytes)(const Value&)) {
  auto it = in.upper_bound(p);
  if (it == in.begin()) return false;
  --it;
  const auto* start = static_cast<const std::byte*>(it->first);
  return static_cast<const std::byte*>(p) < start + bytes(it->second);
}

std::size_t rounded_to_alignment(std::size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// The pages that hold an allocation (its guard pages excluded).
void protect(const Mapping& m, int protection) {
  const std::size_t page = page_bytes();
  mprotect(static_cast<std::byte*>(m.base) + page, m.mapped - 2 * page, protection);
}

// Gives the pages back to the system but keeps the addresses, inaccessible.
void retire(const Mapping& m) {
  madvise(m.base, m.mapped, MADV_DONTNEED);
  mprotect(m.base, m.mapped, PROT_NONE);
}

}  // namespace

std::size_t device_bytes() {
  static const auto bytes =
      static_cast<std::size_t>(positive_setting("HELIX_CUDA_EMULATOR_MEMORY", std::uint64_t{4} << 30, "bytes"));
  return bytes;
}

MemoryKind kind_of(const void* p) {
  Allocations& a = allocations();
  const std::lock_guard<std::mutex> lock(a.mutex);
  if (lies_in<Mapping>(a.live, p, [](const Mapping& m) { return m.bytes; })) return MemoryKind::device;
  if (lies_in<std::size_t>(a.pinned, p, [](const std::size_t& bytes) { return bytes; })) return MemoryKind::pinned;
  return MemoryKind::pageable;
}

DeviceAccess::DeviceAccess() {
  Allocations& a = allocations();
  const std::lock_guard<std::mutex> lock(a.mutex);
  if (a.opened++ > 0) return;
  for (const auto& [start, m] : a.live) protect(m, PROT_READ | PROT_WRITE);
}

DeviceAccess::~DeviceAccess() {
  Allocations& a = allocations();
  const std::lock_guard<std::mutex> lock(a.mutex);
  if (--a.opened > 0) return;
  for (const auto& [start, m] : a.live) protect(m, PROT_NONE);
}

}  // namespace helix::cuda_emulator

namespace emu = helix::cuda_emulator;

extern "C" {

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  emu::Allocations& a = emu::allocations();
  const std::lock_guard<std::mutex> lock(a.mutex);
  *total = emu::device_bytes();
  *free = *total - a.allocated;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = nullptr;
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  if (const cudaError_t e = emu::sticky_error(); e != cudaSuccess) return emu::failed(e);
  if (bytes == 0) return cudaSuccess;
  emu::install_fault_message();
  const std::size_t rounded = emu::rounded_to_alignment(bytes);
  emu::Allocations& a = emu::allocations();
  {
    const std::lock_guard<std::mutex> lock(a.mutex);
    if (rounded > emu::device_bytes() - a.allocated) return emu::failed(cudaErrorMemoryAllocation);
    a.allocated += rounded;
  }
  emu::Mapping m;
  void* q = emu::map_guarded(rounded, m);
  const std::lock_guard<std::mutex> lock(a.mutex);
  if (q == nullptr) {
    a.allocated -= rounded;
    return emu::failed(cudaErrorMemoryAllocation);
  }
  if (rounded <= emu::kFilledUpTo) std::memset(q, 0xFF, rounded);
  if (a.opened == 0) emu::protect(m, PROT_NONE);
  a.live[q] = m;
  *p = q;
  return cudaSuccess;
}

// Waits for the device first, as CUDA's does: queued work may still use `p`.
cudaError_t cudaFree(void* p) {
  if (p == nullptr) return cudaSuccess;
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  emu::run_all_queued();
  emu::Allocations& a = emu::allocations();
  emu::Mapping m;
  {
    const std::lock_guard<std::mutex> lock(a.mutex);
    const auto it = a.live.find(p);
    if (it == a.live.end()) return emu::failed(cudaErrorInvalidValue);
    m = it->second;
    a.allocated -= m.bytes;
    a.live.erase(it);
  }
  emu::retire(m);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t bytes) {
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  const std::size_t rounded = emu::rounded_to_alignment(bytes);
  *p = std::aligned_alloc(emu::kAlignment, rounded);
  if (*p == nullptr) return emu::failed(cudaErrorMemoryAllocation);
  emu::Allocations& a = emu::allocations();
  const std::lock_guard<std::mutex> lock(a.mutex);
  a.pinned[*p] = rounded;
  return cudaSuccess;
}

// Waits for the device first, as cudaFree does.
cudaError_t cudaFreeHost(void* p) {
  if (p == nullptr) return cudaSuccess;
  emu::run_all_queued();
  emu::Allocations& a = emu::allocations();
  {
    const std::lock_guard<std::mutex> lock(a.mutex);
    if (a.pinned.erase(p) == 0) return emu::failed(cudaErrorInvalidValue);
  }
  std::free(p);
  return cudaSuccess;
}

// Queued on the legacy stream like a kernel: asynchronous to the host for device
// memory, synchronous for pinned memory, as CUDA documents it; pageable memory is
// refused.
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  const emu::MemoryKind kind = emu::kind_of(p);
  if (kind == emu::MemoryKind::pageable) return emu::failed(cudaErrorInvalidValue);
  const cudaError_t queued = emu::enqueue(nullptr, [p, value, bytes] { std::memset(p, value, bytes); }, "cudaMemset");
  if (queued != cudaSuccess || kind == emu::MemoryKind::device) return queued;
  emu::run_queued(nullptr);
  return emu::take_last_error();
}

// Queued on the legacy stream (after the work blocking streams queued before it),
// and waited for as CUDA's documented synchronization of it says: a copy to the
// host, or from pinned memory, is done on return; one from pageable memory to the
// device waits for the stream, is staged and returns (it lands later); one on the
// device does not wait at all. Refused while the thread captures.
cudaError_t cudaMemcpy(void* to, const void* from, size_t bytes, cudaMemcpyKind) {
  if (emu::refused_during_capture()) return cudaErrorStreamCaptureUnsupported;
  const emu::MemoryKind source = emu::kind_of(from), target = emu::kind_of(to);
  if (target == emu::MemoryKind::device && source != emu::MemoryKind::pinned) {
    if (source == emu::MemoryKind::pageable) emu::run_queued(nullptr);
    const cudaError_t queued = emu::enqueue_copy(nullptr, to, from, bytes, source);
    return queued != cudaSuccess ? queued : emu::take_last_error();
  }
  const cudaError_t queued = emu::enqueue_copy(nullptr, to, from, bytes, source);
  if (queued != cudaSuccess) return queued;
  emu::run_queued(nullptr);
  return emu::take_last_error();
}

}  // extern "C"
