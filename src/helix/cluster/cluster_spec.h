// ClusterSpec: the hardware a model is served on — GPU types, compute nodes, the
// coordinator, and the directed network links between them. It is plain data; the
// loaders (cluster_yaml.h for helix's own format, paper_import.h for the paper's
// .ini files) build it and validate it, and everything downstream reads it.
//
// Units follow core/units.h: bandwidths in BYTES per second, times in seconds,
// sizes in bytes. The coordinator is one endpoint, kCoordinator, that both sends
// prompts (the paper's "source") and receives results (the paper's "sink").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "helix/core/device_name.h"

namespace helix {

// A kind of machine. Multi-GPU machines (the paper's "L4x2", "T4x4") are one type
// whose memory, bandwidth and FLOP/s are the machine totals.
struct GpuType {
  std::string name;            // "A100", "L4x2", "H100", ...
  double vram_bytes = 0;       // total GPU memory of the machine
  double nic_in_Bps = 0;       // network interface, receiving
  double nic_out_Bps = 0;      // network interface, sending
  double disk_Bps = 0;         // weight loading speed
  double mem_bandwidth_Bps = 0;  // GPU memory bandwidth (first-principles model)
  double peak_flops = 0;         // dense fp16/bf16 FLOP/s (first-principles model)
  // Name of the paper's measured profile for this machine ("A100", "T4x2"), or
  // empty: then perf/ derives its speed from the numbers above.
  std::string profile_name;
  // A directory of measured per-layer times for the served model on this machine
  // (what `helix profile` writes: prompt_bs2time.csv, decode_bs2time.csv), or empty.
  // Its tables replace the first-principles times; memory still comes from `vram`.
  std::string layer_times_dir;
};

struct ComputeNode {
  std::string name;
  int gpu_type = 0;  // index into ClusterSpec::gpu_types
  int region = 0;    // index into ClusterSpec::regions
  // Where its worker runs its layers ("cpu", "cuda:N" on its machine), where the
  // cluster file names it; nullopt: the worker's own choice (the CPU unless its
  // --device says otherwise). The planner does not read it: `gpu` is the model
  // of its speed. (Initialized here so that {name, gpu, region} stays complete.)
  std::optional<DeviceName> device = std::nullopt;
};

struct CoordinatorSpec {
  int region = 0;
  double nic_in_Bps = 0;   // receiving results (the paper's sink NIC)
  double nic_out_Bps = 0;  // sending prompts (the paper's source NIC)
};

// Endpoint id of the coordinator in Link::from / Link::to; nodes are 0..n-1.
inline constexpr int kCoordinator = -1;

// A directed link. A physical two-way link is two Links with the same numbers
// (each direction gets the full bandwidth, as in the paper).
struct Link {
  int from = 0;
  int to = 0;
  double bandwidth_Bps = 0;
  double latency_s = 0;
};

class ClusterSpec {
 public:
  std::string name;
  std::vector<GpuType> gpu_types;
  std::vector<std::string> regions;
  std::vector<ComputeNode> nodes;
  CoordinatorSpec coordinator;
  std::vector<Link> links;

  int num_nodes() const { return static_cast<int>(nodes.size()); }
  const GpuType& gpu_of(int node) const { return gpu_types.at(nodes.at(node).gpu_type); }

  // Must be called after `links` or `nodes` change; find_link() uses the index.
  // Throws Error if a link names an unknown endpoint or appears twice.
  void index_links();
  // The link from -> to, or nullptr. Endpoints are node indices or kCoordinator.
  const Link* find_link(int from, int to) const;

  // Node index by name, or -1.
  int node_index(std::string_view node_name) const;
  // Machine type name -> number of nodes of that type (the paper's machine_num_dict).
  std::map<std::string, int> composition() const;
  // "coordinator" or the node's name, for messages.
  std::string endpoint_name(int endpoint) const;

 private:
  // Dense (n+1)x(n+1) table of link indices for clusters up to kDenseLimit nodes
  // (O(1) look-ups in the planner's hot loop), a hash map beyond.
  static constexpr int kDenseLimit = 4096;
  std::vector<std::int32_t> dense_index_;
  std::unordered_map<std::int64_t, std::int32_t> sparse_index_;
  std::unordered_map<std::string, int> name_index_;
  std::int64_t key(int from, int to) const;
};

}  // namespace helix
