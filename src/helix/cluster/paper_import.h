// Importers for the paper's own cluster files (Helix artifact, planner spec §1.1,
// §1.2, §2.10), so that helix can run on exactly the clusters of the evaluation.
//
// UNIT CONVENTION. The paper's files write bandwidths as "X * mbps" and upstream
// divides them directly by byte sizes: "mbps" means 1e6 BYTES per second there
// (gbps = 1e9 B/s, MB = 1e6 B, GB = 1e9 B, MilliSec = 1e-3 s). The importers keep
// that meaning, so "1000 * mbps" becomes 1e9 B/s in ClusterSpec, exactly the
// capacity the paper's planner and simulator used. This convention lives only
// here (and in paper_expr.h); helix's own YAML format insists on explicit units.
//
// Naming: compute node i is "ComputeNode-i" in both importers. The paper's
// source/sink pseudo-nodes are both the coordinator (kCoordinator): a source link
// becomes Link{kCoordinator, i}, a sink link Link{i, kCoordinator}.
// Regions: the files have none; region_inference.h infers them from bandwidths.
// GPU types: only the types used, in order of first use; each keeps the file's
// VRAM/NIC/disk numbers, profile_name = the type name, and memory bandwidth /
// peak FLOP/s from the built-in catalog entry of the same name (0 if none).
// Every error names file:line, the section and the key.
#pragma once

#include <filesystem>
#include <utility>
#include <vector>

#include "helix/cluster/cluster_spec.h"

namespace helix {

// A "complete cluster" topology file (e.g. single_cluster/config/cluster24.ini)
// plus the machine_profiles.ini that defines its machine types.
//  * [NodeNames] total_compute_nodes=N, [ComputeNode-i] type, connected_nodes for i<N.
//  * [Link-a-b] (a<b compute nodes) is bidirectional: two Links, each with the full
//    bandwidth. [Link-source-i] and [Link-i-sink] are one-way.
//  * connected_nodes of [SourceNode], [SinkNode] and every node must agree with the
//    Link sections exactly (an Error names the first disagreement).
//  * Coordinator NICs: [SourceNode] outbound_nic_speed -> nic_out_Bps,
//    [SinkNode] inbound_nic_speed -> nic_in_Bps (from machine_profiles.ini).
// Links keep the file's order. The cluster is named after the file's stem.
ClusterSpec import_paper_cluster(const std::filesystem::path& cluster_ini,
                                 const std::filesystem::path& machine_profiles_ini);

// The paper's simulator_cluster.ini (planner spec §2.10): the cluster the simulator
// is built from after placement, with only the links that can carry inference.
struct PaperSimulatorCluster {
  ClusterSpec cluster;
  // The directed links in file order; (kCoordinator, i) for "source" -> i and
  // (i, kCoordinator) for i -> "sink". cluster.links holds the same links, same order.
  std::vector<std::pair<int, int>> links;
  // Per node index: the file's kv_cache_capacity (token x layer slots), verbatim;
  // upstream writes -1 where it had no value (high_heterogeneity separate/t4x2).
  std::vector<double> kv_cache_capacity;
};

// Node "compute_node_K" becomes index K-2 ("ComputeNode-{K-2}"; the paper's fixed
// offset 2, planner spec §0.2); the names must be compute_node_2 .. compute_node_{n+1}.
// Coordinator NICs come from [Coordinator]. The cluster is named after the folder
// holding the file (e.g. "ilp", "a100").
PaperSimulatorCluster import_paper_simulator_cluster(const std::filesystem::path& simulator_cluster_ini);

}  // namespace helix
