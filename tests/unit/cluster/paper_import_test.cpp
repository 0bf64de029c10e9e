#include "helix/cluster/paper_import.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "cluster_test_util.h"
#include "helix/cluster/gpu_catalog.h"
#include "support/test_support.h"

namespace helix {
namespace {

using test::artifact;

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::vector<std::string> types_by_index(const ClusterSpec& c) {
  std::vector<std::string> types;
  for (int i = 0; i < c.num_nodes(); ++i) types.push_back(c.gpu_of(i).name);
  return types;
}

ClusterSpec import_config(const std::string& experiment, const std::string& file) {
  auto dir = artifact(experiment + "/config");
  return import_paper_cluster(dir / file, dir / "machine_profiles.ini");
}

int count_links(const ClusterSpec& c, bool from_coordinator, bool to_coordinator) {
  int n = 0;
  for (const auto& l : c.links) {
    n += (l.from == kCoordinator) == from_coordinator && (l.to == kCoordinator) == to_coordinator ? 1 : 0;
  }
  return n;
}

// Planner spec §1.1 table.
TEST(PaperImport, SingleCluster24) {
  ClusterSpec c = import_config("single_cluster", "cluster24.ini");
  EXPECT_EQ(c.name, "cluster24");
  ASSERT_EQ(c.num_nodes(), 24);
  EXPECT_EQ(types_by_index(c),
            split_words("L4 T4 T4 L4 T4 L4 A100 T4 T4 A100 A100 L4 T4 T4 L4 T4 T4 A100 L4 T4 T4 L4 T4 L4"));
  EXPECT_EQ(c.composition(), (std::map<std::string, int>{{"A100", 4}, {"L4", 8}, {"T4", 12}}));
  EXPECT_EQ(c.nodes[6].name, "ComputeNode-6");
  EXPECT_EQ(count_links(c, true, false), 24);
  EXPECT_EQ(count_links(c, false, true), 24);
  EXPECT_EQ(count_links(c, false, false), 2 * 276);
  for (const auto& l : c.links) {
    EXPECT_EQ(l.bandwidth_Bps, 1e9);  // "1000 * mbps" is 1e9 BYTES/s
    EXPECT_EQ(l.latency_s, 1e-3);
  }
  ASSERT_NE(c.find_link(3, 17), nullptr);
  ASSERT_NE(c.find_link(17, 3), nullptr);
  EXPECT_EQ(c.coordinator.nic_in_Bps, 1e10);
  EXPECT_EQ(c.coordinator.nic_out_Bps, 1e10);
  EXPECT_EQ(c.regions, std::vector<std::string>{"region-0"});
  EXPECT_EQ(c.coordinator.region, 0);
}

TEST(PaperImport, GpuTypesComeFromTheProfilesAndTheCatalog) {
  ClusterSpec c = import_config("single_cluster", "cluster24.ini");
  const GpuType& a100 = c.gpu_of(6);
  EXPECT_EQ(a100.name, "A100");
  EXPECT_EQ(a100.profile_name, "A100");
  EXPECT_EQ(a100.vram_bytes, 40e9);
  EXPECT_EQ(a100.nic_in_Bps, 1e10);
  EXPECT_EQ(a100.nic_out_Bps, 1e10);
  EXPECT_EQ(a100.disk_Bps, 1e9);
  EXPECT_EQ(a100.mem_bandwidth_Bps, find_catalog_gpu("A100")->mem_bandwidth_Bps);
  EXPECT_EQ(a100.peak_flops, find_catalog_gpu("A100")->peak_flops);
  ASSERT_EQ(c.gpu_types.size(), 3u);  // only the types used, in order of first use
  EXPECT_EQ(c.gpu_types[0].name, "L4");
  EXPECT_EQ(c.gpu_types[1].name, "T4");
}

TEST(PaperImport, ThreeRegionCluster24) {
  ClusterSpec c = import_config("distributed_clusters", "3cluster24.ini");
  ASSERT_EQ(c.num_nodes(), 24);
  EXPECT_EQ(types_by_index(c),
            split_words("A100 A100 A100 A100 L4 L4 T4 T4 T4 T4 T4 T4 T4 T4 L4 L4 L4 L4 L4 L4 T4 T4 T4 T4"));
  const Link* l05 = c.find_link(0, 5);
  ASSERT_NE(l05, nullptr);
  EXPECT_DOUBLE_EQ(l05->bandwidth_Bps, 10.6e6);
  EXPECT_DOUBLE_EQ(l05->latency_s, 0.044);
  const Link* l50 = c.find_link(5, 0);
  ASSERT_NE(l50, nullptr);
  EXPECT_EQ(l50->bandwidth_Bps, l05->bandwidth_Bps);  // both directions get the full bandwidth
  const Link* src = c.find_link(kCoordinator, 0);
  ASSERT_NE(src, nullptr);
  EXPECT_DOUBLE_EQ(src->bandwidth_Bps, 14.2e6);
  EXPECT_DOUBLE_EQ(src->latency_s, 0.055);
  const Link* sink = c.find_link(0, kCoordinator);
  ASSERT_NE(sink, nullptr);
  EXPECT_DOUBLE_EQ(sink->bandwidth_Bps, 11.2e6);
  EXPECT_DOUBLE_EQ(sink->latency_s, 0.059);
  EXPECT_EQ(count_links(c, false, false), 2 * 276);
}

TEST(PaperImport, ThreeRegionsAreInferred) {
  ClusterSpec c = import_config("distributed_clusters", "3cluster24.ini");
  ASSERT_EQ(c.regions, (std::vector<std::string>{"region-0", "region-1", "region-2", "coordinator"}));
  for (int i = 0; i < 24; ++i) {
    int expected = i <= 3 ? 0 : i <= 13 ? 1 : 2;
    EXPECT_EQ(c.nodes[i].region, expected) << "node " << i;
  }
  // All coordinator links are slow (cross-region statistics): a region of its own.
  EXPECT_EQ(c.coordinator.region, 3);
}

TEST(PaperImport, HighHeterogeneity42) {
  ClusterSpec c = import_config("high_heterogeneity", "cluster42.ini");
  ASSERT_EQ(c.num_nodes(), 42);
  EXPECT_EQ(types_by_index(c),
            split_words("T4 L4x2 L4 V100 T4x4 L4x2 L4 V100 A100 T4x2 T4 T4x2 V100 T4 V100 L4 T4 T4x2 L4 T4 "
                        "L4x2 A100 T4x2 L4 T4x2 T4 V100 T4x4 L4 T4 T4 T4x4 L4x2 T4x4 T4x2 A100 T4 L4 V100 "
                        "L4 A100 T4"));
  EXPECT_EQ(c.composition(),
            (std::map<std::string, int>{
                {"A100", 4}, {"V100", 6}, {"L4", 8}, {"L4x2", 4}, {"T4", 10}, {"T4x2", 6}, {"T4x4", 4}}));
  EXPECT_EQ(c.gpu_of(1).vram_bytes, 48e9);
  EXPECT_EQ(count_links(c, false, false), 42 * 41);
  EXPECT_EQ(c.regions.size(), 1u);
}

TEST(PaperImport, SubClusters) {
  for (std::string experiment : {"single_cluster", "distributed_clusters"}) {
    for (auto [file, type, n] :
         {std::tuple{"a100.ini", "A100", 4}, {"l4.ini", "L4", 8}, {"t4.ini", "T4", 12}}) {
      SCOPED_TRACE(experiment + "/" + file);
      ClusterSpec c = import_config(experiment, file);
      EXPECT_EQ(c.composition(), (std::map<std::string, int>{{type, n}}));
      EXPECT_EQ(static_cast<int>(c.links.size()), 2 * n + n * (n - 1));
    }
  }
}

TEST(PaperImport, PrunedClustersWithPartialConnectivity) {
  ClusterSpec c = import_paper_cluster(artifact("high_heterogeneity/layout_llama70b/ilp/pruned_cluster.ini"),
                                       artifact("high_heterogeneity/config/machine_profiles.ini"));
  EXPECT_EQ(c.num_nodes(), 42);
  EXPECT_EQ(count_links(c, true, false), 12);
  EXPECT_EQ(count_links(c, false, true), 12);
  EXPECT_EQ(c.find_link(kCoordinator, 0), nullptr);
  EXPECT_NE(c.find_link(kCoordinator, 30), nullptr);
}

// Every topology file of the artifact (they carry [NodeNames]) imports.
TEST(PaperImport, EveryArtifactClusterFileLoads) {
  int loaded = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(artifact(""))) {
    if (entry.path().extension() != ".ini") continue;
    std::string text = test::read_file(entry.path());
    if (text.find("[NodeNames]") == std::string::npos) continue;
    SCOPED_TRACE(entry.path().string());
    auto experiment = std::filesystem::relative(entry.path(), artifact("")).begin()->string();
    ClusterSpec c = import_paper_cluster(entry.path(), artifact(experiment + "/config/machine_profiles.ini"));
    EXPECT_GT(c.num_nodes(), 0);
    ++loaded;
  }
  EXPECT_GE(loaded, 11);
}

TEST(PaperSimulatorImport, SeparatePipelineFile) {
  PaperSimulatorCluster s = import_paper_simulator_cluster(
      artifact("high_heterogeneity/layout_llama70b/separate/l4x2/simulator_cluster.ini"));
  const ClusterSpec& c = s.cluster;
  ASSERT_EQ(c.num_nodes(), 4);
  EXPECT_EQ(c.nodes[0].name, "ComputeNode-0");
  EXPECT_EQ(c.composition(), (std::map<std::string, int>{{"L4x2", 4}}));
  EXPECT_EQ(c.gpu_of(0).vram_bytes, 48e9);
  EXPECT_EQ(c.gpu_of(0).disk_Bps, 1e9);
  EXPECT_EQ(c.coordinator.nic_in_Bps, 1e10);
  std::vector<std::pair<int, int>> expected{{kCoordinator, 0}, {0, 1}, {1, 2}, {2, 3}, {3, kCoordinator}};
  EXPECT_EQ(s.links, expected);
  ASSERT_EQ(c.links.size(), 5u);
  EXPECT_EQ(c.links[2].bandwidth_Bps, 1e9);
  EXPECT_EQ(c.links[2].latency_s, 1e-3);
  EXPECT_EQ(s.kv_cache_capacity, std::vector<double>(4, 853088));
  EXPECT_EQ(c.name, "l4x2");
}

// Every simulator_cluster.ini of the artifact loads and is self-consistent.
TEST(PaperSimulatorImport, EveryArtifactSimulatorClusterLoads) {
  int loaded = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(artifact(""))) {
    if (entry.path().filename() != "simulator_cluster.ini") continue;
    SCOPED_TRACE(entry.path().string());
    PaperSimulatorCluster s = import_paper_simulator_cluster(entry.path());
    const ClusterSpec& c = s.cluster;
    EXPECT_GT(c.num_nodes(), 0);
    EXPECT_EQ(s.kv_cache_capacity.size(), c.nodes.size());
    ASSERT_EQ(s.links.size(), c.links.size());
    for (std::size_t i = 0; i < s.links.size(); ++i) {
      EXPECT_EQ(s.links[i], std::make_pair(c.links[i].from, c.links[i].to));
      EXPECT_EQ(c.find_link(s.links[i].first, s.links[i].second), &c.links[i]);
    }
    for (double kv : s.kv_cache_capacity) EXPECT_TRUE(kv >= 0 || kv == -1) << kv;
    ++loaded;
  }
  EXPECT_EQ(loaded, 25);
}

TEST(PaperSimulatorImport, IlpFileMatchesTheClusterItCameFrom) {
  PaperSimulatorCluster s = import_paper_simulator_cluster(
      artifact("distributed_clusters/layout_llama70b/ilp/simulator_cluster.ini"));
  ClusterSpec full = import_config("distributed_clusters", "3cluster24.ini");
  ASSERT_EQ(s.cluster.num_nodes(), 24);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(s.cluster.gpu_of(i).name, full.gpu_of(i).name) << i;
  for (const auto& l : s.cluster.links) {
    const Link* f = full.find_link(l.from, l.to);
    ASSERT_NE(f, nullptr);
    EXPECT_DOUBLE_EQ(l.bandwidth_Bps, f->bandwidth_Bps);
    EXPECT_DOUBLE_EQ(l.latency_s, f->latency_s);
  }
}

}  // namespace
}  // namespace helix
