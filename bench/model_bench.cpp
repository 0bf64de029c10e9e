// Whole-model benchmark: tokens/s of a 4-layer LLaMA-7B-shaped model with its
// embedding and LM head (32000 x 4096), the model issue 14 compares with llama.cpp,
// in BF16, Q8_0 and Q4_K_M (GGUF; the quantized ones written from the BF16 file by
// `helix model quantize`'s code), and on request Q4_0 and Q5_K_M (--variants).
// Measured, per dtype:
//   - prefill of 512 tokens (one chunk, logits of the last);
//   - batch-1 decode at context 128 (median step);
//   - batch-16 decode: 16 sequences at context 128, one token each per step.
// Baselines from the same run, so that machine noise can be divided out: the
// read bandwidth (every hardware thread streaming; batch-1 decode reads every
// weight once, so bytes / bandwidth is its floor) and OpenBLAS sgemm's rate on
// 4096 x 4096 x 512 (the f32 peak the prefill of float weights builds on).
// llama.cpp's figures printed are those issue 14 measured (v0.4.0, 2 threads, on a
// machine of this kind, not necessarily this CPU). To compare on the same CPU, run
// llama.cpp's llama-bench / llama-batched-bench on the files this writes, between
// runs of this program (docs/performance.md gives the commands).
//
// Usage: model_bench [work-dir] [--quick] [--variants bf16,q8_0,q4_k_m,q4_0,q5_k_m]
//        (writes ~3.8 GB of models there once, ~1.4 GB more with the last two)
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "baselines.h"
#include "helix/engine/quantize_model.h"
#include "helix/engine/random_model.h"
#include "helix/engine/stage_engine.h"
#include "helix/kernels/cpu_features.h"

namespace {

using helix::bench::Clock;
using helix::bench::median;
using helix::bench::seconds;
using helix::DType;

constexpr int kThreads = 2;
constexpr int kContext = 128;

// OpenBLAS sgemm GFLOP/s, 512 x 4096 activations by a 4096 x 4096 matrix, kThreads threads.
double sgemm_gflops() {
  openblas_set_num_threads(kThreads);
  const int m = 512, n = 4096, k = 4096;
  std::vector<float> a(static_cast<std::size_t>(m) * k, 0.5f), b(static_cast<std::size_t>(n) * k, 0.01f),
      c(static_cast<std::size_t>(m) * n);
  std::vector<double> runs;
  for (int r = 0; r < 6; ++r) {
    auto start = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c.data(), n);
    if (r > 0) runs.push_back(seconds(start));
  }
  openblas_set_num_threads(1);
  return 2.0 * m * n * k / median(runs) / 1e9;
}

struct Variant {
  const char* name;    // as printed
  const char* preset;  // helix model quantize preset ("bf16" = the BF16 file itself)
  // llama.cpp v0.4.0 on this machine kind, tokens/s (issue 14): prefill-512 low/high, batch-1 low/high, batch-16
  // (0: the issue gives none).
  double peer_prefill_low, peer_prefill_high, peer_b1_low, peer_b1_high, peer_b16;
};

// Q4_K_M has no llama.cpp figure in the issue; its bar there is Q8_0's figures and
// helix's own Q8_0 (decode >= 1.3x, prefill >= 1x). Q4_0 and Q5_K_M have none at all:
// compare them with llama.cpp run on the same files (docs/performance.md).
const Variant kVariants[] = {
    {"BF16", "bf16", 234, 290, 19, 21, 105},
    {"Q8_0", "q8_0", 134, 157, 31, 33, 79},
    {"Q4_K_M", "q4_k_m", 134, 157, 31, 33, 79},
    {"Q4_0", "q4_0", 0, 0, 0, 0, 0},
    {"Q5_K_M", "q5_k_m", 0, 0, 0, 0, 0},
};

// The variants whose presets are named, in kVariants' order.
std::vector<Variant> chosen_variants(const std::vector<std::string>& presets) {
  std::vector<Variant> out;
  for (const Variant& v : kVariants)
    if (std::find(presets.begin(), presets.end(), v.preset) != presets.end()) out.push_back(v);
  return out;
}

