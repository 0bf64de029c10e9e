// The baselines the engine benchmarks divide by, measured in the same run: the
// machine's memory bandwidth (what batch-1 decode can at best reach) and timing
// helpers. Header-only: every bench/*.cpp is its own program.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace helix::bench {

using Clock = std::chrono::steady_clock;

inline double seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Bytes read per second by memcpy of a buffer far larger than the caches, split over two threads.
inline double copy_bandwidth() {
  const std::size_t n = std::size_t{1} << 30;
  std::vector<char> src(n, 1), dst(n, 0);
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    auto start = Clock::now();
    std::thread t([&] { std::memcpy(dst.data() + n / 2, src.data() + n / 2, n / 2); });
    std::memcpy(dst.data(), src.data(), n / 2);
    t.join();
    best = std::max(best, static_cast<double>(n) / seconds(start));
  }
  return best;
}

// Sums 64-byte-aligned words [begin, end) with 256-bit loads, as four streams at
// once (the range in four quarters, read side by side): the decode kernels read
// several weight rows at a time, and one stream per core left the memory system
// idle part of the time (an AMX Xeon: 21 GB/s with one stream per thread, 25-26
// with two to eight, where BF16 decode read 26 GB/s and showed "122% of the bound").
__attribute__((target("avx2"))) inline std::uint64_t sum_words_avx2(const std::uint64_t* begin, const std::uint64_t* end) {
  constexpr int kStreams = 4;
  const std::size_t quarter = static_cast<std::size_t>(end - begin) / kStreams / 32 * 32;
  __m256i acc[kStreams][2];
  for (auto& a : acc) a[0] = a[1] = _mm256_setzero_si256();
  for (std::size_t i = 0; i < quarter; i += 32) {
    for (int s = 0; s < kStreams; ++s) {
      const std::uint64_t* p = begin + s * quarter + i;
      for (int k = 0; k < 8; ++k) {
        acc[s][k & 1] = _mm256_add_epi64(acc[s][k & 1], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 4 * k)));
      }
    }
  }
  __m256i total = _mm256_setzero_si256();
  for (auto& a : acc) total = _mm256_add_epi64(total, _mm256_add_epi64(a[0], a[1]));
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), total);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

inline std::uint64_t sum_words_scalar(const std::uint64_t* begin, const std::uint64_t* end) {
  std::uint64_t a = 0, b = 0, c = 0, d = 0;
  for (const std::uint64_t* p = begin; p + 4 <= end; p += 4) a += p[0], b += p[1], c += p[2], d += p[3];
  return a + b + c + d;
}

// The machine's read bandwidth, the honest floor for batch-1 decode (which
// only reads weights): a 1 GiB buffer read by every hardware thread at once
// with wide loads; the best of 5 runs.
inline double read_bandwidth() {
  const std::size_t n = std::size_t{1} << 27;  // words: 1 GiB
  auto* words = static_cast<std::uint64_t*>(std::aligned_alloc(64, n * sizeof(std::uint64_t)));
  std::fill(words, words + n, std::uint64_t{1});
  const unsigned threads = std::max(1U, std::thread::hardware_concurrency());
  const std::size_t chunk = n / threads / 128 * 128;  // four whole streams of 32-word steps
  const auto sum_words = __builtin_cpu_supports("avx2") ? sum_words_avx2 : sum_words_scalar;
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    std::vector<std::uint64_t> sums(threads, 0);
    auto start = Clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { sums[t] = sum_words(words + t * chunk, words + (t + 1) * chunk); });
    }
    for (std::thread& t : pool) t.join();
    const double bw = static_cast<double>(chunk * threads * sizeof(std::uint64_t)) / seconds(start);
    std::uint64_t total = 0;
    for (std::uint64_t s : sums) total += s;
    if (total == chunk * threads) best = std::max(best, bw);  // the loads really happened
  }
  std::free(words);
  return best;
}

// The machine's compute peaks for the avx512 level's kernels, the honest ceiling
// for prefill: multiply-adds per second of vpdpbusd (int8, 64 per instruction) and
// of vfmadd231ps (f32, 16), issued back to back on 12 independent accumulators by
// every hardware thread at once (a fixed count of instructions each). 0 where the
// CPU lacks AVX-512 VNNI.
// (And vdpbf16ps, 32 per instruction, where the CPU has AVX512_BF16: what the avx512
// level's BF16 kernel chose f32 fma over.)
struct InstructionPeaks {
  double int8_gmacs = 0, f32_gmacs = 0, bf16_gmacs = 0;
};

enum class PeakInstruction { Vpdpbusd, Vfmadd231ps, Vdpbf16ps };

inline int macs_per_instruction(PeakInstruction kind) {
  return kind == PeakInstruction::Vpdpbusd ? 64 : kind == PeakInstruction::Vfmadd231ps ? 16 : 32;
}

template <PeakInstruction Kind>
__attribute__((target("avx512f,avx512bw,avx512vnni,avx512bf16"), noinline)) inline std::int64_t peak_loop(
    std::int64_t iterations) {
  __m512i acc[12];
  __m512 facc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_epi32(i), facc[i] = _mm512_set1_ps(static_cast<float>(i));
  __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  for (std::int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
      if constexpr (Kind == PeakInstruction::Vpdpbusd) {
        acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
      } else if constexpr (Kind == PeakInstruction::Vfmadd231ps) {
        facc[i] = _mm512_fmadd_ps(facc[i], _mm512_castsi512_ps(a), _mm512_castsi512_ps(b));
      } else {
        facc[i] = _mm512_dpbf16_ps(facc[i], reinterpret_cast<const __m512bh&>(a), reinterpret_cast<const __m512bh&>(b));
      }
    }
    __asm__ volatile("" : "+v"(a));  // each iteration's instructions are really issued
  }
  std::int64_t sink = 0;
  for (int i = 0; i < 12; ++i) {
    alignas(64) std::int32_t lanes[16];
    _mm512_store_si512(lanes, _mm512_add_epi32(acc[i], _mm512_castps_si512(facc[i])));
    sink += lanes[0];
  }
  return sink;
}

// GMAC/s of peak_loop<Kind> on every hardware thread at once; the best of 3.
template <PeakInstruction Kind>
double instruction_peak() {
  constexpr std::int64_t kIterations = 20'000'000;
  const unsigned threads = std::max(1U, std::thread::hardware_concurrency());
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    std::vector<std::int64_t> sinks(threads);
    auto start = Clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back([&, t] { sinks[t] = peak_loop<Kind>(kIterations); });
    for (std::thread& t : pool) t.join();
    const double macs = static_cast<double>(kIterations) * 12 * macs_per_instruction(Kind) * threads;
    best = std::max(best, macs / seconds(start) / 1e9);
  }
  return best;
}

inline InstructionPeaks instruction_peaks() {
  InstructionPeaks p;
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vnni")) {
    return p;
  }
  p.int8_gmacs = instruction_peak<PeakInstruction::Vpdpbusd>();
  p.f32_gmacs = instruction_peak<PeakInstruction::Vfmadd231ps>();
  if (__builtin_cpu_supports("avx512bf16")) p.bf16_gmacs = instruction_peak<PeakInstruction::Vdpbf16ps>();
  return p;
}

}  // namespace helix::bench
