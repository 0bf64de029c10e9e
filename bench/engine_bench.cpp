// Engine benchmark on a LLaMA-7B-shaped layer (hidden 4096, MLP 11008, 32 heads),
// every figure a ratio against a baseline measured in the same run:
//   - batch-1 decode vs the memory-bandwidth floor (layer weight bytes / read
//     bandwidth of this machine: every hardware thread streaming 256-bit loads);
//   - prefill of 512 tokens vs OpenBLAS sgemm (2 threads) on the layer's 7 matrices;
//   - decode throughput for batch 1..64;
//   - long-context decode (Q8_0 layer, context 2048) with the KV cache in f32 and in
//     f16, each against its floor: (weight bytes + the cached keys and values the
//     step reads) / read bandwidth.
// BF16 (safetensors), Q8_0 and Q4_K (GGUF) weights; the stage is the middle layer of a
// 3-layer random model written by `helix model init`'s code, fed hidden states.
//
// Usage: engine_bench [work-dir] [--quick] [--long-context-only]   (writes ~2.6 GB of model files there; --help)
#include <cblas.h>

#include <CLI/CLI.hpp>

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "helix/engine/random_model.h"
#include "helix/engine/stage_engine.h"
#include "helix/kernels/cpu_features.h"
#include "baselines.h"

namespace {

using helix::DType;
using helix::bench::Clock;
using helix::bench::copy_bandwidth;
using helix::bench::median;
using helix::bench::read_bandwidth;
using helix::bench::seconds;

struct Shape {
  int rows, cols;
};
const std::vector<Shape> kLayer = {{4096, 4096}, {4096, 4096}, {4096, 4096}, {4096, 4096},
                                   {11008, 4096}, {11008, 4096}, {4096, 11008}};

// OpenBLAS sgemm (2 threads) of M x K activations by every matrix of the layer.
double sgemm_layer_seconds(int m) {
  openblas_set_num_threads(2);
  std::vector<std::vector<float>> w;
  for (const Shape& s : kLayer) w.emplace_back(static_cast<std::size_t>(s.rows) * static_cast<std::size_t>(s.cols), 0.01f);
  std::vector<float> x(static_cast<std::size_t>(m) * 11008, 0.5f), y(static_cast<std::size_t>(m) * 11008);
  std::vector<double> runs;
  for (int r = 0; r < 4; ++r) {
    auto start = Clock::now();
    for (std::size_t i = 0; i < kLayer.size(); ++i) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, kLayer[i].rows, kLayer[i].cols, 1.0f, x.data(),
                  kLayer[i].cols, w[i].data(), kLayer[i].cols, 0.0f, y.data(), kLayer[i].rows);
    }
    if (r > 0) runs.push_back(seconds(start));
  }
  openblas_set_num_threads(1);
  return median(runs);
}

std::filesystem::path make_model(const std::filesystem::path& dir, DType dtype) {
  const bool gguf = helix::is_block_quantized(dtype);
  std::string name = "llama7b-3l-" + std::string(helix::dtype_name(dtype));
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto out = dir / name;
  if (std::filesystem::exists(out / (gguf ? "model.gguf" : "config.json"))) return out;
  std::filesystem::remove_all(out);
  helix::RandomModelOptions o;
  o.config = helix::random_model_preset("llama-7b-1l");
  o.config.num_layers = 3;
  o.dtype = dtype;
  o.format = gguf ? helix::WeightFormat::kGguf : helix::WeightFormat::kSafetensors;
  o.seed = 1;
  auto start = Clock::now();
  helix::write_random_model(o, out);
  std::printf("  wrote %s in %.1f s\n", out.c_str(), seconds(start));
  return out;
}

struct StageRun {
  helix::StageEngine engine;
  std::size_t weight_bytes = 0;
  helix::SequenceId next = 1;
};

