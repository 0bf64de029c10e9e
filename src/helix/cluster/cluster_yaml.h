// helix's own cluster format (YAML), and load_cluster(), the one entry point the
// CLI uses for any cluster file. The full reference with examples is
// docs/formats.md (section "Cluster files"); in short:
//
//   format: helix-cluster/1            # required, first check made
//   name: three-region24               # optional (default: the file's stem)
//   gpu_types:                         # optional: override or extend the catalog
//     A100: {vram: 80 GB}              #   catalog entry, one field changed
//     H200: {base: H100, vram: 141 GB, memory_bandwidth: 4.8 TB/s}
//   regions: [us, eu]                  # optional (default: one region "default")
//   coordinator: {region: us, nic: 10 Gbps}     # optional; nic_in / nic_out too
//   network:
//     in_region:    {bandwidth: 1.25 GB/s, latency: 1 ms}
//     cross_region: {bandwidth: 100 Mbps, latency: 50 ms}
//     region_pairs: [{between: [us, eu], latency: 80 ms}]   # or remove: true
//     links:        [{from: a100-0, to: coordinator, bandwidth: 1 Gbps, one_way: true},
//                    {from: a100-1, to: l4-0, remove: true}]
//   nodes:
//     - {name: "a100-{i}", count: 4, gpu: A100, region: us}   # a100-0 .. a100-3
//     - {name: "l4-{i}", count: 2, first: 4, gpu: L4, region: eu}  # l4-4, l4-5
//
// Every endpoint (the coordinator included) is linked both ways to every other by
// the default of its region pair; region_pairs and links then change, add or
// remove links. Units are always written out and parsed by core/units.h.
// Every error is one line: "file:line: field: what was expected".
#pragma once

#include <filesystem>
#include <string>

#include "helix/cluster/cluster_spec.h"

namespace helix {

// The value of the `format` key this version reads and writes.
inline constexpr const char* kClusterFormat = "helix-cluster/1";

// Reads a YAML cluster file; messages name the path as given.
ClusterSpec load_cluster_yaml(const std::filesystem::path& path);
// Parses YAML text; `source_name` is the file name used in messages.
ClusterSpec parse_cluster_yaml(const std::string& text, const std::string& source_name);

// Writes `cluster` in the YAML format. parse_cluster_yaml(write_cluster_yaml(c))
// gives back the same types, regions, nodes, coordinator and links, numbers exact
// to the last bit. Links are written as region-pair defaults plus exceptions.
std::string write_cluster_yaml(const ClusterSpec& cluster);

// Loads any cluster file by extension: .yaml/.yml -> load_cluster_yaml; .ini -> the
// paper's importer (paper_import.h) with `machine_profiles`, or if that is empty,
// the machine_profiles.ini next to the cluster file.
ClusterSpec load_cluster(const std::filesystem::path& path,
                         const std::filesystem::path& machine_profiles = {});

}  // namespace helix
