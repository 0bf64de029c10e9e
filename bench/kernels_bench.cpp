// The kernels' hot path against the machine's own limits, measured in the same run:
//  1. memory bandwidth: memcpy of a 1 GiB buffer (larger than any cache) on all pool
//     threads, reported as GB/s of bytes READ, and a read-only streaming sum (a
//     stricter floor: reading alone, 4 streams per thread, is faster than copying);
//  2. batch-1 decode: matmul m = 1 over one LLaMA-7B layer's seven matrices
//     (q, k, v, o 4096x4096; gate, up 11008x4096; down 4096x11008) per dtype; time per
//     layer, GB/s of weights, and % of the bandwidth floor = (weight bytes / bandwidth)
//     / time;
//  3. prefill m = 512: matmul on the same matrices against cblas_sgemm with OpenBLAS's
//     own threads (as many as the pool) on F32 copies of the same shapes;
//  4. batch scaling m = 1 ... 64: tokens/s of one layer for BF16 and Q8_0, with both
//     matmul strategies (the automatic choice is marked);
//  5. the wire's f16 codec: a 64 x 4096 hidden-state message rounded and widened,
//     against memcpy of the f32 message.
// A plain main (not Google Benchmark): every figure is a best-of-N wall time, and the
// tables are printed at the end (progress goes to stderr). Usage:
//   kernels_bench [--threads N] [--quick]      (about 2 minutes; --quick: under 1)
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "helix/kernels/cpu_features.h"
#include "helix/kernels/matmul.h"
#include "helix/kernels/thread_pool.h"
#include "helix/kernels/vector_ops.h"
#include "helix/kernels/weight_matrix.h"
#include "helix/weights/dtype.h"

