#include "helix/cluster/cluster_yaml.h"

#include <gtest/gtest.h>

#include "cluster_test_util.h"
#include "helix/cluster/gpu_catalog.h"
#include "helix/cluster/paper_import.h"
#include "support/test_support.h"

namespace helix {
namespace {

using test::artifact;
using test::error_message;
using test::expect_contains;

std::filesystem::path example(const std::string& name) {
  return test::source_dir() / "examples/clusters" / name;
}

const GpuType* type_named(const ClusterSpec& c, const std::string& name) {
  for (const auto& t : c.gpu_types) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Same nodes, types, regions, coordinator and links, numbers bit-exact.
void expect_same_cluster(const ClusterSpec& a, const ClusterSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.regions, b.regions);
  ASSERT_EQ(a.gpu_types.size(), b.gpu_types.size());
  for (std::size_t i = 0; i < a.gpu_types.size(); ++i) {
    const GpuType& x = a.gpu_types[i];
    const GpuType& y = b.gpu_types[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.vram_bytes, y.vram_bytes) << x.name;
    EXPECT_EQ(x.nic_in_Bps, y.nic_in_Bps) << x.name;
    EXPECT_EQ(x.nic_out_Bps, y.nic_out_Bps) << x.name;
    EXPECT_EQ(x.disk_Bps, y.disk_Bps) << x.name;
    EXPECT_EQ(x.mem_bandwidth_Bps, y.mem_bandwidth_Bps) << x.name;
    EXPECT_EQ(x.peak_flops, y.peak_flops) << x.name;
    EXPECT_EQ(x.profile_name, y.profile_name) << x.name;
  }
  ASSERT_EQ(a.num_nodes(), b.num_nodes());
  for (int i = 0; i < a.num_nodes(); ++i) {
    EXPECT_EQ(a.nodes[i].name, b.nodes[i].name);
    EXPECT_EQ(a.nodes[i].gpu_type, b.nodes[i].gpu_type) << a.nodes[i].name;
    EXPECT_EQ(a.nodes[i].region, b.nodes[i].region) << a.nodes[i].name;
    EXPECT_EQ(a.nodes[i].device, b.nodes[i].device) << a.nodes[i].name;
  }
  EXPECT_EQ(a.coordinator.region, b.coordinator.region);
  EXPECT_EQ(a.coordinator.nic_in_Bps, b.coordinator.nic_in_Bps);
  EXPECT_EQ(a.coordinator.nic_out_Bps, b.coordinator.nic_out_Bps);
  EXPECT_EQ(a.links.size(), b.links.size());
  for (const auto& l : a.links) {
    const Link* m = b.find_link(l.from, l.to);
    ASSERT_NE(m, nullptr) << a.endpoint_name(l.from) << " -> " << a.endpoint_name(l.to);
    EXPECT_EQ(l.bandwidth_Bps, m->bandwidth_Bps);
    EXPECT_EQ(l.latency_s, m->latency_s);
  }
}

void expect_round_trip(const ClusterSpec& c) {
  std::string text = write_cluster_yaml(c);
  ClusterSpec back = parse_cluster_yaml(text, "written.yaml");
  expect_same_cluster(c, back);
  EXPECT_EQ(write_cluster_yaml(back), text);  // the writer is deterministic
}

TEST(ClusterYaml, Single24MatchesThePapersCluster24) {
  ClusterSpec y = load_cluster_yaml(example("single24.yaml"));
  ClusterSpec p = import_paper_cluster(artifact("single_cluster/config/cluster24.ini"),
                                       artifact("single_cluster/config/machine_profiles.ini"));
  ASSERT_EQ(y.num_nodes(), 24);
  EXPECT_EQ(y.links.size(), p.links.size());
  for (int i = 0; i < 24; ++i) {
    EXPECT_EQ(y.nodes[i].name, p.nodes[i].name);
    const GpuType& a = y.gpu_of(i);
    const GpuType& b = p.gpu_of(i);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.vram_bytes, b.vram_bytes);
    EXPECT_EQ(a.nic_in_Bps, b.nic_in_Bps);
    EXPECT_EQ(a.disk_Bps, b.disk_Bps);
    EXPECT_EQ(a.profile_name, b.profile_name);
  }
  for (const auto& l : p.links) {
    const Link* m = y.find_link(l.from, l.to);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->bandwidth_Bps, l.bandwidth_Bps);
    EXPECT_EQ(m->latency_s, l.latency_s);
  }
  EXPECT_EQ(y.coordinator.nic_in_Bps, p.coordinator.nic_in_Bps);
  EXPECT_EQ(y.coordinator.nic_out_Bps, p.coordinator.nic_out_Bps);
}

