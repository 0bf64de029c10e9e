// GPU engine benchmark (issue 15) on a LLaMA-7B-shaped model (hidden 4096, MLP
// 11008, 32 heads, vocab 32000) of --layers layers, the whole model in one GPU
// stage: token ids in, logits out, every step timed on the host around
// CudaStageEngine::step() (what a worker gets). Each figure is a ratio against a
// baseline measured on the same device in the same run:
//   - batch-1 decode: the bytes of weights a token reads (every matrix, LM head
//     included; the embedding is read by rows) per second, against the device's
//     copy bandwidth (cudaMemcpy device to device of 1 GiB: bytes read + written per
//     second). Issue 15's bar: >= 70%.
//   - prefill of 512 tokens: against cuBLAS's BF16 GEMM (GemmEx, bf16 x bf16, f32
//     out and sums, the engine's call) on the layers' 7 shapes at M = 512, times the
//     layers. Bar: >= 60%.
//   - decode throughput at batch 1..64 (context 128): bar, batch 64 >= 10x batch 1.
// BF16 and Q8_0 weights by default, every other block type on request (GGUF files
// written by `helix model init`'s code, reused); each with an f32 and an f16 KV
// cache (--kv-dtypes), whose prefill attention runs on the CUDA cores and on the
// tensor cores (cuda/attention.h). --preset picks another shape (the
// GEMM baseline follows it): `tiny` is for gpu_engine_bench_emulated, the same
// benchmark on the CUDA emulator, which CI runs to show that it runs through (its
// figures are the emulator's, no GPU's).
//
// Usage: gpu_engine_bench [work-dir] [--layers N] [--device N] [--dtypes bf16,q8_0,q4_0,q4_k,...] [--quick]
//                         [--kv-dtypes f32,f16] [--preset llama-7b-1l|small|tiny]
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "helix/cuda/cuda_stage_engine.h"
#include "helix/cuda/device.h"
#include "helix/engine/random_model.h"
#include "helix/weights/dtype.h"
#include "../baselines.h"

namespace {

using helix::bench::Clock;
using helix::bench::median;
using helix::bench::seconds;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "gpu_engine_bench: %s: %s\n", what, cudaGetErrorString(status));
    std::exit(1);
  }
}

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "gpu_engine_bench: %s: %s\n", what, cublasGetStatusString(status));
    std::exit(1);
  }
}