// "a-bx" against the llama.cpp range ("ax" against one figure), "-" where it gives none.
std::string versus(double helix, double low, double high) {
  if (low <= 0) return "-";
  char text[32];
  if (low == high) {
    std::snprintf(text, sizeof text, "%.2fx", helix / low);
  } else {
    std::snprintf(text, sizeof text, "%.2f-%.2fx", helix / high, helix / low);
  }
  return text;
}

std::filesystem::path model_file(const std::filesystem::path& dir, const Variant& v) {
  const std::filesystem::path bf16 = dir / "llama7b-4l-bf16";
  if (!std::filesystem::exists(bf16 / "model.gguf")) {
    helix::RandomModelOptions o;
    o.config = helix::random_model_preset("llama-7b-4l");
    o.dtype = DType::BF16;
    o.format = helix::WeightFormat::kGguf;
    o.seed = 1;
    auto start = Clock::now();
    helix::write_random_model(o, bf16);
    std::fprintf(stderr, "  wrote %s in %.1f s\n", bf16.c_str(), seconds(start));
  }
  if (std::string(v.preset) == "bf16") return bf16;
  const std::filesystem::path out = dir / ("llama7b-4l-" + std::string(v.preset));
  if (!std::filesystem::exists(out / "model.gguf")) {
    std::filesystem::create_directories(out);
    auto start = Clock::now();
    helix::quantize_gguf(bf16 / "model.gguf", out / "model.gguf", v.preset);
    std::fprintf(stderr, "  quantized %s in %.1f s\n", out.c_str(), seconds(start));
  }
  return out;
}

