// One test per class of bad input: each asserts that the message names the place
// (file:line and field, or section and key) and says what was expected.
#include <gtest/gtest.h>

#include "cluster_test_util.h"
#include "helix/cluster/cluster_yaml.h"
#include "helix/cluster/paper_import.h"
#include "support/test_support.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;
using test::line_of;
using test::replaced;

// ---- helix YAML ------------------------------------------------------------------------------

constexpr const char* kGood = R"(format: helix-cluster/1
regions: [east, west]
coordinator: {region: east}
network:
  in_region: {bandwidth: 1 Gbps, latency: 1 ms}
  cross_region: {bandwidth: 100 Mbps, latency: 40 ms}
nodes:
  - name: a100-0
    gpu: A100
    region: east
  - name: l4-0
    gpu: L4
    region: west
)";

std::string yaml_error(const std::string& text) {
  return error_message([&] { parse_cluster_yaml(text, "bad.yaml"); });
}

std::string at(const std::string& text, std::string_view needle) {
  return "bad.yaml:" + std::to_string(line_of(text, needle)) + ":";
}

TEST(ClusterYamlErrors, GoodBaseParses) { EXPECT_EQ(parse_cluster_yaml(kGood, "good.yaml").num_nodes(), 2); }

TEST(ClusterYamlErrors, MissingField) {
  std::string text = replaced(kGood, "    gpu: L4\n", "");
  expect_contains(yaml_error(text), {at(text, "name: l4-0"), "nodes[1]", "missing field 'gpu'"});
}

TEST(ClusterYamlErrors, UnknownGpuTypeListsTheKnownOnes) {
  std::string text = replaced(kGood, "gpu: L4", "gpu: L40");
  expect_contains(yaml_error(text), {at(text, "gpu: L40"), "nodes[1].gpu", "unknown GPU type 'L40'",
                                     "did you mean 'L4'", "A100, V100"});
}

TEST(ClusterYamlErrors, NegativeBandwidth) {
  std::string text = replaced(kGood, "bandwidth: 1 Gbps", "bandwidth: -1 Gbps");
  expect_contains(yaml_error(text), {at(text, "-1 Gbps"), "network.in_region.bandwidth", "negative"});
}

TEST(ClusterYamlErrors, ZeroLinkBandwidthSuggestsRemove) {
  std::string text = replaced(kGood, "bandwidth: 1 Gbps", "bandwidth: 0 Gbps");
  expect_contains(yaml_error(text),
                  {at(text, "0 Gbps"), "network.in_region.bandwidth", "> 0", "remove: true"});
}

TEST(ClusterYamlErrors, UnitTypo) {
  std::string text = replaced(kGood, "100 Mbps", "100 Mbsp");
  expect_contains(yaml_error(text),
                  {at(text, "Mbsp"), "network.cross_region.bandwidth", "unknown unit 'Mbsp'", "Gbps"});
}

TEST(ClusterYamlErrors, MissingUnitAndAmbiguousMbps) {
  std::string text = replaced(kGood, "latency: 40 ms", "latency: 40");
  expect_contains(yaml_error(text), {at(text, "latency: 40}"), "network.cross_region.latency", "no unit"});
  text = replaced(kGood, "100 Mbps", "100 mbps");
  expect_contains(yaml_error(text), {at(text, "mbps"), "network.cross_region.bandwidth", "ambiguous"});
}

TEST(ClusterYamlErrors, UnknownKeyCatchesTypos) {
  std::string text = replaced(kGood, "    region: west", "    regoin: west");
  expect_contains(yaml_error(text),
                  {at(text, "regoin"), "nodes[1].regoin", "unknown key", "did you mean 'region'", "gpu"});
  text = replaced(kGood, "cross_region:", "cross_regoin:");
  expect_contains(yaml_error(text),
                  {at(text, "cross_regoin"), "network.cross_regoin", "did you mean 'cross_region'"});
}