TEST(ClusterYaml, ThreeRegion24) {
  ClusterSpec c = load_cluster_yaml(example("three-region24.yaml"));
  ASSERT_EQ(c.num_nodes(), 24);
  EXPECT_EQ(c.composition(), (std::map<std::string, int>{{"A100", 4}, {"L4", 8}, {"T4", 12}}));
  EXPECT_EQ(c.nodes[4].name, "l4-0");
  EXPECT_EQ(c.nodes[14].name, "l4-2");
  EXPECT_EQ(c.nodes[23].name, "t4-11");
  ClusterSpec paper = import_paper_cluster(artifact("distributed_clusters/config/3cluster24.ini"),
                                           artifact("distributed_clusters/config/machine_profiles.ini"));
  for (int i = 0; i < 24; ++i) {
    EXPECT_EQ(c.gpu_of(i).name, paper.gpu_of(i).name) << i;
    EXPECT_EQ(c.nodes[i].region, paper.nodes[i].region) << i;
  }
  EXPECT_EQ(c.find_link(0, 3)->bandwidth_Bps, 1.25e9);
  EXPECT_EQ(c.find_link(0, 5)->bandwidth_Bps, 12.5e6);
  EXPECT_EQ(c.find_link(0, 5)->latency_s, 0.05);
  EXPECT_EQ(c.find_link(kCoordinator, 0)->bandwidth_Bps, 12.5e6);
  EXPECT_EQ(c.links.size(), 24u * 23u + 48u);
}

TEST(ClusterYaml, H100Example) {
  ClusterSpec c = load_cluster_yaml(example("h100-a10g-llama3.yaml"));
  EXPECT_EQ(c.composition(), (std::map<std::string, int>{{"A10G", 4}, {"H100", 2}, {"L4", 4}}));
  const GpuType* h100 = type_named(c, "H100");
  ASSERT_NE(h100, nullptr);
  EXPECT_EQ(h100->vram_bytes, find_catalog_gpu("H100")->vram_bytes);  // kept from the catalog
  EXPECT_EQ(h100->nic_in_Bps, 100e9 / 8);
  EXPECT_EQ(h100->disk_Bps, 2e9);
  int h0 = c.node_index("h100-0");
  int h1 = c.node_index("h100-1");
  EXPECT_EQ(c.find_link(h0, h1)->bandwidth_Bps, 100e9 / 8);
  EXPECT_EQ(c.find_link(h1, h0)->latency_s, 0.05e-3);
  EXPECT_EQ(c.find_link(h0, c.node_index("l4-0"))->latency_s, 0.06);
}

TEST(ClusterYaml, RoundTripsTheExamples) {
  for (auto name : {"single24.yaml", "three-region24.yaml", "h100-a10g-llama3.yaml"}) {
    SCOPED_TRACE(name);
    expect_round_trip(load_cluster_yaml(example(name)));
  }
}

TEST(ClusterYaml, RoundTripsThePapersClustersExactly) {
  expect_round_trip(import_paper_cluster(artifact("distributed_clusters/config/3cluster24.ini"),
                                         artifact("distributed_clusters/config/machine_profiles.ini")));
  expect_round_trip(
      import_paper_cluster(artifact("high_heterogeneity/layout_llama70b/ilp/pruned_cluster.ini"),
                           artifact("high_heterogeneity/config/machine_profiles.ini")));
  expect_round_trip(
      import_paper_simulator_cluster(artifact("single_cluster/layout_llama70b/petals/simulator_cluster.ini"))
          .cluster);
}

TEST(ClusterYaml, WriterIsCompact) {
  std::string text = write_cluster_yaml(load_cluster_yaml(example("three-region24.yaml")));
  EXPECT_NE(text.find("format: helix-cluster/1"), std::string::npos) << text;
  EXPECT_NE(text.find("t4-{i}"), std::string::npos) << text;
  EXPECT_NE(text.find("bandwidth: 1.25 GB/s, latency: 1 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("bandwidth: 12.5 MB/s, latency: 50 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("vram: 40 GB"), std::string::npos) << text;
  EXPECT_EQ(text.find("links:"), std::string::npos) << text;  // the defaults cover every link
}

constexpr const char* kSmall = R"(format: helix-cluster/1
gpu_types:
  A100: {vram: 80 GB}
  MyGPU: {vram: 32 GB, memory_bandwidth: 1 TB/s, peak_flops: 200 TFLOP/s}
  FastL4: {base: L4, nic_in: 50 Gbps}
regions: [east, west]
coordinator: {region: east, nic_out: 40 Gbps}
network:
  in_region: {bandwidth: 10 Gbps, latency: 1 ms}
  cross_region: {bandwidth: 1 Gbps, latency: 30 ms}
  region_pairs:
    - {between: [west, west], latency: 2 ms}
  links:
    - {from: a-0, to: b-0, bandwidth: 5 Gbps}
    - {from: coordinator, to: b-1, one_way: true, bandwidth: 100 Mbps, latency: 80 ms}
    - {from: a-1, to: b-1, remove: true}
    - {from: b-0, to: a-1, remove: true, one_way: true}
nodes:
  - {name: "a-{i}", count: 2, gpu: A100, region: east}
  - {name: "b-{i}", count: 2, gpu: FastL4, region: west}
  - {name: c, gpu: MyGPU, region: west}
)";

