#include "helix/perf/machine_classes.h"

#include <algorithm>
#include <map>
#include <optional>

#include "helix/core/error.h"
#include "helix/perf/measured_layer_times.h"

namespace helix {
namespace {

std::optional<PaperModelProfile> paper_profile_for(const ModelSpec& model) {
  if (model.profile_key.empty() || !has_paper_model(model.profile_key)) return std::nullopt;
  PaperModelProfile paper = load_paper_profile(model.profile_key);
  if (paper.num_layers != model.num_layers) {
    fail("model '{}' has {} layers but the paper's profile '{}' has {}", model.name,
         model.num_layers, paper.key, paper.num_layers);
  }
  return paper;
}

MachineClass measured_class(const PaperModelProfile& paper, const GpuProfile& profile) {
  MachineClass c;
  c.name = profile.gpu;
  c.typical_layers = paper.typical_layers.at(profile.gpu);
  c.typical_layers_small = paper.typical_layers_small.at(profile.gpu);
  c.initial_perf = paper.initial_perf.at(profile.gpu);
  c.profile = profile;
  return c;
}

MachineClass estimated_class(const ModelSpec& model, const GpuType& gpu,
                             const FirstPrinciplesConstants& constants) {
  MachineClass c;
  c.profile = gpu.layer_times_dir.empty() ? first_principles_profile(model, gpu, constants)
                                          : measured_layer_profile(model, gpu, constants);
  c.typical_layers = first_principles_typical_layers(c.profile.max_layers);
  c.typical_layers_small = c.profile.max_layers;
  c.initial_perf = first_principles_initial_perf(gpu);
  // A measured machine without datasheet FLOP/s: the seed only orders types, so
  // give it a small positive weight rather than zero.
  if (!(c.initial_perf > 0)) c.initial_perf = 1.0;
  return c;
}

// The paper's measured profile for this machine type, or nullptr.
const GpuProfile* measured_profile(const std::optional<PaperModelProfile>& paper,
                                   const GpuType& gpu) {
  if (!paper || gpu.profile_name.empty()) return nullptr;
  return paper->find(gpu.profile_name);
}

// Adds (or finds) the class of one node and returns its key.
std::string class_of_node(std::map<std::string, MachineClass>& by_key,
                          const std::optional<PaperModelProfile>& paper, const ModelSpec& model,
                          const GpuType& gpu, const std::string& node_name,
                          const FirstPrinciplesConstants& constants) {
  if (const GpuProfile* measured = measured_profile(paper, gpu)) {
    if (!by_key.count(measured->gpu)) by_key.emplace(measured->gpu, measured_class(*paper, *measured));
    return measured->gpu;
  }
  // A synthetic class never shares a name with a measured one.
  std::string key = paper && paper->find(gpu.name) ? gpu.name + " (estimated)" : gpu.name;
  if (!by_key.count(key)) {
    MachineClass c = in_context(fmt::format("node '{}' (type '{}')", node_name, gpu.name),
                                [&] { return estimated_class(model, gpu, constants); });
    c.name = key;
    by_key.emplace(key, std::move(c));
  }
  return key;
}

// The classes in class_order_less order, and each node's index among them.
ClusterClasses order_classes(std::map<std::string, MachineClass> by_key,
                             const std::vector<std::string>& node_key) {
  ClusterClasses out;
  for (auto& [key, c] : by_key) out.classes.push_back(std::move(c));
  std::sort(out.classes.begin(), out.classes.end(), [](const MachineClass& a, const MachineClass& b) {
    return class_order_less(a.name, b.name);
  });
  for (const auto& key : node_key) {
    auto it = std::find_if(out.classes.begin(), out.classes.end(),
                           [&](const MachineClass& c) { return c.name == key; });
    out.node_class.push_back(static_cast<int>(it - out.classes.begin()));
  }
  return out;
}

}  // namespace

ClusterClasses resolve_machine_classes(const ClusterSpec& cluster, const ModelSpec& model,
                                       const FirstPrinciplesConstants& constants) {
  std::optional<PaperModelProfile> paper = paper_profile_for(model);
  std::map<std::string, MachineClass> by_key;
  std::vector<std::string> node_key;
  for (const ComputeNode& node : cluster.nodes) {
    if (node.gpu_type < 0 || node.gpu_type >= static_cast<int>(cluster.gpu_types.size())) {
      fail("node '{}': machine type index {} is out of range", node.name, node.gpu_type);
    }
    const GpuType& gpu = cluster.gpu_types[static_cast<std::size_t>(node.gpu_type)];
    std::string key = class_of_node(by_key, paper, model, gpu, node.name, constants);
    ++by_key.at(key).count;
    node_key.push_back(std::move(key));
  }
  return order_classes(std::move(by_key), node_key);
}

}  // namespace helix