TEST(ClusterYamlErrors, RepeatedKey) {
  std::string text = replaced(kGood, "    gpu: L4\n", "    gpu: L4\n    gpu: T4\n");
  expect_contains(yaml_error(text), {at(text, "gpu: T4"), "nodes[1].gpu", "given twice"});
}

TEST(ClusterYamlErrors, UnknownRegion) {
  std::string text = replaced(kGood, "region: west", "region: wets");
  expect_contains(yaml_error(text),
                  {at(text, "wets"), "nodes[1].region", "unknown region 'wets'", "east, west"});
}

TEST(ClusterYamlErrors, DuplicateNodeName) {
  std::string text = replaced(kGood, "name: l4-0", "name: a100-0");
  expect_contains(yaml_error(text),
                  {"bad.yaml:11:", "nodes[1].name", "duplicate node name 'a100-0'", "line 8"});
}

TEST(ClusterYamlErrors, DuplicateNameFromCountExpansion) {
  std::string text = replaced(kGood, "name: l4-0", "name: \"a100-{i}\"\n    count: 2");
  expect_contains(yaml_error(text), {"nodes[1].name", "duplicate node name 'a100-0'"});
}

// A node's device: "cpu" or "cuda:N", and cuda:{i} only with `count`; the error
// names the line, the field and the forms a device takes.
TEST(ClusterYamlErrors, DeviceThatIsNoDevice) {
  std::string text = replaced(kGood, "    gpu: L4\n", "    gpu: L4\n    device: gpu0\n");
  expect_contains(yaml_error(text), {at(text, "device: gpu0"), "nodes[1].device", "'gpu0' is not a device",
                                     "cpu or cuda:N"});
  text = replaced(kGood, "    gpu: L4\n", "    gpu: L4\n    device: \"cuda:{i}\"\n");
  expect_contains(yaml_error(text), {at(text, "device:"), "nodes[1].device", "'cuda:{i}' is not a device"});
  text = replaced(kGood, "name: l4-0", "name: \"l4-{i}\"\n    count: 2\n    device: \"cuda:{j}\"");
  expect_contains(yaml_error(text), {"nodes[1].device", "'cuda:{j}' is not a device", "cuda:{i} names GPU i"});
  text = replaced(kGood, "    gpu: L4\n", "    gpu: L4\n    devices: cpu\n");
  expect_contains(yaml_error(text), {"nodes[1]", "unknown key", "did you mean 'device'"});
}

TEST(ClusterYamlErrors, LinkToUnknownNode) {
  std::string text =
      replaced(kGood, "nodes:", "  links:\n    - {from: a100-0, to: l4-9, bandwidth: 1 Gbps}\nnodes:");
  expect_contains(yaml_error(text),
                  {at(text, "l4-9"), "network.links[0].to", "unknown node 'l4-9'", "did you mean 'l4-0'"});
}

TEST(ClusterYamlErrors, RemovingAMissingLinkAndNewLinkWithoutLatency) {
  std::string base = replaced(kGood, "  cross_region: {bandwidth: 100 Mbps, latency: 40 ms}\n", "");
  std::string text =
      replaced(base, "nodes:", "  links:\n    - {from: a100-0, to: l4-0, remove: true}\nnodes:");
  expect_contains(yaml_error(text),
                  {at(text, "remove"), "network.links[0]", "no link a100-0 -> l4-0 to remove"});
  text = replaced(base, "nodes:", "  links:\n    - {from: a100-0, to: l4-0, bandwidth: 1 Gbps}\nnodes:");
  expect_contains(yaml_error(text),
                  {at(text, "from: a100-0"), "network.links[0]", "does not exist yet", "latency"});
}