// Devices: one for a node, one for every node of a `count` entry, GPU i for node i
// (cuda:{i}, counted from `first`), none (the worker's choice); written back in as
// few entries as they allow, and read back the same.
TEST(ClusterYaml, NodesNameTheirDevices) {
  const ClusterSpec c = parse_cluster_yaml(R"(format: helix-cluster/1
network:
  in_region: {bandwidth: 10 Gbps, latency: 1 ms}
nodes:
  - {name: "h100-{i}", count: 4, gpu: H100, device: "cuda:{i}"}
  - {name: "l4-{i}", count: 2, first: 2, gpu: L4, device: "cuda:{i}"}
  - {name: "t4-{i}", count: 2, gpu: T4, device: cuda:1}
  - {name: cpu-0, gpu: T4, device: cpu}
  - {name: other, gpu: T4}
)",
                                           "devices.yaml");
  ASSERT_EQ(c.num_nodes(), 10);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c.nodes[i].device, (DeviceName{true, i})) << c.nodes[i].name;
  EXPECT_EQ(c.nodes[4].device, (DeviceName{true, 2}));
  EXPECT_EQ(c.nodes[5].device, (DeviceName{true, 3}));
  EXPECT_EQ(c.nodes[6].device, (DeviceName{true, 1}));
  EXPECT_EQ(c.nodes[7].device, (DeviceName{true, 1}));
  EXPECT_EQ(c.nodes[8].device, DeviceName{});
  EXPECT_EQ(c.nodes[9].device, std::nullopt);
  expect_round_trip(c);
  const std::string text = write_cluster_yaml(c);
  EXPECT_NE(text.find("count: 4, gpu: H100, region: default, device: \"cuda:{i}\"}"), std::string::npos)
      << text;
  EXPECT_NE(text.find("count: 2, gpu: T4, region: default, device: cuda:1}"), std::string::npos) << text;
  EXPECT_NE(text.find("name: cpu-0, gpu: T4, region: default, device: cpu"), std::string::npos) << text;

  // A run of names whose devices follow neither rule is written node by node.
  ClusterSpec mixed = c;
  mixed.nodes[1].device = DeviceName{true, 3};
  expect_round_trip(mixed);
  EXPECT_NE(write_cluster_yaml(mixed).find("name: h100-1, gpu: H100, region: default, device: cuda:3"),
            std::string::npos)
      << write_cluster_yaml(mixed);
}

TEST(ClusterYaml, GpuTypesOverrideAndExtendTheCatalog) {
  ClusterSpec c = parse_cluster_yaml(kSmall, "small.yaml");
  EXPECT_EQ(c.name, "small");
  ASSERT_EQ(c.gpu_types.size(), 3u);  // the defined types, in file order
  const GpuType& a100 = c.gpu_types[0];
  EXPECT_EQ(a100.vram_bytes, 80e9);
  EXPECT_EQ(a100.profile_name, "A100");
  EXPECT_EQ(a100.mem_bandwidth_Bps, find_catalog_gpu("A100")->mem_bandwidth_Bps);
  const GpuType& mine = c.gpu_types[1];
  EXPECT_EQ(mine.profile_name, "");
  EXPECT_EQ(mine.mem_bandwidth_Bps, 1e12);
  EXPECT_EQ(mine.peak_flops, 200e12);
  EXPECT_EQ(mine.nic_in_Bps, 1.25e9);  // documented default, 10 Gbps
  const GpuType& fast = c.gpu_types[2];
  EXPECT_EQ(fast.profile_name, "L4");
  EXPECT_EQ(fast.nic_in_Bps, 50e9 / 8);
  EXPECT_EQ(fast.nic_out_Bps, find_catalog_gpu("L4")->nic_out_Bps);
  EXPECT_EQ(c.coordinator.nic_out_Bps, 5e9);
  EXPECT_EQ(c.coordinator.nic_in_Bps, 1.25e9);
}