namespace helix {
namespace {

using Clock = std::chrono::steady_clock;

// Best wall time of `repeats` runs of body (after one warm-up run), in seconds.
// `before` runs untimed before each run.
double best_seconds(int repeats, const std::function<void()>& body, const std::function<void()>& before = {}) {
  body();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    if (before) before();
    auto start = Clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

// Deterministic fast pseudo-random bits (xorshift64*).
struct Bits {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  std::uint64_t next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
  }
};

// `rows` x `cols` weights of `dtype` with values like a trained layer's (|w| < 0.1,
// no denormals), filled quickly: a table of encoded random values, indexed at random.
std::vector<std::byte> random_weights(DType dtype, std::int64_t rows, std::int64_t cols) {
  std::size_t bytes = dtype_row_bytes(dtype, cols) * static_cast<std::size_t>(rows);
  std::vector<std::byte> data(bytes);
  Bits bits;
  if (dtype == DType::Q8_0) {
    BlockQ8_0 block{};
    for (std::size_t b = 0; b < bytes / sizeof(BlockQ8_0); ++b) {
      block.d = f32_to_f16(0.0005f + static_cast<float>(bits.next() % 1000) * 1e-6f);
      std::uint64_t q = bits.next();
      for (int i = 0; i < kQ8BlockElements; ++i) {
        if (i % 8 == 0) q = bits.next();
        block.qs[i] = static_cast<std::int8_t>(static_cast<int>(q >> (8 * (i % 8)) & 0xFF) % 255 - 127);
      }
      std::memcpy(data.data() + b * sizeof(BlockQ8_0), &block, sizeof block);
    }
    return data;
  }
  constexpr int kTable = 4096;
  std::vector<float> values(kTable);
  for (float& v : values) v = (static_cast<float>(bits.next() % 20001) - 10000.0f) * 1e-5f;
  std::size_t element = dtype == DType::F32 ? 4 : 2;
  std::vector<std::byte> table(kTable * element);
  convert_from_f32(dtype, values.data(), kTable, table.data());
  for (std::size_t i = 0; i < bytes / element; ++i) {
    std::memcpy(data.data() + i * element, table.data() + (bits.next() % kTable) * element, element);
  }
  return data;
}

std::vector<float> random_activations(std::int64_t count) {
  Bits bits;
  std::vector<float> x(static_cast<std::size_t>(count));
  for (float& v : x) v = (static_cast<float>(bits.next() % 20001) - 10000.0f) * 1e-4f;
  return x;
}

struct Shape {
  const char* name;
  std::int64_t rows, cols;
  int count;  // how many matrices of the shape a layer has
};
// One LLaMA-7B decoder layer: q, k, v, o; gate, up; down.
const Shape kLayer[] = {{"4096x4096 (q,k,v,o)", 4096, 4096, 4}, {"11008x4096 (gate,up)", 11008, 4096, 2},
                        {"4096x11008 (down)", 4096, 11008, 1}};

// One layer's weights in one dtype, each matrix its own buffer.
struct LayerWeights {
  DType dtype;
  std::vector<std::vector<std::byte>> buffers;  // per matrix of the layer (7)
  std::vector<WeightMatrix> matrices;
  std::size_t bytes = 0;
};

LayerWeights make_layer(DType dtype) {
  LayerWeights layer;
  layer.dtype = dtype;
  for (const Shape& s : kLayer) {
    for (int c = 0; c < s.count; ++c) {
      layer.buffers.push_back(random_weights(dtype, s.rows, s.cols));
      layer.matrices.push_back(WeightMatrix::make(dtype, s.rows, s.cols, layer.buffers.back().data()));
      layer.bytes += layer.matrices.back().bytes();
    }
  }
  return layer;
}

constexpr DType kDTypes[] = {DType::BF16, DType::Q8_0, DType::F16, DType::F32};

// Sum of n words read as 4 interleaved streams (n a multiple of 16). Several streams
// per thread read faster than one (more lines in flight): about what matmul's tiles
// reach, which read several weight rows at once. Integer sums vectorise without
// -ffast-math.
std::uint64_t sum_4_streams(const std::uint64_t* p, std::int64_t n) {
  constexpr int kStreams = 4;
  const std::int64_t len = n / kStreams;
  std::uint64_t acc[kStreams][4] = {};
  for (std::int64_t k = 0; k < len; k += 4)
#pragma GCC unroll 4
    for (int s = 0; s < kStreams; ++s)
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[s][j] += p[s * len + k + j];
  std::uint64_t total = 0;
  for (auto& stream : acc)
    for (std::uint64_t a : stream) total += a;
  return total;
}

// Two 1 GiB buffers (far larger than the caches): they measure the memory bandwidth,
// and reading one evicts the caches before a timed decode run. A 7B model's decode
// step streams ~13 GB of weights, so no layer is in cache when its turn comes, but a
// single layer (0.2-0.8 GB) partly is on a CPU with a large L3, which would flatter
// repeated runs.
//
// The machine is shared, so a figure taken while a neighbour runs is low. The
// bandwidth is measured several times during the run and the best is kept: the
// floor it gives is the strictest one.
class Memory {
 public:
  explicit Memory(ThreadPool& pool) : pool_(pool), src_(kWords, 1), dst_(kWords) {}

  // Measures both bandwidths (best of `repeats`) and keeps the best seen so far.
  void measure(int repeats) {
    double copy = best_seconds(repeats, [this] {
      pool_.parallel_for(chunks(), [this](std::int64_t begin, std::int64_t end) {
        std::memcpy(dst_.data() + begin * kChunk, src_.data() + begin * kChunk,
                    static_cast<std::size_t>(end - begin) * kChunk * sizeof(std::uint64_t));
      });
    });
    double read = best_seconds(repeats, [this] { flush(); });
    copy_read_GBps = std::max(copy_read_GBps, static_cast<double>(kBytes) / copy * 1e-9);
    read_GBps = std::max(read_GBps, static_cast<double>(kBytes) / read * 1e-9);
  }

  // Reads the whole source buffer, 64 KiB work items of 4 streams each.
  void flush() {
    pool_.parallel_for(chunks(), [this](std::int64_t begin, std::int64_t end) {
      std::uint64_t sum = 0;
      for (std::int64_t c = begin; c < end; ++c) sum += sum_4_streams(src_.data() + c * kChunk, kChunk);
      sink_ += sum;
    });
  }

  double copy_read_GBps = 0.0;  // memcpy, bytes read per second
  double read_GBps = 0.0;       // read-only streaming sum

 private:
  static constexpr std::size_t kBytes = std::size_t{1} << 30;
  static constexpr std::size_t kWords = kBytes / sizeof(std::uint64_t);
  static constexpr std::int64_t kChunk = 8192;  // words per work item (64 KiB)
  static std::int64_t chunks() { return static_cast<std::int64_t>(kWords) / kChunk; }