TEST(ClusterYamlErrors, FormatVersionIsChecked) {
  expect_contains(yaml_error(replaced(kGood, "format: helix-cluster/1\n", "")),
                  {"bad.yaml:1:", "missing field 'format'"});
  std::string text = replaced(kGood, "helix-cluster/1", "helix-cluster/9");
  expect_contains(yaml_error(text), {"bad.yaml:1:", "format", "'helix-cluster/9'", "helix-cluster/1"});
  expect_contains(yaml_error("- a\n- b\n"), {"bad.yaml:1:", "format: helix-cluster/1"});
}

TEST(ClusterYamlErrors, YamlSyntaxErrorNamesTheLine) {
  std::string text = replaced(kGood, "regions: [east, west]", "regions: [east, west");
  expect_contains(yaml_error(text), {"bad.yaml:", "YAML syntax error"});
}

TEST(ClusterYamlErrors, CountNeedsAPattern) {
  std::string text = replaced(kGood, "name: l4-0", "name: l4-0\n    count: 3");
  expect_contains(yaml_error(text), {at(text, "name: l4-0"), "nodes[1].name", "{i}"});
  text = replaced(kGood, "name: l4-0", "name: l4-0\n    count: many");
  expect_contains(yaml_error(text), {at(text, "count: many"), "nodes[1].count", "whole number"});
}

TEST(ClusterYamlErrors, RegionRequiredWithSeveralRegions) {
  std::string text = replaced(kGood, "    region: west\n", "");
  expect_contains(yaml_error(text), {at(text, "name: l4-0"), "nodes[1]", "missing field 'region'"});
}

TEST(ClusterYamlErrors, NewGpuTypeNeedsNumbersAndKnownProfile) {
  std::string text = replaced(kGood, "regions:", "gpu_types:\n  X1: {vram: 8 GB}\nregions:");
  expect_contains(yaml_error(text), {at(text, "X1"), "gpu_types.X1", "profile", "memory_bandwidth"});
  text = replaced(kGood, "regions:", "gpu_types:\n  X1: {vram: 8 GB, profile: A10}\nregions:");
  expect_contains(yaml_error(text),
                  {at(text, "X1"), "gpu_types.X1.profile", "unknown profile 'A10'", "A100"});
  text = replaced(kGood, "regions:", "gpu_types:\n  X1: {base: MI300X}\nregions:");
  expect_contains(yaml_error(text), {at(text, "X1"), "gpu_types.X1.base", "MI300X", "H100"});
  text = replaced(kGood,
                  "regions:", "gpu_types:\n  X1: {vram: 8 GB, peak_flops: 3 TFLOPs, profile: T4}\nregions:");
  expect_contains(yaml_error(text), {at(text, "X1"), "gpu_types.X1.peak_flops", "TFLOP/s"});
}

TEST(ClusterYamlErrors, NoLinks) {
  std::string text = replaced(kGood,
                              "  in_region: {bandwidth: 1 Gbps, latency: 1 ms}\n  cross_region: {bandwidth: "
                              "100 Mbps, latency: 40 ms}\n",
                              "  links: []\n");
  expect_contains(yaml_error(text), {"bad.yaml:", "network", "no links"});
}

// ---- the paper's .ini files ----------------------------------------------------------------------

constexpr const char* kProfiles = R"([SourceNode]
inbound_nic_speed = -1
outbound_nic_speed = 10 * gbps
disk_speed = -1
vram_size = -1

[SinkNode]
inbound_nic_speed = 10 * gbps
outbound_nic_speed = -1
disk_speed = -1
vram_size = -1

[A100]
inbound_nic_speed = 10 * gbps
outbound_nic_speed = 10 * gbps
disk_speed = 1 * gbps
vram_size = 40 * GB

[T4]
inbound_nic_speed = 10 * gbps
outbound_nic_speed = 10 * gbps
disk_speed = 1 * gbps
vram_size = 16 * GB
)";

constexpr const char* kCluster = R"(# two nodes
[NodeNames]
total_compute_nodes=2

[SourceNode]
connected_nodes=[0, 1]

[SinkNode]
connected_nodes=[0, 1]

