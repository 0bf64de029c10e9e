#include "helix/perf/first_principles.h"

#include <algorithm>
#include <cmath>

#include "helix/core/error.h"

namespace helix {
namespace {

// The paper's x grids (§1.4): prompt tokens 0..15000 step 250 (the longest paper
// table), decode sequences 0,2..20, 25..100 step 5, 120..800 step 20.
std::vector<int> prompt_grid() {
  std::vector<int> xs;
  for (int x = 0; x <= 15000; x += 250) xs.push_back(x);
  return xs;
}

std::vector<int> decode_grid() {
  std::vector<int> xs;
  for (int x = 0; x <= 20; x += 2) xs.push_back(x);
  for (int x = 25; x <= 100; x += 5) xs.push_back(x);
  for (int x = 120; x <= 800; x += 20) xs.push_back(x);
  return xs;
}

// Everything the formulas need, checked once.
struct Inputs {
  double layer_bytes = 0;   // W
  double layer_params = 0;  // P
  double kv_bytes = 0;      // per token per layer
  double flops = 0;         // effective: e_c * peak
  double bandwidth = 0;     // effective: e_m * BW
  const FirstPrinciplesConstants* c = nullptr;
};

double prompt_time(const Inputs& in, int tokens) {
  if (tokens == 0) return 0;  // the tables start at (0, 0)
  double compute = 2 * in.layer_params * tokens / in.flops;
  double weights = in.layer_bytes / in.bandwidth;
  return std::max(compute, weights) + in.c->overhead_s;
}

double decode_time(const Inputs& in, int sequences) {
  if (sequences == 0) return 0;
  double bytes = in.layer_bytes + sequences * in.c->decode_context_tokens * in.kv_bytes;
  double compute = 2 * in.layer_params * sequences / in.flops;
  return bytes / in.bandwidth + compute + in.c->overhead_s;
}

LayerTimeTable sample(const Inputs& in, const std::vector<int>& grid,
                      double (*time)(const Inputs&, int), const std::string& name) {
  std::vector<LayerTimeTable::Point> points;
  for (int x : grid) points.push_back({x, time(in, x)});
  return LayerTimeTable(std::move(points), name);
}

// vLLM blocks with k layers loaded: memory left after weights and the reserve,
// over one block's bytes (16 tokens on each of k layers).
long long vllm_blocks(const GpuType& gpu, const Inputs& in, int k) {
  double free_bytes = in.c->vram_utilization * gpu.vram_bytes - k * in.layer_bytes -
                      in.c->reserve_bytes;
  if (free_bytes <= 0) return 0;
  return static_cast<long long>(std::floor(free_bytes / (kVllmBlockSize * k * in.kv_bytes)));
}

// §1.6: weights take at most half the VRAM; also every k must leave room for KV.
int max_layers(const ModelSpec& model, const GpuType& gpu, const Inputs& in) {
  double half = std::floor(gpu.vram_bytes / 2 / in.layer_bytes);
  int k = static_cast<int>(std::min<double>(half, model.num_layers));
  while (k > 0 && vllm_blocks(gpu, in, k) < 1) --k;
  return k;
}

int decode_max_tokens(long long blocks, const FirstPrinciplesConstants& c) {
  long long per_layer_tokens = blocks * kVllmBlockSize;
  long long n = per_layer_tokens / kDecodePerTokenMaxContext;
  if (n >= 10) n -= n % 10;
  return static_cast<int>(std::clamp<long long>(n, 1, c.max_decode_tokens));
}

int prompt_max_requests(const Inputs& in) {
  double per_prompt = prompt_time(in, kMaxInputLen);
  double n = std::floor(in.c->prompt_budget_s / per_prompt);
  return static_cast<int>(std::clamp(n, 1.0, double(in.c->max_prompt_requests)));
}

void check_datasheet(const GpuType& gpu) {
  auto positive = [](double v) { return v > 0 && std::isfinite(v); };
  if (!positive(gpu.vram_bytes) || !positive(gpu.mem_bandwidth_Bps) || !positive(gpu.peak_flops)) {
    fail("machine type '{}' has no measured profile for this model and lacks datasheet numbers "
         "for a first-principles estimate (vram {} B, memory bandwidth {} B/s, peak {} FLOP/s; "
         "all must be > 0)",
         gpu.name, gpu.vram_bytes, gpu.mem_bandwidth_Bps, gpu.peak_flops);
  }
}

Inputs make_inputs(const ModelSpec& model, const GpuType& gpu, const FirstPrinciplesConstants& c) {
  if (model.num_layers <= 0 || !(model.layer_param_bytes > 0) || model.dtype_bytes <= 0) {
    fail("model '{}': layers, layer bytes and dtype size must be > 0 for a first-principles "
         "profile", model.name);
  }
  Inputs in;
  in.layer_bytes = model.layer_param_bytes;
  // Quantized weights take a fraction of a byte per parameter: the count comes from the spec.
  in.layer_params = model.layer_params > 0 ? model.layer_params : model.layer_param_bytes / model.dtype_bytes;
  in.kv_bytes = estimate_kv_bytes_per_token_per_layer(model);
  in.flops = c.compute_efficiency * gpu.peak_flops;
  in.bandwidth = c.memory_efficiency * gpu.mem_bandwidth_Bps;
  in.c = &c;
  return in;
}

}  // namespace

double estimate_kv_bytes_per_token_per_layer(const ModelSpec& model) {
  if (model.kv_bytes_per_token_per_layer > 0) return model.kv_bytes_per_token_per_layer;
  double dtype = model.dtype_bytes > 0 ? model.dtype_bytes : 2;
  if (model.num_kv_heads > 0 && model.head_dim > 0) {
    return 2.0 * model.num_kv_heads * model.head_dim * dtype;
  }
  // The paper's presets carry no head counts; their published architectures do.
  if (model.profile_key == "llama2_70b") return 2.0 * 8 * 128 * 2;
  if (model.profile_key == "llama1_30b") return 2.0 * 6656 * 2;
  if (model.hidden_size > 0) return 2.0 * model.hidden_size * dtype;
  fail("model '{}': KV cache size per token is unknown (no kv_bytes_per_token_per_layer, "
       "head counts or hidden size)", model.name);
}

GpuProfile first_principles_profile(const ModelSpec& model, const GpuType& gpu,
                                    const FirstPrinciplesConstants& constants) {
  check_datasheet(gpu);
  Inputs in = make_inputs(model, gpu, constants);
  GpuProfile p;
  p.gpu = gpu.name;
  p.measured = false;
  p.max_layers = max_layers(model, gpu, in);
  if (p.max_layers < 1) {
    fail("machine type '{}' ({} B VRAM) cannot hold one {} B layer of model '{}' plus its KV "
         "cache", gpu.name, gpu.vram_bytes, in.layer_bytes, model.name);
  }
  std::string where = "first-principles " + model.name + " on " + gpu.name;
  p.prompt = sample(in, prompt_grid(), prompt_time, where + " prompt");
  p.decode = sample(in, decode_grid(), decode_time, where + " decode");
  int requests = prompt_max_requests(in);
  for (int k = 1; k <= p.max_layers; ++k) {
    long long blocks = vllm_blocks(gpu, in, k);
    p.vllm_blocks.push_back(blocks);
    p.prompt_max_requests.push_back(requests);
    p.decode_max_tokens.push_back(decode_max_tokens(blocks, constants));
  }
  p.validate();
  return p;
}

int first_principles_typical_layers(int max_layers) {
  return std::max(1, (2 * max_layers + 1) / 3);
}

double first_principles_initial_perf(const GpuType& gpu) {
  return 80.0 * gpu.peak_flops / 312e12;
}

}  // namespace helix