  ThreadPool& pool_;
  std::vector<std::uint64_t> src_, dst_;  // src_ filled: real pages, not the shared zero page
  std::atomic<std::uint64_t> sink_{0};    // keeps the reads alive
};

// Seconds for one pass over the matrices with m activation rows, the caches flushed
// before each run.
double pass_seconds(const std::vector<WeightMatrix>& matrices, std::int64_t m, ThreadPool& pool, Memory& memory,
                    int repeats, std::optional<MatmulStrategy> strategy) {
  std::vector<float> x = random_activations(m * 11008), y(static_cast<std::size_t>(m * 11008));
  return best_seconds(
      repeats,
      [&] {
        for (const WeightMatrix& w : matrices) {
          if (strategy) {
            matmul(w, x.data(), m, y.data(), pool, *strategy);
          } else {
            matmul(w, x.data(), m, y.data(), pool);
          }
        }
      },
      [&] { memory.flush(); });
}

struct DecodeResult {
  DType dtype;
  std::size_t bytes;          // one layer
  double seconds;             // one layer
  double shape_seconds[3];    // one matrix of each kLayer shape
};

std::vector<DecodeResult> run_decode(ThreadPool& pool, Memory& memory, int repeats) {
  std::vector<DecodeResult> results;
  for (DType dtype : kDTypes) {
    std::fprintf(stderr, "decode %s\n", std::string(dtype_name(dtype)).c_str());
    LayerWeights layer = make_layer(dtype);
    memory.measure(2);  // next to the decode runs, in case the machine was busy before
    DecodeResult r{dtype, layer.bytes, pass_seconds(layer.matrices, 1, pool, memory, repeats, std::nullopt), {}};
    std::size_t first = 0;
    for (std::size_t s = 0; s < std::size(kLayer); ++s) {
      std::vector<WeightMatrix> same(layer.matrices.begin() + static_cast<std::ptrdiff_t>(first),
                                     layer.matrices.begin() + static_cast<std::ptrdiff_t>(first) + kLayer[s].count);
      r.shape_seconds[s] = pass_seconds(same, 1, pool, memory, repeats, std::nullopt) / kLayer[s].count;
      first += static_cast<std::size_t>(kLayer[s].count);
    }
    results.push_back(r);
  }
  return results;
}

struct PrefillResult {
  const Shape* shape;
  double sgemm_seconds;
  std::vector<double> seconds;  // per kDTypes
};

std::vector<PrefillResult> run_prefill(ThreadPool& pool, std::int64_t m, int repeats) {
  std::vector<PrefillResult> results;
  std::vector<float> x = random_activations(m * 11008), y(static_cast<std::size_t>(m * 11008));
  for (const Shape& s : kLayer) {
    std::fprintf(stderr, "prefill %s\n", s.name);
    PrefillResult r{&s, 0.0, {}};
    for (DType dtype : kDTypes) {
      std::vector<std::byte> data = random_weights(dtype, s.rows, s.cols);
      WeightMatrix w = WeightMatrix::make(dtype, s.rows, s.cols, data.data());
      r.seconds.push_back(best_seconds(repeats, [&] { matmul(w, x.data(), m, y.data(), pool); }));
    }
    // The reference: OpenBLAS's own parallel sgemm on an F32 copy.
    std::vector<std::byte> f32 = random_weights(DType::F32, s.rows, s.cols);
    const auto* wf = reinterpret_cast<const float*>(f32.data());
    auto k = static_cast<int>(s.cols), n = static_cast<int>(s.rows);
    openblas_set_num_threads(pool.size());
    r.sgemm_seconds = best_seconds(repeats, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), n, k, 1.0f, x.data(), k, wf, k, 0.0f,
                  y.data(), n);
    });
    openblas_set_num_threads(1);
    // OpenBLAS's threads spin for a while after a call: let them sleep before going on.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    results.push_back(r);
  }
  return results;
}

struct ScalingResult {
  DType dtype;
  std::int64_t m;
  double streaming_seconds, gemm_seconds;
  MatmulStrategy chosen;
};