[ComputeNode-0]
type=A100
connected_nodes=['source', 1, 'sink']

[ComputeNode-1]
type=T4
connected_nodes=['source', 0, 'sink']

[Link-source-0]
bandwidth=1000 * mbps
latency=1 * MilliSec

[Link-source-1]
bandwidth=1000 * mbps
latency=1 * MilliSec

[Link-0-1]
bandwidth=10.6 * mbps
latency=44 * MilliSec

[Link-0-sink]
bandwidth=1000 * mbps
latency=1 * MilliSec

[Link-1-sink]
bandwidth=1000 * mbps
latency=1 * MilliSec
)";

class PaperImportErrors : public ::testing::Test {
 protected:
  std::string import_error(const std::string& cluster, const std::string& profiles = kProfiles) {
    auto c = dir_.write("c.ini", cluster);
    auto p = dir_.write("machine_profiles.ini", profiles);
    return error_message([&] { import_paper_cluster(c, p); });
  }
  std::string at(const std::string& text, std::string_view needle, std::string_view file = "c.ini") {
    return std::string(file) + ":" + std::to_string(line_of(text, needle)) + ":";
  }
  test::TempDir dir_;
};

TEST_F(PaperImportErrors, GoodBaseImports) {
  auto c = dir_.write("c.ini", kCluster);
  auto p = dir_.write("machine_profiles.ini", kProfiles);
  ClusterSpec spec = import_paper_cluster(c, p);
  EXPECT_EQ(spec.num_nodes(), 2);
  EXPECT_EQ(spec.links.size(), 6u);
  EXPECT_EQ(spec.find_link(1, 0)->bandwidth_Bps, spec.find_link(0, 1)->bandwidth_Bps);
  EXPECT_EQ(load_cluster(c).num_nodes(), 2);  // finds machine_profiles.ini next to it
}

TEST_F(PaperImportErrors, BadIniLine) {
  std::string text = replaced(kCluster, "latency=44 * MilliSec", "latency 44 * MilliSec");
  expect_contains(import_error(text), {at(text, "latency 44"), "expected"});
}

TEST_F(PaperImportErrors, NodeListMissesALink) {
  std::string text =
      replaced(kCluster, "connected_nodes=['source', 1, 'sink']", "connected_nodes=['source', 'sink']");
  expect_contains(import_error(text),
                  {at(text, "[Link-0-1]"), "[Link-0-1]", "[ComputeNode-0] connected_nodes does not list 1"});
}

TEST_F(PaperImportErrors, NodeListNamesAMissingLink) {
  std::string text = replaced(kCluster, "[Link-0-sink]\nbandwidth=1000 * mbps\nlatency=1 * MilliSec\n", "");
  expect_contains(import_error(text),
                  {at(text, "connected_nodes=['source', 1, 'sink']"), "[ComputeNode-0] connected_nodes",
                   "lists 'sink' but there is no [Link-0-sink] section"});
}

TEST_F(PaperImportErrors, SourceListDisagreesWithLinks) {
  std::string text =
      replaced(kCluster, "[SourceNode]\nconnected_nodes=[0, 1]", "[SourceNode]\nconnected_nodes=[0]");
  expect_contains(import_error(text),
                  {at(text, "[Link-source-1]"), "[SourceNode] connected_nodes does not list 1"});
  text = replaced(kCluster, "[SinkNode]\nconnected_nodes=[0, 1]", "[SinkNode]\nconnected_nodes=[0, 1, 1]");
  expect_contains(import_error(text),
                  {at(text, "connected_nodes=[0, 1, 1]"), "[SinkNode] connected_nodes", "twice"});
}

TEST_F(PaperImportErrors, UnknownMachineType) {
  std::string text = replaced(kCluster, "type=T4", "type=T5");
  expect_contains(import_error(text),
                  {at(text, "type=T5"), "[ComputeNode-1] type", "'T5'", "machine_profiles.ini"});
}

