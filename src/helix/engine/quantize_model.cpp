#include "helix/engine/quantize_model.h"

#include <algorithm>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "helix/core/error.h"
#include "helix/kernels/thread_pool.h"
#include "helix/weights/gguf_raw_metadata.h"
#include "helix/weights/gguf_writer.h"
#include "helix/weights/tensor_data.h"
#include "helix/weights/tensor_store.h"

namespace helix {
namespace {

struct Preset {
  std::string_view name;
  DType base;
  bool mixed;               // the _M mix: Q6_K where llama.cpp puts more bits
  std::uint32_t file_type;  // llama.cpp's llama_ftype
};

constexpr Preset kPresets[] = {
    {"f32", DType::F32, false, 0},    {"f16", DType::F16, false, 1},     {"bf16", DType::BF16, false, 32},
    {"q8_0", DType::Q8_0, false, 7},  {"q4_0", DType::Q4_0, false, 2},   {"q4_1", DType::Q4_1, false, 3},
    {"q5_0", DType::Q5_0, false, 8},  {"q5_1", DType::Q5_1, false, 9},   {"q4_k", DType::Q4_K, false, 14},
    {"q4_k_s", DType::Q4_K, false, 14}, {"q4_k_m", DType::Q4_K, true, 15}, {"q5_k", DType::Q5_K, false, 16},
    {"q5_k_s", DType::Q5_K, false, 16}, {"q5_k_m", DType::Q5_K, true, 17}, {"q6_k", DType::Q6_K, false, 18},
};

const Preset& find_preset(std::string_view name) {
  for (const Preset& p : kPresets) {
    if (p.name == name) return p;
  }
  fail("--type {}: unknown (expected one of: {})", name, fmt::join(quantize_preset_names(), ", "));
}

// llama.cpp's use_more_bits: the first and last eighth of the layers and every
// third layer between.
bool more_bits(int layer, int layers) {
  return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

// The N of a "blk.N." tensor name.
std::optional<int> layer_of(const std::string& name) {
  constexpr std::string_view kPrefix = "blk.";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  const std::size_t dot = name.find('.', kPrefix.size());
  if (dot == std::string::npos || dot == kPrefix.size()) return std::nullopt;
  int layer = 0;
  for (std::size_t i = kPrefix.size(); i < dot; ++i) {
    if (name[i] < '0' || name[i] > '9' || layer > 1'000'000) return std::nullopt;
    layer = layer * 10 + (name[i] - '0');
  }
  return layer;
}

// What llama.cpp falls back to when rows are not whole blocks.
DType fallback(DType dtype) {
  switch (dtype) {
    case DType::Q4_K: return DType::Q5_0;
    case DType::Q5_K: return DType::Q5_1;
    case DType::Q6_K: return DType::Q8_0;
    default: return dtype;
  }
}

DType target_type(const TensorRef& t, const Preset& preset, int layers) {
  if (t.shape.size() != 2) return t.dtype;
  DType want = preset.base;
  if (preset.mixed) {
    const bool more = t.name.find("attn_v.weight") != std::string::npos ||
                      t.name.find("ffn_down.weight") != std::string::npos;
    const std::optional<int> layer = layer_of(t.name);
    if (t.name == "output.weight" || (more && layer && more_bits(*layer, layers))) want = DType::Q6_K;
  }
  const std::int64_t cols = t.shape.back();
  if (cols % dtype_block_elements(want) != 0) want = fallback(want);
  if (cols % dtype_block_elements(want) != 0) return t.dtype;
  return want;
}

int layer_count(const TensorStore& store) {
  int layers = 0;
  for (const std::string& name : store.names()) {
    if (const std::optional<int> layer = layer_of(name)) layers = std::max(layers, *layer + 1);
  }
  return layers;
}

// The tensor rewritten as `to`, converted row by row when the file is written.
TensorData converted(const TensorRef& t, DType to) {
  TensorData out;
  out.name = t.name;
  out.dtype = to;
  out.shape = t.shape;
  const std::int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  const std::int64_t rows = cols > 0 ? t.elements() / cols : 0;
  out.fill = [&t, to, rows, cols](std::span<std::byte> bytes) {
    if (to == t.dtype) {
      std::copy_n(t.data, bytes.size(), bytes.data());
      return;
    }
    const std::size_t in_row = dtype_row_bytes(t.dtype, cols), out_row = dtype_row_bytes(to, cols);
    // Rows are independent: one share per core (the K quantizers search scales).
    ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    pool.parallel_for(rows, [&](std::int64_t begin, std::int64_t end) {
      std::vector<float> row(static_cast<std::size_t>(cols));
      for (std::int64_t r = begin; r < end; ++r) {
        convert_to_f32(t.dtype, t.data + static_cast<std::size_t>(r) * in_row, cols, row.data());
        convert_from_f32(to, row.data(), cols, bytes.data() + static_cast<std::size_t>(r) * out_row);
      }
    });
  };
  return out;
}

}  // namespace

std::vector<std::string> quantize_preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : kPresets) names.emplace_back(p.name);
  return names;
}

QuantizeReport quantize_gguf(const std::filesystem::path& in, const std::filesystem::path& out,
                             std::string_view preset_name) {
  const Preset& preset = find_preset(preset_name);
  if (in.extension() != ".gguf") fail("{}: expected a .gguf file", in.string());
  const TensorStore store = TensorStore::open(in);
  std::vector<GgufEntry> metadata;
  for (GgufEntry& entry : read_gguf_raw_metadata(in)) {
    // The writer sets the alignment itself (32); the file type is the new one.
    if (entry.key == "general.file_type" || entry.key == "general.alignment") continue;
    metadata.push_back(std::move(entry));
  }
  metadata.push_back({"general.file_type", preset.file_type});
  const int layers = layer_count(store);
  QuantizeReport report;
  std::vector<TensorData> tensors;
  for (const std::string& name : store.names()) {
    const TensorRef& t = store.at(name);
    const DType to = target_type(t, preset, layers);
    report.tensors.push_back({name, t.dtype, to});
    report.bytes_before += t.nbytes;
    report.bytes_after += dtype_row_bytes(to, t.elements());
    tensors.push_back(converted(t, to));
  }
  write_gguf(out, metadata, tensors);
  return report;
}

}  // namespace helix