std::vector<float> hidden_rows(int n) {
  std::vector<float> h(static_cast<std::size_t>(n) * 4096);
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<float>((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  return h;
}

// Decodes `batch` sequences that already hold `context` tokens: seconds per step.
double decode_step_seconds(StageRun& s, int batch, int context, int steps) {
  auto prefix = hidden_rows(context);
  std::vector<helix::SequenceId> ids;
  for (int b = 0; b < batch; ++b) {
    helix::StepInput in;
    in.chunks = {{s.next, 0, context, false}};
    in.hidden = prefix;
    s.engine.step(in);
    ids.push_back(s.next++);
  }
  auto one = hidden_rows(batch);
  std::vector<double> runs;
  for (int step = 0; step < steps; ++step) {
    helix::StepInput in;
    for (auto id : ids) in.chunks.push_back({id, context + step, 1, false});
    in.hidden = one;
    auto start = Clock::now();
    s.engine.step(in);
    runs.push_back(seconds(start));
  }
  for (auto id : ids) s.engine.release(id);
  return median(runs);
}

double prefill_seconds(StageRun& s, int tokens, int repeats) {
  auto rows = hidden_rows(tokens);
  std::vector<double> runs;
  for (int r = 0; r < repeats; ++r) {
    helix::StepInput in;
    in.chunks = {{s.next, 0, tokens, false}};
    in.hidden = rows;
    auto start = Clock::now();
    s.engine.step(in);
    runs.push_back(seconds(start));
    s.engine.release(s.next++);
  }
  return median(runs);
}

// Decode over long contexts, where attention reads more bytes of keys and values than
// the layer has weights: the same Q8_0 layer with an f32 and an f16 cache.
void long_context_decode(const std::filesystem::path& dir, double read_bw, bool quick) {
  const int context = 2048;
  const std::vector<int> batches = quick ? std::vector<int>{1} : std::vector<int>{1, 4};
  std::printf("long-context decode, Q8_0 layer, context %d: KV cache f32 vs f16\n", context);
  std::printf("  %5s %6s %12s %14s %10s\n", "kv", "batch", "ms/step", "KV MB read", "of floor");
  std::vector<std::vector<double>> step_s(2);
  for (helix::KvDtype kv : {helix::KvDtype::F32, helix::KvDtype::F16}) {
    helix::EngineOptions eo;
    eo.threads = 2;
    eo.kv.capacity_tokens = 4 * (context + 32) + 64;
    eo.kv.dtype = kv;
    helix::ModelFiles files = helix::open_model(make_model(dir, DType::Q8_0));
    std::size_t bytes = 0;
    for (const auto& name : files.store->names())
      if (name.find("blk.1.") != std::string::npos) bytes += files.store->at(name).nbytes;
    StageRun s{helix::StageEngine(std::move(files), {1, 2}, eo), bytes};
    const double kv_bytes_per_token =
        static_cast<double>(helix::kv_bytes_per_token(1, s.engine.config().kv_dim(), kv));
    for (int b : batches) {
      const double t = decode_step_seconds(s, b, context, quick ? 4 : 8);
      const double kv_read = kv_bytes_per_token * b * (context + 1);
      const double floor_s = (static_cast<double>(bytes) + kv_read) / read_bw;
      std::printf("  %5s %6d %12.2f %14.0f %9.0f%%\n", helix::kv_dtype_name(kv), b, t * 1e3, kv_read / 1e6,
                  100 * floor_s / t);
      step_s[kv == helix::KvDtype::F16 ? 1 : 0].push_back(t);
    }
  }
  for (std::size_t i = 0; i < batches.size(); ++i)
    std::printf("  batch %d: the f16 cache steps %.2fx as fast as the f32 one\n", batches[i], step_s[0][i] / step_s[1][i]);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir_name = (std::filesystem::temp_directory_path() / "helix-engine-bench").string();
  bool quick = false, long_context_only = false;
  CLI::App app("Engine benchmark on a LLaMA-7B-shaped layer; every figure a ratio against a baseline measured in "
               "the same run. Writes ~2.6 GB of model files into the work folder.");
  app.add_option("work-dir", dir_name, "Folder for the generated model files")->capture_default_str();
  app.add_flag("--quick", quick, "Fewer batch sizes and repetitions");
  app.add_flag("--long-context-only", long_context_only, "Only the long-context decode (f32 vs f16 KV cache) and its baseline");
  CLI11_PARSE(app, argc, argv);
  const std::filesystem::path dir = std::filesystem::path(dir_name).lexically_normal();
  std::filesystem::create_directories(dir);
  std::printf("engine_bench: kernels %s, 2 threads, models in %s\n", std::string(helix::kernel_isa()).c_str(), dir.c_str());
  double copy_bw = copy_bandwidth(), read_bw = read_bandwidth();
  std::printf("streaming read %.1f GB/s (all %u hardware threads), memcpy %.1f GB/s (bytes read)\n", read_bw / 1e9,
              std::max(1U, std::thread::hardware_concurrency()), copy_bw / 1e9);
  if (long_context_only) {
    long_context_decode(dir, read_bw, quick);
    return 0;
  }
  double sgemm512 = sgemm_layer_seconds(512);
  std::printf("OpenBLAS sgemm, 7 layer matrices, M=512: %.1f ms (%.1f GFLOP/s)\n\n", sgemm512 * 1e3,
              2.0 * 512 * 202383360.0 / sgemm512 / 1e9);
  const std::vector<int> batches = quick ? std::vector<int>{1, 8, 64} : std::vector<int>{1, 2, 4, 8, 16, 32, 64};
  for (DType dtype : {DType::BF16, DType::Q8_0, DType::Q4_K}) {
    auto path = make_model(dir, dtype);
    helix::EngineOptions eo;
    eo.threads = 2;
    eo.kv.capacity_tokens = 64 * 160 + 1024;
    helix::ModelFiles files = helix::open_model(path);
    std::size_t bytes = 0;
    for (const auto& name : files.store->names()) {
      if (name.find("layers.1.") != std::string::npos || name.find("blk.1.") != std::string::npos) {
        bytes += files.store->at(name).nbytes;
      }
    }
    StageRun s{helix::StageEngine(std::move(files), {1, 2}, eo), bytes};
    // The floor is the machine's read bandwidth: decode reads the weights once.
    double floor_s = static_cast<double>(bytes) / read_bw;
    double d1 = decode_step_seconds(s, 1, 128, quick ? 8 : 20);
    std::printf("%s layer: %.1f MB of weights, floor %.2f ms (read bw), %.2f ms (copy bw)\n",
                std::string(helix::dtype_name(dtype)).c_str(), static_cast<double>(bytes) / 1e6, floor_s * 1e3,
                static_cast<double>(bytes) / copy_bw * 1e3);
    std::printf("  decode batch 1 (context 128): %.2f ms/token = %.0f%% of the read-bandwidth floor, %.1f GB/s\n",
                d1 * 1e3, 100 * floor_s / d1, static_cast<double>(bytes) / d1 / 1e9);
    double p512 = prefill_seconds(s, 512, quick ? 1 : 3);
    std::printf("  prefill 512 tokens: %.1f ms = %.0f%% of OpenBLAS sgemm speed on the same shapes (%.1f ms)\n",
                p512 * 1e3, 100 * sgemm512 / p512, sgemm512 * 1e3);
    std::printf("  decode scaling (context 128):\n  %6s %12s %12s %8s\n", "batch", "ms/step", "tokens/s", "x b=1");
    for (int b : batches) {
      double t = b == 1 ? d1 : decode_step_seconds(s, b, 128, quick ? 4 : 8);
      std::printf("  %6d %12.2f %12.1f %8.2f\n", b, t * 1e3, b / t, (b / t) / (1 / d1));
    }
    std::printf("\n");
  }
  long_context_decode(dir, read_bw, quick);
  return 0;
}
