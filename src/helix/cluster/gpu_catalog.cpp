#include "helix/cluster/gpu_catalog.h"

namespace helix {
namespace {

// Datasheet numbers (vendor specifications): memory, memory bandwidth and dense
// fp16 tensor FLOP/s. NIC 10 Gbps (1.25e9 B/s) and a 1 GB/s disk are common cloud
// values; a cluster file may override any field.
GpuType entry(std::string name, double vram_gb, double mem_gbps, double tflops, int count,
              std::string profile) {
  GpuType g;
  g.name = std::move(name);
  g.vram_bytes = vram_gb * 1e9 * count;
  g.mem_bandwidth_Bps = mem_gbps * 1e9 * count;
  g.peak_flops = tflops * 1e12 * count;
  g.nic_in_Bps = 1.25e9;
  g.nic_out_Bps = 1.25e9;
  g.disk_Bps = 1e9;
  g.profile_name = std::move(profile);
  return g;
}

}  // namespace

const std::vector<GpuType>& gpu_catalog() {
  static const std::vector<GpuType> catalog = {
      entry("A100", 40, 1555, 312, 1, "A100"),  // A100 40 GB SXM
      entry("V100", 16, 900, 125, 1, "V100"),
      entry("L4", 24, 300, 121, 1, "L4"),
      entry("L4x2", 24, 300, 121, 2, "L4x2"),
      entry("T4", 16, 320, 65, 1, "T4"),
      entry("T4x2", 16, 320, 65, 2, "T4x2"),
      entry("T4x4", 16, 320, 65, 4, "T4x4"),
      entry("H100", 80, 3350, 989, 1, ""),  // H100 80 GB SXM
      entry("H200", 141, 4800, 989, 1, ""),  // H200 SXM (HBM3e)
      entry("A100-80G", 80, 2039, 312, 1, ""),  // A100 80 GB SXM
      entry("L40S", 48, 864, 362, 1, ""),   // L40S (dense fp16 tensor)
      entry("A10G", 24, 600, 70, 1, ""),    // AWS A10G
  };
  return catalog;
}

std::optional<GpuType> find_catalog_gpu(const std::string& name) {
  for (const auto& g : gpu_catalog()) {
    if (g.name == name) return g;
  }
  return std::nullopt;
}

std::string catalog_gpu_names() {
  std::string names;
  for (const auto& g : gpu_catalog()) names += (names.empty() ? "" : ", ") + g.name;
  return names;
}

}  // namespace helix