std::vector<int> tokens(int n, int salt) {
  std::vector<int> t(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = (i * 7919 + salt * 104729) % 32000;
  return t;
}

struct Figures {
  double prefill, b1, b16;  // tokens/s
  double weight_bytes;  // read per decode step
};

// Prefills `count` sequences of kContext tokens (ids first, first..first+count).
void prefill_sequences(helix::StageEngine& e, helix::SequenceId first, int count) {
  for (int s = 0; s < count; ++s) {
    auto t = tokens(kContext, s);
    helix::StepInput in;
    in.chunks = {{first + static_cast<helix::SequenceId>(s), 0, kContext, false}};
    in.tokens = t;
    e.step(in);
  }
}

// Median tokens/s of `steps` decode steps of sequences first..first+batch, all at kContext.
double decode_tokens_per_second(helix::StageEngine& e, helix::SequenceId first, int batch, int steps) {
  std::vector<double> runs;
  for (int step = 0; step < steps; ++step) {
    helix::StepInput in;
    auto t = tokens(batch, 1000 + step);
    for (int s = 0; s < batch; ++s) in.chunks.push_back({first + static_cast<helix::SequenceId>(s), kContext + step, 1, true});
    in.tokens = t;
    auto start = Clock::now();
    e.step(in);
    runs.push_back(seconds(start));
  }
  return batch / median(runs);
}

Figures measure(const std::filesystem::path& path, bool quick) {
  helix::EngineOptions eo;
  eo.threads = kThreads;
  eo.kv.capacity_tokens = 17 * (kContext + 16) + 1024;
  helix::ModelFiles files = helix::open_model(path);
  Figures f{};
  // What a decode step reads: every weight but the embedding table, of which it reads
  // one row per token (the LM head is its own tensor in these models).
  for (const auto& name : files.store->names()) {
    if (name == "token_embd.weight" || name == "model.embed_tokens.weight") continue;
    f.weight_bytes += static_cast<double>(files.store->at(name).nbytes);
  }
  const int layers = files.config.num_layers;
  helix::StageEngine e(std::move(files), {0, layers}, eo);
  std::vector<double> prefill;
  for (int r = 0; r < (quick ? 1 : 3); ++r) {
    auto t = tokens(512, 50 + r);
    const helix::SequenceId id = 900 + static_cast<helix::SequenceId>(r);
    helix::StepInput in;
    in.chunks = {{id, 0, 512, true}};
    in.tokens = t;
    auto start = Clock::now();
    e.step(in);
    prefill.push_back(512 / seconds(start));
    e.release(id);
  }
  f.prefill = median(prefill);
  prefill_sequences(e, 1, 16);
  f.b1 = decode_tokens_per_second(e, 1, 1, quick ? 6 : 16);
  for (helix::SequenceId s = 1; s <= 16; ++s) e.release(s);
  prefill_sequences(e, 100, 16);
  f.b16 = decode_tokens_per_second(e, 100, 16, quick ? 3 : 8);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir_name = (std::filesystem::temp_directory_path() / "helix-model-bench").string();
  bool quick = false;
  std::vector<std::string> variant_names = {"bf16", "q8_0", "q4_k_m"};
  CLI::App app("Whole-model tokens/s (4-layer LLaMA-7B-shaped, with LM head) in BF16, Q8_0 and Q4_K_M, beside the "
               "read bandwidth and sgemm rate of the same run and llama.cpp's figures from issue 14.");
  app.add_option("work-dir", dir_name, "Folder for the generated model files (~3.8 GB, written once)")
      ->capture_default_str();
  app.add_flag("--quick", quick, "Fewer repetitions");
  app.add_option("--variants", variant_names, "Comma-separated model files to measure")
      ->delimiter(',')
      ->check(CLI::IsMember({"bf16", "q8_0", "q4_k_m", "q4_0", "q5_k_m"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const std::vector<Variant> variants = chosen_variants(variant_names);
  const std::filesystem::path dir = std::filesystem::path(dir_name).lexically_normal();
  std::filesystem::create_directories(dir);
  for (const Variant& v : variants) model_file(dir, v);  // write before measuring: no disk traffic in the runs

  const double read_bw = helix::bench::read_bandwidth(), gflops = sgemm_gflops();
  std::printf("# model_bench: kernels %s, %d threads, models in %s\n\n", std::string(helix::kernel_isa()).c_str(),
              kThreads, dir.c_str());
  std::printf("Baselines of this run: read bandwidth %.1f GB/s, OpenBLAS sgemm %.0f GFLOP/s (4096x4096, M=512)\n\n",
              read_bw / 1e9, gflops);
  std::printf("| dtype | GB read per step | prefill-512 tok/s | vs llama.cpp | batch-1 tok/s | %% of read-bw bound | vs "
              "llama.cpp | batch-16 tok/s | vs llama.cpp |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  double q8_b1 = 0, q8_prefill = 0;
  for (const Variant& v : variants) {
    const Figures f = measure(model_file(dir, v), quick);
    const double bound = read_bw / f.weight_bytes;  // tokens/s if decode only read the weights, at bandwidth
    std::printf("| %s | %.2f | %.0f | %s | %.1f | %.0f%% | %s | %.1f | %s |\n", v.name, f.weight_bytes / 1e9, f.prefill,
                versus(f.prefill, v.peer_prefill_low, v.peer_prefill_high).c_str(), f.b1, 100 * f.b1 / bound,
                versus(f.b1, v.peer_b1_low, v.peer_b1_high).c_str(), f.b16,
                versus(f.b16, v.peer_b16, v.peer_b16).c_str());
    std::fflush(stdout);
    if (std::string(v.name) == "Q8_0") q8_b1 = f.b1, q8_prefill = f.prefill;
    if (std::string(v.name) == "Q4_K_M" && q8_b1 > 0) {
      std::printf("\nQ4_K_M vs helix Q8_0: batch-1 decode %.2fx (target >= 1.3x), prefill %.2fx (target >= 1x)\n",
                  f.b1 / q8_b1, f.prefill / q8_prefill);
    }
  }
  std::printf("\nllama.cpp (issue 14, same machine kind, not this run): BF16 234-290 / 19-21 / 105, Q8_0 134-157 / "
              "31-33 / 79 tokens/s (prefill-512 / batch-1 / batch-16).\n");
  return 0;
}