std::vector<ScalingResult> run_scaling(ThreadPool& pool, Memory& memory, int repeats) {
  std::vector<ScalingResult> results;
  for (DType dtype : {DType::BF16, DType::Q8_0}) {
    std::fprintf(stderr, "batch scaling %s\n", std::string(dtype_name(dtype)).c_str());
    LayerWeights layer = make_layer(dtype);
    for (std::int64_t m : {1, 2, 4, 8, 16, 32, 64}) {
      results.push_back({dtype, m, pass_seconds(layer.matrices, m, pool, memory, repeats, MatmulStrategy::Streaming),
                         pass_seconds(layer.matrices, m, pool, memory, repeats, MatmulStrategy::TiledGemm),
                         matmul_strategy(layer.matrices[0], m)});
    }
  }
  return results;
}

void print_bandwidth(const Memory& memory, int threads) {
  fmt::print("## 1. Memory bandwidth (1 GiB buffers, {} threads, best over the run)\n\n", threads);
  fmt::print("| measure | GB/s |\n|---|---:|\n");
  fmt::print("| memcpy, bytes read | {:.1f} |\n| read-only streaming sum | {:.1f} |\n\n", memory.copy_read_GBps,
             memory.read_GBps);
}

void print_decode(const std::vector<DecodeResult>& results, const Memory& memory) {
  fmt::print("## 2. Batch-1 decode (m = 1), one 7B layer = 7 matrices, caches flushed before each run\n\n");
  fmt::print("floor = weight bytes / bandwidth; % of floor = floor / time (100% = at the bandwidth).\n\n");
  fmt::print("| dtype | layer MB | ms / layer | GB/s | % of copy floor | % of read floor |");
  for (const Shape& s : kLayer) fmt::print(" {} ms (% copy floor) |", s.name);
  fmt::print("\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const DecodeResult& r : results) {
    double gb = static_cast<double>(r.bytes) * 1e-9;
    fmt::print("| {} | {:.0f} | {:.2f} | {:.1f} | {:.0f}% | {:.0f}% |", dtype_name(r.dtype), gb * 1e3, r.seconds * 1e3,
               gb / r.seconds, 100.0 * gb / memory.copy_read_GBps / r.seconds,
               100.0 * gb / memory.read_GBps / r.seconds);
    for (std::size_t s = 0; s < std::size(kLayer); ++s) {
      double shape_gb = static_cast<double>(dtype_row_bytes(r.dtype, kLayer[s].cols)) *
                        static_cast<double>(kLayer[s].rows) * 1e-9;
      fmt::print(" {:.2f} ({:.0f}%) |", r.shape_seconds[s] * 1e3,
                 100.0 * shape_gb / memory.copy_read_GBps / r.shape_seconds[s]);
    }
    fmt::print("\n");
  }
  fmt::print("\n");
}

void print_prefill(const std::vector<PrefillResult>& results, std::int64_t m, int threads) {
  fmt::print("## 3. Prefill (m = {}): matmul vs cblas_sgemm ({} OpenBLAS threads) on F32 copies\n\n", m, threads);
  fmt::print("| shape | sgemm ms | sgemm GFLOP/s |");
  for (DType d : kDTypes) fmt::print(" {} ms (% of sgemm speed) |", dtype_name(d));
  fmt::print("\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (const PrefillResult& r : results) {
    double gflop = 2.0 * static_cast<double>(m) * static_cast<double>(r.shape->rows) *
                   static_cast<double>(r.shape->cols) * 1e-9;
    fmt::print("| {} | {:.1f} | {:.0f} |", r.shape->name, r.sgemm_seconds * 1e3, gflop / r.sgemm_seconds);
    for (double t : r.seconds) fmt::print(" {:.1f} ({:.0f}%) |", t * 1e3, 100.0 * r.sgemm_seconds / t);
    fmt::print("\n");
  }
  fmt::print("\n");
}

void print_scaling(const std::vector<ScalingResult>& results) {
  fmt::print("## 4. Batch scaling: one 7B layer (7 matrices), caches flushed; * = the strategy matmul picks\n\n");
  fmt::print("| dtype | m | streaming ms | tiled-gemm ms | tokens/s | x tokens/s of m = 1 |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|\n");
  double base = 0.0;
  for (const ScalingResult& r : results) {
    bool gemm = r.chosen == MatmulStrategy::TiledGemm;
    double tps = static_cast<double>(r.m) / (gemm ? r.gemm_seconds : r.streaming_seconds);
    if (r.m == 1) base = tps;
    fmt::print("| {} | {} | {:.2f}{} | {:.2f}{} | {:.0f} | {:.1f} |\n", dtype_name(r.dtype), r.m,
               r.streaming_seconds * 1e3, gemm ? "" : " *", r.gemm_seconds * 1e3, gemm ? " *" : "", tps, tps / base);
  }
  fmt::print("\n");
}

