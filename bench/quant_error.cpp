// Quantization error of GGUF files against their source: for every weight matrix
// that the source and a quantized file both hold, the quantized values are decoded
// and compared with the source's, and the errors are summed per quantized type:
// relative RMS error = sqrt(sum (q - x)^2 / sum x^2). Files written by different
// quantizers from the same source (helix model quantize, llama.cpp's
// llama-quantize) are compared on the same weights this way.
//
// Usage: quant_error SOURCE.gguf QUANTIZED.gguf [QUANTIZED.gguf ...]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "helix/core/error.h"
#include "helix/weights/tensor_store.h"

namespace {

struct Sums {
  double error = 0, signal = 0;
  std::int64_t values = 0;
  int tensors = 0;
};

std::vector<float> decoded(const helix::TensorRef& t) {
  std::vector<float> out(static_cast<std::size_t>(t.elements()));
  helix::convert_to_f32(t.dtype, t.data, t.elements(), out.data());
  return out;
}

// Per quantized type of `quantized`'s matrices: the summed squared error and signal.
std::map<std::string, Sums> compare(const helix::TensorStore& source, const helix::TensorStore& quantized) {
  std::map<std::string, Sums> by_type;
  for (const std::string& name : quantized.names()) {
    const helix::TensorRef& q = quantized.at(name);
    const helix::TensorRef* x = source.find(name);
    if (x == nullptr || q.shape.size() != 2 || q.dtype == x->dtype) continue;  // matrices that were quantized
    if (x->elements() != q.elements()) helix::fail("{}: {} values in the source, {} quantized", name, x->elements(), q.elements());
    const std::vector<float> a = decoded(*x), b = decoded(q);
    Sums& s = by_type[std::string(helix::dtype_name(q.dtype))];
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double diff = static_cast<double>(b[i]) - a[i];
      s.error += diff * diff;
      s.signal += static_cast<double>(a[i]) * a[i];
    }
    s.values += q.elements();
    s.tensors += 1;
  }
  return by_type;
}

}  // namespace

int main(int argc, char** argv) {
  std::string source_path;
  std::vector<std::string> quantized_paths;
  CLI::App app("Relative RMS error of quantized GGUF files against their source, per quantized type.");
  app.add_option("source", source_path, "The GGUF the others were quantized from")->required();
  app.add_option("quantized", quantized_paths, "Quantized GGUF files")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    const helix::TensorStore source = helix::TensorStore::open(source_path);
    std::printf("| file | type | matrices | values | relative RMS error |\n|---|---|---:|---:|---:|\n");
    for (const std::string& path : quantized_paths) {
      const helix::TensorStore quantized = helix::TensorStore::open(path);
      Sums all;
      for (const auto& [type, s] : compare(source, quantized)) {
        std::printf("| %s | %s | %d | %lld | %.5f |\n", path.c_str(), type.c_str(), s.tensors,
                    static_cast<long long>(s.values), std::sqrt(s.error / s.signal));
        all.error += s.error, all.signal += s.signal, all.values += s.values, all.tensors += s.tensors;
      }
      std::printf("| %s | all | %d | %lld | %.5f |\n", path.c_str(), all.tensors, static_cast<long long>(all.values),
                  std::sqrt(all.error / all.signal));
    }
  } catch (const helix::Error& e) {
    std::fprintf(stderr, "quant_error: %s\n", e.what());
    return 1;
  }
  return 0;
}
