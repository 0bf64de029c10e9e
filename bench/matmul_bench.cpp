// matmul alone, per kernel level, on one 4096 x 4096 matrix: GMAC/s for each
// dtype, batch size and strategy, with every ISA level the CPU has measured in the
// same run, so the AVX-512 kernels are compared with the AVX2 / sgemm paths they
// replace under the same machine noise. The matrix (9-34 MB) mostly sits in the
// last-level cache: this measures the kernels' arithmetic, not memory (for that,
// kernels_bench and model_bench).
//
// Usage: matmul_bench [--quick]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

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

const char* rounding_name(helix::ActivationRounding rounding) {
  switch (rounding) {
    case helix::ActivationRounding::Int8Blocks: return "int8 x";
    case helix::ActivationRounding::Bf16: return "bf16 x";
    case helix::ActivationRounding::None: return "f32";
  }
  return "f32";
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  CLI::App app("matmul GMAC/s on one 4096x4096 matrix per dtype, batch, strategy and kernel level (same run).");
  app.add_flag("--quick", quick, "Fewer repetitions");
  CLI11_PARSE(app, argc, argv);
  std::vector<std::string> isas;
  for (auto [isa, name] : {std::pair{helix::KernelIsa::Avx2, "avx2"},
                           {helix::KernelIsa::Avx512, "avx512"},
                           {helix::KernelIsa::Amx, "amx"}}) {
    if (helix::cpu_supports(isa)) isas.emplace_back(name);
  }
  helix::ThreadPool pool(2);
  std::printf("# matmul_bench: 2 threads, 4096x4096, GMAC/s (best of %d); * = the strategy matmul picks\n\n",
              quick ? 3 : 10);
  std::printf("| dtype | batch | isa | streaming | tiled-gemm | rounded (streaming / tiled) |\n|---|---:|---|---:|---:|---|\n");
  for (DType dtype : {DType::BF16, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
    const Matrix m = make_matrix(dtype);
    for (std::int64_t batch : {1, 4, 16, 64, 512}) {
      const int repeats = batch >= 512 ? (quick ? 1 : 3) : (quick ? 3 : 10);
      for (const std::string& isa : isas) {
        helix::override_kernel_isa(isa);
        const bool streams = helix::matmul_strategy(m.w, batch) == MatmulStrategy::Streaming;
        const double s = gmacs(m, batch, MatmulStrategy::Streaming, pool, repeats);
        const double t = gmacs(m, batch, MatmulStrategy::TiledGemm, pool, repeats);
        std::printf("| %s | %lld | %s | %.1f%s | %.1f%s | %s / %s |\n", std::string(helix::dtype_name(dtype)).c_str(),
                    static_cast<long long>(batch), isa.c_str(), s, streams ? " *" : "", t, streams ? "" : " *",
                    rounding_name(helix::matmul_activation_rounding(dtype, MatmulStrategy::Streaming)),
                    rounding_name(helix::matmul_activation_rounding(dtype, MatmulStrategy::TiledGemm)));
        std::fflush(stdout);
      }
    }
  }
  helix::override_kernel_isa("");
  return 0;
}