// The wire's f16 hidden states (runtime/activation_codec.h): one message of a batch
// of 64 LLaMA-7B hidden states (64 x 4096 values) rounded to f16 as a worker sends
// it and widened back as the next receives it, against memcpy of the f32 message
// (the same bytes written, cache-resident: the limit) and the scalar widening the
// receive path used before widen_f16. Single-threaded, as the worker's receive is.
struct CodecResult {
  double memcpy_s = 0, round_s = 0, widen_s = 0, scalar_widen_s = 0;
};

CodecResult run_codec(int repeats) {
  constexpr std::int64_t n = 64 * 4096;
  std::vector<float> values(static_cast<std::size_t>(n)), out(values.size());
  for (std::int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = static_cast<float>((i * 7919) % 2003 - 1001) / 97.0f;
  std::vector<std::uint16_t> halves(values.size());
  const auto* bytes = reinterpret_cast<const std::byte*>(halves.data());
  CodecResult r;
  const int loops = 50;  // one message is ~0.1 ms: time 50 back to back
  r.memcpy_s = best_seconds(repeats, [&] { for (int l = 0; l < loops; ++l) std::memcpy(out.data(), values.data(), values.size() * 4); }) / loops;
  r.round_s = best_seconds(repeats, [&] { for (int l = 0; l < loops; ++l) round_to_f16(values.data(), n, halves.data()); }) / loops;
  r.widen_s = best_seconds(repeats, [&] { for (int l = 0; l < loops; ++l) widen_f16(bytes, n, out.data()); }) / loops;
  r.scalar_widen_s = best_seconds(repeats, [&] { for (int l = 0; l < loops; ++l) convert_to_f32(DType::F16, bytes, n, out.data()); }) / loops;
  return r;
}

void print_codec(const CodecResult& r) {
  fmt::print("## 5. The wire's f16 hidden states: one message of 64 x 4096 values, one thread\n\n");
  fmt::print("| operation | us per message | x memcpy of the f32 message |\n|---|---:|---:|\n");
  const auto row = [&](const char* what, double s) { fmt::print("| {} | {:.1f} | {:.2f} |\n", what, s * 1e6, s / r.memcpy_s); };
  row("memcpy of the f32 message (baseline)", r.memcpy_s);
  row("round_to_f16 (send)", r.round_s);
  row("widen_f16 (receive)", r.widen_s);
  row("convert_to_f32(F16), scalar (receive before)", r.scalar_widen_s);
  fmt::print("\n");
}

int run(int argc, char** argv) {
  int threads = 2;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (arg == "--quick") {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: kernels_bench [--threads N] [--quick]\n");
      return 2;
    }
  }
  auto start = Clock::now();
  ThreadPool pool(threads);
  openblas_set_num_threads(1);
  Memory memory(pool);
  memory.measure(quick ? 2 : 5);
  std::vector<DecodeResult> decode = run_decode(pool, memory, quick ? 3 : 10);
  const std::int64_t prefill_m = 512;
  std::vector<PrefillResult> prefill = run_prefill(pool, prefill_m, quick ? 1 : 3);
  std::vector<ScalingResult> scaling = run_scaling(pool, memory, quick ? 2 : 4);
  const CodecResult codec = run_codec(quick ? 5 : 20);
  memory.measure(quick ? 2 : 5);

  const CpuFeatures& f = cpu_features();
  fmt::print("# kernels_bench: {} threads, kernel ISA {} (CPU: avx2 {}, fma {}, f16c {}, avx512f {})\n\n", threads,
             kernel_isa(), f.avx2, f.fma, f.f16c, f.avx512f);
  print_bandwidth(memory, threads);
  print_decode(decode, memory);
  print_prefill(prefill, prefill_m, threads);
  print_scaling(scaling);
  print_codec(codec);
  fmt::print("total {:.0f} s\n", std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}

}  // namespace
}  // namespace helix

int main(int argc, char** argv) { return helix::run(argc, argv); }
