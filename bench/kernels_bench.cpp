// The kernels' hot path against the machine's own limits, measured in the same run:
//  1. memory bandwidth: memcpy of a 1 GiB buffer (larger than any cache) on all pool
//     threads, reported as GB/s of bytes READ, and a read-only streaming sum (a
//     stricter floor: reading alone is faster than copying);
//  2. batch-1 decode: matmul m = 1 over one LLaMA-7B layer's seven matrices
//     (q, k, v, o 4096x4096; gate, up 11008x4096; down 4096x11008) per dtype; time per
//     layer, GB/s of weights, and % of the bandwidth floor = (weight bytes / bandwidth)
//     / time;
//  3. prefill m = 512: matmul on the same matrices against cblas_sgemm with OpenBLAS's
//     own threads (as many as the pool) on F32 copies of the same shapes;
//  4. batch scaling m = 1 ... 64: tokens/s of one layer for BF16 and Q8_0, with both
//     matmul strategies (the automatic choice is marked).
// A plain main (not Google Benchmark): every figure is a best-of-N wall time and the
// output is one table per part. Usage: kernels_bench [--threads N] [--quick].
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
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

// Evicts the caches by reading a 1 GiB buffer: a 7B model's decode step streams ~13 GB
// of weights, so no layer is in cache when its turn comes; a single layer (0.2-0.8 GB)
// can be, on a CPU with a large L3, which would flatter repeated runs.
class CacheFlusher {
 public:
  explicit CacheFlusher(ThreadPool& pool) : pool_(pool), buffer_((std::size_t{1} << 30) / sizeof(float), 1.0f) {}
  void flush() {
    pool_.parallel_for(static_cast<std::int64_t>(buffer_.size() / 1024), [this](std::int64_t begin, std::int64_t end) {
      sink_ += dot(buffer_.data() + begin * 1024, buffer_.data() + begin * 1024, (end - begin) * 1024);
    });
  }

 private:
  ThreadPool& pool_;
  std::vector<float> buffer_;
  std::atomic<float> sink_{0.0f};  // keeps the reads alive
};

struct Bandwidth {
  double copy_read_GBps = 0.0;  // memcpy, bytes read per second
  double read_GBps = 0.0;       // read-only streaming sum
};

Bandwidth measure_bandwidth(ThreadPool& pool, int repeats) {
  const std::size_t bytes = std::size_t{1} << 30;
  std::vector<char> src(bytes, 1), dst(bytes, 2);  // touched: real pages, not the zero page
  double copy = best_seconds(repeats, [&] {
    pool.parallel_for(static_cast<std::int64_t>(bytes / 4096), [&](std::int64_t begin, std::int64_t end) {
      std::memcpy(dst.data() + begin * 4096, src.data() + begin * 4096, static_cast<std::size_t>(end - begin) * 4096);
    });
  });
  std::vector<float> sums(static_cast<std::size_t>(pool.size()));
  const auto* floats = reinterpret_cast<const float*>(src.data());
  double read = best_seconds(repeats, [&] {
    pool.parallel_for_indexed(static_cast<std::int64_t>(bytes / 4096),
                              [&](int thread, std::int64_t begin, std::int64_t end) {
                                // dot(a, a): each cache line is loaded from memory once.
                                sums[static_cast<std::size_t>(thread)] =
                                    dot(floats + begin * 1024, floats + begin * 1024, (end - begin) * 1024);
                              });
  });
  if (sums[0] < 0.0f) std::puts("");  // keep the sums alive
  return {static_cast<double>(bytes) / copy * 1e-9, static_cast<double>(bytes) / read * 1e-9};
}

// Seconds for one pass over the layer's seven matrices with m activation rows.
// The caches are flushed before each run.
double layer_seconds(const LayerWeights& layer, std::int64_t m, ThreadPool& pool, CacheFlusher& flusher,
                     int repeats, const MatmulStrategy* strategy) {
  std::vector<float> x = random_activations(m * 11008), y(static_cast<std::size_t>(m * 11008));
  return best_seconds(repeats, [&] {
    for (const WeightMatrix& w : layer.matrices) {
      if (strategy) {
        matmul(w, x.data(), m, y.data(), pool, *strategy);
      } else {
        matmul(w, x.data(), m, y.data(), pool);
      }
    }
  }, [&] { flusher.flush(); });
}

void print_bandwidth(const Bandwidth& bw, int threads) {
  fmt::print("## 1. Memory bandwidth (1 GiB buffers, {} threads, best of runs)\n\n", threads);
  fmt::print("| measure | GB/s |\n|---|---:|\n");
  fmt::print("| memcpy, bytes read | {:.1f} |\n| read-only streaming sum | {:.1f} |\n\n", bw.copy_read_GBps,
             bw.read_GBps);
}