// Seconds per run of `work` on the device (CUDA events), the median of `runs` after one warm-up.
template <typename Work>
double device_seconds(int runs, Work&& work) {
  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> times;
  for (int r = 0; r <= runs; ++r) {
    check(cudaEventRecord(start), "cudaEventRecord");
    work();
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.0f;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (r > 0) times.push_back(ms * 1e-3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return median(times);
}

// Bytes read plus bytes written per second by a device-to-device copy of `mib` MiB.
double copy_bandwidth(int mib) {
  const std::size_t bytes = static_cast<std::size_t>(mib) << 20;
  void *from = nullptr, *to = nullptr;
  check(cudaMalloc(&from, bytes), "cudaMalloc");
  check(cudaMalloc(&to, bytes), "cudaMalloc");
  check(cudaMemset(from, 1, bytes), "cudaMemset");
  const double s = device_seconds(10, [&] { check(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice), "copy"); });
  cudaFree(from);
  cudaFree(to);
  return 2.0 * static_cast<double>(bytes) / s;
}

struct Shape {
  int rows, cols;
};

// A layer's 7 matrices: q, k, v, o, gate, up, down.
std::vector<Shape> layer_shapes(const helix::LlamaConfig& c) {
  const int h = c.hidden_size, q = c.q_dim(), kv = c.kv_dim(), m = c.intermediate_size;
  return {{q, h}, {kv, h}, {kv, h}, {h, q}, {m, h}, {m, h}, {h, m}};
}

double layer_params(const std::vector<Shape>& layer) {
  double n = 0.0;
  for (const Shape& s : layer) n += static_cast<double>(s.rows) * s.cols;
  return n;
}

// cuBLAS GemmEx of m bf16 rows by the layer's 7 matrices: seconds per layer.
double gemm_layer_seconds(const std::vector<Shape>& layer, int m) {
  cublasHandle_t h = nullptr;
  check(cublasCreate(&h), "cublasCreate");
  std::vector<void*> weights;
  void *x = nullptr, *y = nullptr;
  int widest = 0;
  for (const Shape& s : layer) widest = std::max({widest, s.rows, s.cols});
  for (const Shape& s : layer) {
    void* w = nullptr;
    check(cudaMalloc(&w, std::size_t(s.rows) * std::size_t(s.cols) * 2), "cudaMalloc");
    check(cudaMemset(w, 0x3c, std::size_t(s.rows) * std::size_t(s.cols) * 2), "cudaMemset");  // bf16 ~0.01
    weights.push_back(w);
  }
  check(cudaMalloc(&x, std::size_t(m) * std::size_t(widest) * 2), "cudaMalloc");
  check(cudaMemset(x, 0x3f, std::size_t(m) * std::size_t(widest) * 2), "cudaMemset");
  check(cudaMalloc(&y, std::size_t(m) * std::size_t(widest) * 4), "cudaMalloc");
  const float one = 1.0f, zero = 0.0f;
  const double s = device_seconds(10, [&] {
    for (std::size_t i = 0; i < layer.size(); ++i) {
      check(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, layer[i].rows, m, layer[i].cols, &one, weights[i], CUDA_R_16BF,
                         layer[i].cols, x, CUDA_R_16BF, layer[i].cols, &zero, y, CUDA_R_32F, layer[i].rows,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx");
    }
  });
  for (void* w : weights) cudaFree(w);
  cudaFree(x);
  cudaFree(y);
  cublasDestroy(h);
  return s;
}

std::filesystem::path make_model(const std::filesystem::path& dir, const std::string& preset, helix::DType dtype,
                                 int layers) {
  std::string name = preset + "-" + std::to_string(layers) + "l-" + std::string(helix::dtype_name(dtype));
  auto out = dir / name;
  if (std::filesystem::exists(out / "model.gguf")) return out;
  std::filesystem::remove_all(out);
  helix::RandomModelOptions o;
  o.config = helix::random_model_preset(preset);
  o.config.num_layers = layers;
  o.dtype = dtype;
  o.format = helix::WeightFormat::kGguf;
  o.seed = 1;
  const auto start = Clock::now();
  helix::write_random_model(o, out);
  std::printf("  wrote %s in %.1f s\n", out.c_str(), seconds(start));
  return out;
}

// Bytes a decode token reads: every tensor but the embedding table (read by rows).
std::size_t weight_bytes(const helix::ModelFiles& files) {
  std::size_t bytes = 0;
  for (const std::string& name : files.store->names()) {
    if (name.find("token_embd") == std::string::npos) bytes += files.store->at(name).nbytes;
  }
  return bytes;
}

std::vector<int> token_ids(int n, int vocab, int salt) {
  std::vector<int> t(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = (i * 37 + salt * 101 + 5) % vocab;
  return t;
}

struct Run {
  helix::CudaStageEngine& engine;
  int vocab;
  helix::SequenceId next = 1;
};

// Decodes `batch` sequences that already hold `context` tokens: seconds per step
// (the median of `steps`, after one warm-up step that captures the graph).
double decode_step_seconds(Run& r, int batch, int context, int steps) {
  std::vector<helix::SequenceId> ids;
  for (int b = 0; b < batch; ++b) {
    const std::vector<int> prompt = token_ids(context, r.vocab, b);
    helix::StepInput in;
    in.chunks = {{r.next, 0, context, false}};
    in.tokens = prompt;
    r.engine.step(in);
    ids.push_back(r.next++);
  }
  const std::vector<int> next_tokens = token_ids(batch, r.vocab, 7);
  std::vector<double> times;
  for (int step = 0; step <= steps; ++step) {
    helix::StepInput in;
    for (auto id : ids) in.chunks.push_back({id, context + step, 1, true});
    in.tokens = next_tokens;
    const auto start = Clock::now();
    r.engine.step(in);
    if (step > 0) times.push_back(seconds(start));
  }
  for (auto id : ids) r.engine.release(id);
  return median(times);
}

double prefill_seconds(Run& r, int tokens, int repeats) {
  const std::vector<int> prompt = token_ids(tokens, r.vocab, 3);
  std::vector<double> times;
  for (int rep = 0; rep <= repeats; ++rep) {
    helix::StepInput in;
    in.chunks = {{r.next, 0, tokens, true}};
    in.tokens = prompt;
    const auto start = Clock::now();
    r.engine.step(in);
    if (rep > 0) times.push_back(seconds(start));
    r.engine.release(r.next++);
  }
  return median(times);
}

const char* verdict(bool met) { return met ? "met" : "NOT met"; }

// What every engine's figures share: the run's settings and its baselines.
struct Measures {
  int device = 0, layers = 0;
  bool quick = false;
  double copy_bw = 0.0;     // bytes read + written per second
  double gemm_layer = 0.0;  // seconds of cuBLAS BF16 GEMM on a layer's shapes at M = 512
};

// One stage of `path`'s weights (of `dtype`) with a KV cache of `kv_dtype`: its
// figures and its summary line against the baselines.
void measure_engine(const Measures& m, const std::filesystem::path& path, helix::DType dtype,
                    const std::string& kv_dtype) {
  const std::vector<int> batches = m.quick ? std::vector<int>{1, 8, 64} : std::vector<int>{1, 2, 4, 8, 16, 32, 64};
  const int context = 128, steps = m.quick ? 10 : 30;
  helix::ModelFiles files = helix::open_model(path);
  const std::size_t bytes = weight_bytes(files);
  const int vocab = files.config.vocab_size;
  helix::CudaEngineOptions o;
  o.device = m.device;
  o.kv.capacity_tokens = 64 * (context + steps + 2) + 1024;
  o.kv.dtype = helix::parse_kv_dtype(kv_dtype, "--kv-dtypes");
  helix::CudaStageEngine engine(std::move(files), {0, m.layers}, o);
  Run r{engine, vocab};
  const std::string type(helix::dtype_name(dtype));
  const double d1 = decode_step_seconds(r, 1, context, steps);
  const double bw = static_cast<double>(bytes) / d1;
  std::printf("%s (KV cache %s): %.2f GB of weights per token\n", type.c_str(), kv_dtype.c_str(),
              static_cast<double>(bytes) / 1e9);
  std::printf("  decode batch 1 (context %d): %.3f ms/token, %.0f GB/s = %.0f%% of the copy bandwidth\n", context,
              d1 * 1e3, bw / 1e9, 100 * bw / m.copy_bw);
  const double p512 = prefill_seconds(r, 512, m.quick ? 2 : 5);
  const double gemm_all = m.gemm_layer * m.layers;
  std::printf("  prefill 512 tokens: %.2f ms = %.0f%% of cuBLAS BF16 GEMM on the same shapes (%.2f ms)\n", p512 * 1e3,
              100 * gemm_all / p512, gemm_all * 1e3);
  std::printf("  decode scaling (context %d):\n  %6s %12s %12s %8s\n", context, "batch", "ms/step", "tokens/s", "x b=1");
  double b64 = 0.0;
  for (int b : batches) {
    const double t = b == 1 ? d1 : decode_step_seconds(r, b, context, m.quick ? 6 : 12);
    std::printf("  %6d %12.3f %12.1f %8.2f\n", b, t * 1e3, b / t, (b / t) * d1);
    if (b == 64) b64 = (b / t) * d1;
  }
  std::printf("  graph replays %ld%s%s\n", engine.graph_replays(),
              engine.graph_failure().empty() ? "" : "; capture failed: ", engine.graph_failure().c_str());
  std::printf("summary %s (KV %s): decode b1 %.0f%% of copy bandwidth (bar 70%%: %s); prefill-512 %.0f%% of cuBLAS "
              "BF16 GEMM (bar 60%%: %s); batch 64 %.1fx batch 1 (bar 10x: %s)\n\n",
              type.c_str(), kv_dtype.c_str(), 100 * bw / m.copy_bw, verdict(bw / m.copy_bw >= 0.7),
              100 * gemm_all / p512, verdict(gemm_all / p512 >= 0.6), b64, verdict(b64 >= 10.0));
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir_name = (std::filesystem::temp_directory_path() / "helix-gpu-bench").string();
  int layers = 8, device = 0;
  bool quick = false;
  std::vector<std::string> dtype_names = {"bf16", "q8_0"};
  std::vector<std::string> kv_dtype_names = {"f32", "f16"};
  std::string preset = "llama-7b-1l";
  int copy_mib = 1024;
  CLI::App app("GPU engine benchmark on a LLaMA-7B-shaped model: every figure a ratio against a baseline measured on "
               "the same device in the same run. Writes ~4 GB of model files per dtype into the work folder.");
  app.add_option("work-dir", dir_name, "Folder for the generated model files")->capture_default_str();
  app.add_option("--layers", layers, "Layers of the model")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--device", device, "CUDA device index")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_flag("--quick", quick, "Fewer batch sizes and repetitions");
  app.add_option("--dtypes", dtype_names, "Weight types to run: bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k")
      ->delimiter(',')
      ->check(CLI::IsMember({"bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"}))
      ->capture_default_str();
  app.add_option("--kv-dtypes", kv_dtype_names,
                 "What the KV cache stores, each in turn: f32, f16 (an f16 cache's prefill attention runs on the "
                 "tensor cores)")
      ->delimiter(',')
      ->check(CLI::IsMember({"f32", "f16"}))
      ->capture_default_str();
  app.add_option("--copy-mib", copy_mib, "MiB of the device-to-device copy that measures the bandwidth")
      ->check(CLI::Range(1, 16384))
      ->capture_default_str();
  app.add_option("--preset", preset, "The model's shape, a `helix model init` preset (its layers: --layers)")
      ->check(CLI::IsMember(helix::random_model_preset_names()))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Line by line into gpu_check.sh's log: a run its timeout stops keeps what it printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  const helix::CudaDevices found = helix::cuda_devices();
  if (found.devices.empty()) {
    std::fprintf(stderr, "gpu_engine_bench: no CUDA device: %s\n", found.why_none.c_str());
    return 1;
  }
  if (device >= static_cast<int>(found.devices.size())) {
    std::fprintf(stderr, "gpu_engine_bench: --device %d: only %zu CUDA device(s)\n", device, found.devices.size());
    return 1;
  }
  helix::use_cuda_device(device);
  const helix::CudaDevice& d = found.devices[static_cast<std::size_t>(device)];
  const std::filesystem::path dir = std::filesystem::path(dir_name).lexically_normal();
  std::filesystem::create_directories(dir);
  std::printf("gpu_engine_bench: cuda:%d %s (%.0f GiB, compute %d.%d), %d layers, models in %s\n", device,
              d.name.c_str(), static_cast<double>(d.memory_bytes) / (1 << 30), d.compute_major, d.compute_minor, layers,
              dir.c_str());
  const std::vector<Shape> layer = layer_shapes(helix::random_model_preset(preset));
  const double copy_bw = copy_bandwidth(copy_mib);
  const double gemm_layer = gemm_layer_seconds(layer, 512);
  const double layer_flops = 2.0 * 512 * layer_params(layer);
  std::printf("baselines: copy %.0f GB/s (read + written), cuBLAS BF16 GEMM M=512 on a layer's 7 shapes (%s) %.3f ms "
              "(%.3g TFLOP/s)\n\n",
              copy_bw / 1e9, preset.c_str(), gemm_layer * 1e3, layer_flops / gemm_layer / 1e12);

  const Measures measures{device, layers, quick, copy_bw, gemm_layer};
  for (const std::string& dtype_name : dtype_names) {
    const helix::DType dtype = *helix::parse_dtype(dtype_name);  // a member of --dtypes' list
    const auto path = make_model(dir, preset, dtype, layers);
    for (const std::string& kv_dtype : kv_dtype_names) measure_engine(measures, path, dtype, kv_dtype);
  }
  std::printf("gpu_engine_bench: done\n");
  return 0;
}