TEST_F(PaperImportErrors, BadExpressionAndUnknownKey) {
  std::string text = replaced(kCluster, "10.6 * mbps", "10.6 * mpbs");
  expect_contains(import_error(text), {at(text, "mpbs"), "[Link-0-1] bandwidth", "unknown unit 'mpbs'"});
  text = replaced(kCluster, "bandwidth=10.6", "bandwith=10.6");
  expect_contains(import_error(text),
                  {at(text, "bandwith"), "[Link-0-1] bandwith", "unknown key", "bandwidth"});
  std::string profiles = replaced(kProfiles, "vram_size = 16 * GB", "vram_size = -16 * GB");
  expect_contains(import_error(kCluster, profiles),
                  {at(profiles, "-16", "machine_profiles.ini"), "[T4] vram_size", "negative"});
}

TEST_F(PaperImportErrors, MissingKeyAndUnknownSection) {
  std::string text = replaced(kCluster, "type=A100\n", "");
  expect_contains(import_error(text), {at(text, "[ComputeNode-0]"), "[ComputeNode-0]", "missing key 'type'"});
  text = replaced(kCluster, "[ComputeNode-1]", "[ComputeNode-2]");
  expect_contains(import_error(text), {at(text, "[ComputeNode-2]"), "not a node of this cluster"});
  text = kCluster + std::string("\n[Lnk-0-1]\nbandwidth=1 * mbps\n");
  expect_contains(import_error(text), {at(text, "[Lnk-0-1]"), "unknown section"});
}

TEST_F(PaperImportErrors, DuplicateLinkSection) {
  std::string text = kCluster + std::string("\n[Link-1-0]\nbandwidth=1 * mbps\nlatency=1 * MilliSec\n");
  expect_contains(import_error(text), {at(text, "[Link-1-0]"), "same link as [Link-0-1]"});
}

TEST_F(PaperImportErrors, SimulatorClusterBadEndpoint) {
  std::string text = R"([Coordinator]
inbound_nic_speed=10000.0 * mbps
outbound_nic_speed=10000.0 * mbps

[MachineTypes]
types=['T4']

[ComputeNodes]
names=['compute_node_2']

[compute_node_2]
vram_size=16000.0 * MB
inbound_nic_speed=10000.0 * mbps
outbound_nic_speed=10000.0 * mbps
disk_speed=1000.0 * mbps
machine_type="T4"
kv_cache_capacity=1000
activation_backup_capacity=0

[Links]
names=['link_source_compute_node_2', 'link_compute_node_2_sink']

[link_source_compute_node_2]
in=source
out=compute_node_2
latency=1.0 * MilliSec
bandwidth=1000.0 * mbps

[link_compute_node_2_sink]
in=compute_node_2
out=compute_node_3
latency=1.0 * MilliSec
bandwidth=1000.0 * mbps
)";
  auto good = dir_.write("good/simulator_cluster.ini", replaced(text, "out=compute_node_3", "out=sink"));
  PaperSimulatorCluster s = import_paper_simulator_cluster(good);
  EXPECT_EQ(s.links, (std::vector<std::pair<int, int>>{{kCoordinator, 0}, {0, kCoordinator}}));
  EXPECT_EQ(s.kv_cache_capacity, std::vector<double>{1000});
  auto bad = dir_.write("simulator_cluster.ini", text);
  expect_contains(error_message([&] { import_paper_simulator_cluster(bad); }),
                  {"simulator_cluster.ini:" + std::to_string(line_of(text, "out=compute_node_3")) + ":",
                   "[link_compute_node_2_sink] out", "'compute_node_3'"});
  auto gap = dir_.write("gap/simulator_cluster.ini",
                        replaced(text, "names=['compute_node_2']", "names=['compute_node_5']"));
  expect_contains(error_message([&] { import_paper_simulator_cluster(gap); }),
                  {"[ComputeNodes] names", "compute_node_2"});
}

}  // namespace
}  // namespace helix