void decode_table(ThreadPool& pool, CacheFlusher& flusher, const Bandwidth& bw, int repeats) {
  fmt::print("## 2. Batch-1 decode (m = 1), one 7B layer = 7 matrices\n\n");
  fmt::print("| dtype | layer MB | ms / layer | GB/s | % of copy floor | % of read floor | per shape: ms (% copy floor) |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|---|\n");
  for (DType dtype : kDTypes) {
    LayerWeights layer = make_layer(dtype);
    double t = layer_seconds(layer, 1, pool, flusher, repeats, nullptr);
    double mb = static_cast<double>(layer.bytes) * 1e-6;
    std::string per_shape;
    for (const Shape& s : kLayer) {
      LayerWeights one;
      for (std::size_t i = 0; i < layer.matrices.size(); ++i)
        if (layer.matrices[i].rows == s.rows && layer.matrices[i].cols == s.cols) {
          one.matrices.push_back(layer.matrices[i]);
          one.bytes += layer.matrices[i].bytes();
        }
      double ts = layer_seconds(one, 1, pool, flusher, repeats, nullptr) / s.count;
      double floor = static_cast<double>(one.bytes) / s.count * 1e-9 / bw.copy_read_GBps;
      per_shape += fmt::format("{}{}: {:.2f} ({:.0f}%)", per_shape.empty() ? "" : "; ", s.name, ts * 1e3,
                               100.0 * floor / ts);
    }
    double copy_floor = static_cast<double>(layer.bytes) * 1e-9 / bw.copy_read_GBps;
    double read_floor = static_cast<double>(layer.bytes) * 1e-9 / bw.read_GBps;
    fmt::print("| {} | {:.0f} | {:.2f} | {:.1f} | {:.0f}% | {:.0f}% | {} |\n", dtype_name(dtype), mb, t * 1e3,
               mb * 1e-3 / t, 100.0 * copy_floor / t, 100.0 * read_floor / t, per_shape);
  }
  fmt::print("\n");
}

void prefill_table(ThreadPool& pool, int repeats) {
  const std::int64_t m = 512;
  fmt::print("## 3. Prefill (m = {}): matmul vs cblas_sgemm ({} OpenBLAS threads) on F32 copies\n\n", m,
             pool.size());
  fmt::print("| shape | sgemm ms | sgemm GFLOP/s |");
  for (DType d : kDTypes) fmt::print(" {} ms (% of sgemm) |", dtype_name(d));
  fmt::print("\n|---|---:|---:|");
  for (std::size_t i = 0; i < std::size(kDTypes); ++i) fmt::print("---:|");
  fmt::print("\n");
  std::vector<float> x = random_activations(m * 11008), y(static_cast<std::size_t>(m * 11008));
  for (const Shape& s : kLayer) {
    std::vector<double> ours;
    for (DType dtype : kDTypes) {
      std::vector<std::byte> data = random_weights(dtype, s.rows, s.cols);
      WeightMatrix w = WeightMatrix::make(dtype, s.rows, s.cols, data.data());
      ours.push_back(best_seconds(repeats, [&] { matmul(w, x.data(), m, y.data(), pool); }));
    }
    // The reference: OpenBLAS's own parallel sgemm on an F32 copy.
    std::vector<std::byte> f32 = random_weights(DType::F32, s.rows, s.cols);
    const auto* wf = reinterpret_cast<const float*>(f32.data());
    openblas_set_num_threads(pool.size());
    auto k = static_cast<int>(s.cols), n = static_cast<int>(s.rows);
    double ref = best_seconds(repeats, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), n, k, 1.0f, x.data(), k, wf, k, 0.0f,
                  y.data(), n);
    });
    openblas_set_num_threads(1);
    // OpenBLAS's threads spin for a while after a call: let them sleep before the next shape.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    double gflop = 2.0 * static_cast<double>(m) * static_cast<double>(s.rows) * static_cast<double>(s.cols) * 1e-9;
    fmt::print("| {} | {:.1f} | {:.0f} |", s.name, ref * 1e3, gflop / ref);
    for (double t : ours) fmt::print(" {:.1f} ({:.0f}%) |", t * 1e3, 100.0 * ref / t);
    fmt::print("\n");
  }
  fmt::print("\n");
}

void scaling_table(ThreadPool& pool, CacheFlusher& flusher, int repeats) {
  fmt::print("## 4. Batch scaling: tokens/s for one 7B layer (auto strategy marked *)\n\n");
  fmt::print("| dtype | m | streaming ms | tiled-gemm ms | tokens/s (auto) | x vs m=1 |\n|---|---:|---:|---:|---:|---:|\n");
  for (DType dtype : {DType::BF16, DType::Q8_0}) {
    LayerWeights layer = make_layer(dtype);
    double base = 0.0;
    for (std::int64_t m : {1, 2, 4, 8, 16, 32, 64}) {
      MatmulStrategy streaming = MatmulStrategy::Streaming, gemm = MatmulStrategy::TiledGemm;
      double ts = layer_seconds(layer, m, pool, flusher, repeats, &streaming);
      double tg = layer_seconds(layer, m, pool, flusher, repeats, &gemm);
      bool auto_gemm = matmul_strategy(layer.matrices[0], m) == MatmulStrategy::TiledGemm;
      double t = auto_gemm ? tg : ts;
      double tps = static_cast<double>(m) / t;
      if (m == 1) base = tps;
      fmt::print("| {} | {} | {:.2f}{} | {:.2f}{} | {:.0f} | {:.1f} |\n", dtype_name(dtype), m, ts * 1e3,
                 auto_gemm ? "" : "*", tg * 1e3, auto_gemm ? "*" : "", tps, tps / base);
    }
  }
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
  ThreadPool pool(threads);
  openblas_set_num_threads(1);
  const CpuFeatures& f = cpu_features();
  fmt::print("# kernels_bench: {} threads, kernel ISA {} (CPU: avx2 {}, fma {}, f16c {}, avx512f {})\n\n", threads,
             kernel_isa(), f.avx2, f.fma, f.f16c, f.avx512f);
  auto start = Clock::now();
  Bandwidth bw = measure_bandwidth(pool, quick ? 2 : 5);
  print_bandwidth(bw, threads);
  std::fflush(stdout);
  CacheFlusher flusher(pool);
  decode_table(pool, flusher, bw, quick ? 3 : 10);
  std::fflush(stdout);
  prefill_table(pool, quick ? 1 : 3);
  std::fflush(stdout);
  scaling_table(pool, flusher, quick ? 2 : 5);
  fmt::print("total {:.0f} s\n", std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}

}  // namespace
}  // namespace helix

int main(int argc, char** argv) { return helix::run(argc, argv); }
