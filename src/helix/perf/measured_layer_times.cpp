#include "helix/perf/measured_layer_times.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "helix/core/error.h"

namespace helix {
namespace {

LayerTimeTable read_table(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open (write it with `helix profile`)", path.string());
  std::stringstream text;
  text << in.rdbuf();
  LayerTimeTable t = LayerTimeTable::from_csv(text.str(), path.string());
  if (t.points().size() < 3) fail("{}: needs at least two measured batch sizes besides 0", path.string());
  return t;
}

// The measured points, then the grid points beyond them on the line through the
// last two measured points (never decreasing).
LayerTimeTable extended(const LayerTimeTable& t, int grid_step, int grid_end) {
  std::vector<LayerTimeTable::Point> points = t.points();
  // Copies: the loop below grows `points`, which would leave references dangling.
  const LayerTimeTable::Point a = points[points.size() - 2];
  const LayerTimeTable::Point b = points.back();
  double slope = std::max(0.0, (b.seconds - a.seconds) / (b.tokens - a.tokens));
  for (int x = (b.tokens / grid_step + 1) * grid_step; x <= grid_end; x += grid_step) {
    points.push_back({x, b.seconds + slope * (x - b.tokens)});
  }
  return LayerTimeTable(std::move(points), t.name() + " (extended linearly)");
}

// A profile.json beside the tables (`helix profile`, version 2) says which layer
// shape was timed: another model's times would plan this one silently wrong. The
// paper's format (tables only), version 1 (no shape) and presets without one pass.
void check_timed_layer(const std::filesystem::path& dir, const ModelSpec& model) {
  const std::filesystem::path path = dir / "profile.json";
  std::ifstream in(path);
  if (!in) return;
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: invalid JSON: {}", path.string(), e.what());
  }
  if (!meta.is_object() || !meta.contains("layer")) return;
  const nlohmann::json& layer = meta["layer"];
  const std::pair<const char*, int> planned[] = {{"hidden_size", model.hidden_size},
                                                 {"intermediate_size", model.intermediate_size},
                                                 {"num_heads", model.num_heads},
                                                 {"num_kv_heads", model.num_kv_heads},
                                                 {"head_dim", model.head_dim}};
  for (const auto& [key, value] : planned) {
    if (value <= 0) continue;  // a preset that does not say
    const auto it = layer.is_object() ? layer.find(key) : layer.end();
    if (it == layer.end() || !it->is_number_integer()) fail("{}: layer.{} is missing or not an integer", path.string(), key);
    if (it->get<long long>() != value) {
      fail("{}: timed on layers with {} {}, but model '{}' has {}: these times are another model's (run `helix "
           "profile` on this one)",
           path.string(), key, it->get<long long>(), model.name, value);
    }
  }
}

}  // namespace

GpuProfile measured_layer_profile(const ModelSpec& model, const GpuType& gpu,
                                  const FirstPrinciplesConstants& constants) {
  // Only the memory side of the first-principles profile is kept, so the
  // datasheet speeds need not be known.
  GpuType memory_only = gpu;
  if (!(memory_only.mem_bandwidth_Bps > 0)) memory_only.mem_bandwidth_Bps = 1e12;
  if (!(memory_only.peak_flops > 0)) memory_only.peak_flops = 1e15;
  GpuProfile p = first_principles_profile(model, memory_only, constants);
  std::filesystem::path dir = gpu.layer_times_dir;
  check_timed_layer(dir, model);
  p.prompt = extended(read_table(dir / "prompt_bs2time.csv"), 250, 15000);
  p.decode = extended(read_table(dir / "decode_bs2time.csv"), 20, 800);
  p.measured = true;
  double per_prompt = p.prompt.at(kMaxInputLen);
  if (!(per_prompt > 0)) fail("{}: prompt time at {} tokens must be positive", (dir / "prompt_bs2time.csv").string(), kMaxInputLen);
  double fit = std::clamp(std::floor(constants.prompt_budget_s / per_prompt), 1.0,
                          static_cast<double>(constants.max_prompt_requests));
  int requests = static_cast<int>(fit);
  p.prompt_max_requests.assign(static_cast<std::size_t>(p.max_layers), requests);
  p.validate();
  return p;
}

}  // namespace helix