TEST(ClusterYaml, NetworkDefaultsPairsAndLinkOverrides) {
  ClusterSpec c = parse_cluster_yaml(kSmall, "small.yaml");
  int a0 = c.node_index("a-0"), a1 = c.node_index("a-1"), b0 = c.node_index("b-0"), b1 = c.node_index("b-1"),
      cc = c.node_index("c");
  EXPECT_EQ(c.find_link(a0, a1)->bandwidth_Bps, 1.25e9);
  EXPECT_EQ(c.find_link(b0, cc)->latency_s, 2e-3);  // region pair override keeps bandwidth
  EXPECT_EQ(c.find_link(b0, cc)->bandwidth_Bps, 1.25e9);
  EXPECT_EQ(c.find_link(a0, b0)->bandwidth_Bps, 5e9 / 8);  // both ways, latency kept
  EXPECT_EQ(c.find_link(b0, a0)->bandwidth_Bps, 5e9 / 8);
  EXPECT_EQ(c.find_link(b0, a0)->latency_s, 0.03);
  EXPECT_EQ(c.find_link(kCoordinator, b1)->latency_s, 0.08);  // one way
  EXPECT_EQ(c.find_link(b1, kCoordinator)->latency_s, 0.03);
  EXPECT_EQ(c.find_link(a1, b1), nullptr);  // removed both ways
  EXPECT_EQ(c.find_link(b1, a1), nullptr);
  EXPECT_EQ(c.find_link(b0, a1), nullptr);  // removed one way
  EXPECT_NE(c.find_link(a1, b0), nullptr);
  expect_round_trip(c);
}

TEST(ClusterYaml, SingleRegionNeedsNoRegionFields) {
  ClusterSpec c = parse_cluster_yaml(R"(format: helix-cluster/1
network: {in_region: {bandwidth: 1 GB/s, latency: 1 ms}}
nodes: [{name: "t4-{i}", count: 3, first: 5, gpu: T4}]
)",
                                     "x.yaml");
  EXPECT_EQ(c.regions, std::vector<std::string>{"default"});
  EXPECT_EQ(c.nodes[0].name, "t4-5");
  EXPECT_EQ(c.nodes[2].name, "t4-7");
  EXPECT_EQ(c.links.size(), 12u);
}

TEST(ClusterYaml, LoadClusterDispatchesOnTheExtension) {
  EXPECT_EQ(load_cluster(example("single24.yaml")).num_nodes(), 24);
  EXPECT_EQ(load_cluster(artifact("single_cluster/config/cluster24.ini")).num_nodes(), 24);
  EXPECT_EQ(load_cluster(artifact("distributed_clusters/layout_llama70b/ilp/pruned_cluster.ini"),
                         artifact("distributed_clusters/config/machine_profiles.ini"))
                .num_nodes(),
            24);
  test::TempDir dir;
  auto ini = dir.write("c.ini", "[NodeNames]\ntotal_compute_nodes=1\n");
  expect_contains(error_message([&] { load_cluster(ini); }), {"c.ini", "machine_profiles.ini"});
  auto txt = dir.write("c.json", "{}");
  expect_contains(error_message([&] { load_cluster(txt); }), {"c.json", "unknown cluster file type"});
  expect_contains(error_message([&] { load_cluster(dir.path() / "missing.yaml"); }),
                  {"missing.yaml", "cannot open"});
}

TEST(ClusterYaml, RoundTripIsBitExactForAwkwardNumbers) {
  ClusterSpec c;
  c.name = "odd";
  GpuType t;
  t.name = "Odd";
  t.vram_bytes = 12345678901;
  t.nic_in_Bps = 1.2345678901234e9;
  t.nic_out_Bps = 0.1 + 0.2;
  t.disk_Bps = 3e-3;
  t.mem_bandwidth_Bps = 1.0 / 3.0 * 1e12;
  t.peak_flops = 1e14 / 7;
  c.gpu_types = {t};
  c.regions = {"r 1", "r: 2"};
  c.nodes = {{"n-0", 0, 0}, {"n-1", 0, 1}, {"gpu #7", 0, 1}, {"007", 0, 0}};
  c.coordinator = {1, 5e9, 7e-9};
  c.links = {{kCoordinator, 0, 1e9 / 3, 3.3e-5},
             {0, 1, 123.456e6, 0.0123456789},
             {1, 0, 0.5, 0},
             {2, 3, 1e-300, 1e300}};
  c.index_links();
  expect_round_trip(c);
}

}  // namespace
}  // namespace helix
