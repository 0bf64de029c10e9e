#include "helix/perf/profile.h"

#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "helix/core/embedded_files.h"
#include "helix/core/error.h"

namespace helix {
namespace {

using nlohmann::json;

std::string_view embedded_file(const std::string& path) {
  const auto& files = embedded::files();
  auto it = files.find(path);
  if (it == files.end()) fail("embedded profile file '{}' is missing", path);
  return it->second;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const json& field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) fail("{}: missing field '{}'", where, key);
  return object.at(key);
}

// A {"1": v1, "2": v2, ...} dict as a vector indexed k-1 for k = 1..max_layers.
template <typename T>
std::vector<T> by_layers(const json& dict, int max_layers, const std::string& where) {
  std::vector<T> values;
  for (int k = 1; k <= max_layers; ++k) {
    const json& v = field(dict, std::to_string(k).c_str(), where);
    values.push_back(v.get<T>());
  }
  return values;
}

GpuProfile load_gpu(const std::string& key, const std::string& gpu, const json& spec) {
  std::string where = key + "/model.json gpus." + gpu;
  GpuProfile p;
  p.gpu = gpu;
  p.measured = true;
  p.max_layers = field(spec, "max_num_layers", where).get<int>();
  p.vllm_blocks = by_layers<long long>(field(spec, "vllm_num_blocks_by_num_layers", where),
                                       p.max_layers, where + ".vllm_num_blocks_by_num_layers");
  p.prompt_max_requests =
      by_layers<int>(field(spec, "prompt_max_requests_by_num_layers", where), p.max_layers,
                     where + ".prompt_max_requests_by_num_layers");
  p.decode_max_tokens =
      by_layers<int>(field(spec, "decode_max_tokens_by_num_layers", where), p.max_layers,
                     where + ".decode_max_tokens_by_num_layers");
  std::string dir = key + "/" + lower(gpu) + "/";
  p.prompt = LayerTimeTable::from_csv(embedded_file(dir + "prompt_bs2time.csv"),
                                      dir + "prompt_bs2time.csv");
  p.decode = LayerTimeTable::from_csv(embedded_file(dir + "decode_bs2time.csv"),
                                      dir + "decode_bs2time.csv");
  p.validate();
  return p;
}

PaperModelProfile parse_model(const std::string& key, const json& doc) {
  std::string where = key + "/model.json";
  PaperModelProfile m;
  m.key = key;
  m.num_layers = field(doc, "num_layers", where).get<int>();
  m.layer_param_bytes = field(doc, "layer_param_bytes", where).get<double>();
  m.token_size_bytes = field(doc, "token_size_bytes", where).get<double>();
  m.activation_bytes_per_token = field(doc, "activation_size_bytes_per_token", where).get<double>();
  m.typical_layers = field(doc, "typical_layers_default", where).get<std::map<std::string, int>>();
  m.typical_layers_small = field(doc, "typical_layers_if_capacity_below_1.2x_model", where)
                               .get<std::map<std::string, int>>();
  m.initial_perf = field(doc, "normalized_perf_initial", where).get<std::map<std::string, double>>();
  for (const auto& [gpu, spec] : field(doc, "gpus", where).items()) {
    if (!m.typical_layers.count(gpu) || !m.typical_layers_small.count(gpu) ||
        !m.initial_perf.count(gpu)) {
      fail("{}: GPU '{}' lacks a typical-layers or initial-perf entry", where, gpu);
    }
    m.gpus.emplace(gpu, load_gpu(key, gpu, spec));
  }
  if (m.num_layers <= 0) fail("{}: num_layers must be > 0", where);
  return m;
}

}  // namespace

long long GpuProfile::kv_cache_capacity(int k) const {
  if (k < 1 || k > max_layers) fail("{}: no KV capacity for {} layers (1..{})", gpu, k, max_layers);
  return static_cast<long long>(kVllmBlockSize) * vllm_blocks[k - 1] * k;
}

InferenceLimits GpuProfile::limits(int k) const {
  if (k < 1 || k > max_layers) fail("{}: no batch limits for {} layers (1..{})", gpu, k, max_layers);
  InferenceLimits l;
  l.prompt_max_requests = prompt_max_requests[k - 1];
  l.prompt_max_tokens = static_cast<long long>(l.prompt_max_requests) * kMaxInputLen;
  l.decode_max_tokens = decode_max_tokens[k - 1];
  l.decode_max_context = static_cast<long long>(l.decode_max_tokens) * kDecodePerTokenMaxContext;
  return l;
}

void GpuProfile::validate() const {
  auto size = static_cast<std::size_t>(max_layers);
  if (max_layers < 1) fail("{}: max_layers must be >= 1, got {}", gpu, max_layers);
  if (vllm_blocks.size() != size || prompt_max_requests.size() != size ||
      decode_max_tokens.size() != size) {
    fail("{}: per-layer-count tables must have {} entries", gpu, max_layers);
  }
  for (int k = 1; k <= max_layers; ++k) {
    auto i = static_cast<std::size_t>(k - 1);
    if (vllm_blocks[i] <= 0 || prompt_max_requests[i] <= 0 || decode_max_tokens[i] <= 0) {
      fail("{}: blocks, prompt_max_requests and decode_max_tokens must be > 0 (k = {})", gpu, k);
    }
  }
}

const GpuProfile* PaperModelProfile::find(const std::string& gpu) const {
  auto it = gpus.find(gpu);
  return it == gpus.end() ? nullptr : &it->second;
}

std::vector<std::string> paper_model_keys() {
  std::set<std::string> keys;
  for (const auto& [path, bytes] : embedded::files()) {
    auto slash = path.find('/');
    if (slash != std::string::npos && path.substr(slash + 1) == "model.json") {
      keys.insert(path.substr(0, slash));
    }
  }
  return {keys.begin(), keys.end()};
}

bool has_paper_model(const std::string& key) {
  return embedded::files().count(key + "/model.json") > 0;
}

PaperModelProfile load_paper_profile(const std::string& key) {
  if (!has_paper_model(key)) fail("no paper profile for model '{}'", key);
  std::string_view text = embedded_file(key + "/model.json");
  try {
    return parse_model(key, json::parse(text));
  } catch (const json::exception& e) {
    fail("{}/model.json: {}", key, e.what());
  }
}

}  // namespace helix
