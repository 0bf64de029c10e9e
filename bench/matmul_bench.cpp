// matmul alone, per kernel level, on one 4096 x 4096 matrix: GMAC/s for each
// dtype, batch size and strategy, with every ISA level the CPU has measured in the
// same run, so the AVX-512 kernels are compared with the AVX2 / sgemm paths they
// replace under the same machine noise. The matrix (9-34 MB) mostly sits in the
// last-level cache: this measures the kernels' arithmetic, not memory (for that,
// kernels_bench and model_bench).
//
// Usage: matmul_bench [--quick] [--from-memory] [--dtypes bf16,q8_0,q4_k,q6_k]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "baselines.h"
#include "helix/kernels/cpu_features.h"
#include "helix/kernels/matmul.h"

namespace {

using helix::DType;
using helix::MatmulStrategy;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kRows = 4096, kCols = 4096;

struct Matrix {
  std::vector<std::byte> bytes;
  helix::WeightMatrix w;
};

Matrix make_matrix(DType dtype) {
  std::mt19937 rng(1);
  std::normal_distribution<float> value;
  std::vector<float> f32(static_cast<std::size_t>(kRows * kCols));
  for (float& v : f32) v = value(rng);
  Matrix m;
  m.bytes.resize(helix::dtype_row_bytes(dtype, kCols) * kRows);
  helix::convert_from_f32(dtype, f32.data(), kRows * kCols, m.bytes.data());
  m.w = helix::WeightMatrix::make(dtype, kRows, kCols, m.bytes.data());
  return m;
}

// Best GMAC/s of `repeats` calls.
double gmacs(const Matrix& m, std::int64_t batch, MatmulStrategy strategy, helix::ThreadPool& pool, int repeats) {
  std::mt19937 rng(2);
  std::normal_distribution<float> value;
  std::vector<float> x(static_cast<std::size_t>(batch * kCols)), y(static_cast<std::size_t>(batch * kRows));
  for (float& v : x) v = value(rng);
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    helix::matmul(m.w, x.data(), batch, y.data(), pool, strategy);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return static_cast<double>(kRows * kCols * batch) / best / 1e9;
}

// Batch-1 decode with the weights in memory rather than cache: GB/s of weights read
// by the strategy matmul picks, cycling through copies of the matrix that together
// exceed `bytes` (more than the last-level cache: 480 MB on some AMX Xeons). Median
// of 5 passes.
double from_memory_gbs(const Matrix& m, helix::ThreadPool& pool, double bytes) {
  const std::size_t one = m.bytes.size();
  const auto copies = static_cast<std::size_t>(bytes / static_cast<double>(one)) + 1;
  std::vector<std::byte> all(one * copies);
  std::vector<helix::WeightMatrix> ws;
  for (std::size_t c = 0; c < copies; ++c) {
    std::copy(m.bytes.begin(), m.bytes.end(), all.begin() + static_cast<std::ptrdiff_t>(c * one));
    ws.push_back(helix::WeightMatrix::make(m.w.dtype, kRows, kCols, all.data() + c * one));
  }
  std::vector<float> x(kCols, 0.5f), y(kRows);
  std::vector<double> passes;
  for (int pass = 0; pass < 6; ++pass) {
    auto start = Clock::now();
    for (const auto& w : ws) helix::matmul(w, x.data(), 1, y.data(), pool);
    if (pass > 0) passes.push_back(static_cast<double>(one * copies) / std::chrono::duration<double>(Clock::now() - start).count() / 1e9);
  }
  std::sort(passes.begin(), passes.end());
  return passes[passes.size() / 2];
}

const char* rounding_name(helix::ActivationRounding rounding) {
  switch (rounding) {
    case helix::ActivationRounding::Int8Blocks: return "int8 x";
    case helix::ActivationRounding::Int8Superblocks: return "int8 x per 256";
    case helix::ActivationRounding::Bf16: return "bf16 x";
    case helix::ActivationRounding::None: return "f32";
  }
  return "f32";
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, from_memory = false;
  std::vector<std::string> dtype_names = {"bf16", "q8_0", "q4_k", "q6_k"};
  CLI::App app("matmul GMAC/s on one 4096x4096 matrix per dtype, batch, strategy and kernel level (same run).");
  app.add_flag("--quick", quick, "Fewer repetitions");
  app.add_flag("--from-memory", from_memory,
               "Instead: batch-1 GB/s per level with the weights in memory (1.2 GB of copies cycled), not cache");
  app.add_option("--dtypes", dtype_names, "Comma-separated dtypes")
      ->delimiter(',')
      ->check(CLI::IsMember({"f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::vector<DType> dtypes;
  for (const std::string& name : dtype_names) dtypes.push_back(*helix::parse_dtype(name));
  std::vector<std::string> isas;
  for (auto [isa, name] : {std::pair{helix::KernelIsa::Avx2, "avx2"},
                           {helix::KernelIsa::Avx512, "avx512"},
                           {helix::KernelIsa::Amx, "amx"}}) {
    if (helix::cpu_supports(isa)) isas.emplace_back(name);
  }
  helix::ThreadPool pool(2);
  if (from_memory) {
    std::printf("# matmul_bench --from-memory: 2 threads, 4096x4096, batch 1, GB/s of weights read (median of 5 passes "
                "over 1.2 GB)\n\n| dtype | isa | GB/s |\n|---|---|---:|\n");
    for (DType dtype : dtypes) {
      const Matrix m = make_matrix(dtype);
      for (const std::string& isa : isas) {
        helix::override_kernel_isa(isa);
        std::printf("| %s | %s | %.1f |\n", std::string(helix::dtype_name(dtype)).c_str(), isa.c_str(),
                    from_memory_gbs(m, pool, 1.2e9));
        std::fflush(stdout);
      }
    }
    helix::override_kernel_isa("");
    return 0;
  }
  // The ceilings of the avx512 level's kernels, measured in this run on all cores.
  const helix::bench::InstructionPeaks peaks = helix::bench::instruction_peaks();
  std::printf("# matmul_bench: 2 threads, 4096x4096, GMAC/s (best of %d); * = the strategy matmul picks\n"
              "# peaks of this run (every core, back-to-back instructions): vpdpbusd %.0f GMAC/s (int8), "
              "vfmadd231ps %.0f GMAC/s (f32), vdpbf16ps %.0f GMAC/s (bf16; 0: no AVX512_BF16); 'of peak' divides "
              "the avx512 level's pick by the one its kernel uses\n\n",
              quick ? 3 : 10, peaks.int8_gmacs, peaks.f32_gmacs, peaks.bf16_gmacs);
  std::printf("| dtype | batch | isa | streaming | tiled-gemm | activations | of peak |\n"
              "|---|---:|---|---:|---:|---|---:|\n");
  for (DType dtype : dtypes) {
    const Matrix m = make_matrix(dtype);
    for (std::int64_t batch : {1, 4, 16, 64, 512}) {
      const int repeats = batch >= 512 ? (quick ? 1 : 3) : (quick ? 3 : 10);
      for (const std::string& isa : isas) {
        helix::override_kernel_isa(isa);
        const bool streams = helix::matmul_strategy(m.w, batch) == MatmulStrategy::Streaming;
        const double s = gmacs(m, batch, MatmulStrategy::Streaming, pool, repeats);
        const double t = gmacs(m, batch, MatmulStrategy::TiledGemm, pool, repeats);
        // The avx512 level multiplies BF16 and F16 with f32 fma and the int8 types with vpdpbusd.
        const bool float_kernel = dtype == DType::BF16 || dtype == DType::F16;
        const double peak = isa != "avx512" ? 0.0 : float_kernel ? peaks.f32_gmacs : peaks.int8_gmacs;
        char of_peak[16] = "-";
        if (peak > 0) std::snprintf(of_peak, sizeof of_peak, "%.0f%%", 100.0 * (streams ? s : t) / peak);
        std::printf("| %s | %lld | %s | %.1f%s | %.1f%s | %s | %s |\n", std::string(helix::dtype_name(dtype)).c_str(),
                    static_cast<long long>(batch), isa.c_str(), s, streams ? " *" : "", t, streams ? "" : " *",
                    rounding_name(helix::matmul_activation_rounding(dtype)), of_peak);
        std::fflush(stdout);
      }
    }
  }
  helix::override_kernel_isa("");
  return 0;
}
