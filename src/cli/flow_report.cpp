#include "flow_report.h"

#include <map>

#include "cli_common.h"

namespace helix::cli {
namespace {

const char* kind_name(ArcKind kind) {
  switch (kind) {
    case ArcKind::Compute: return "compute";
    case ArcKind::NicIn: return "nic_in";
    case ArcKind::NicOut: return "nic_out";
    case ArcKind::CoordinatorOut: return "coordinator_out";
    case ArcKind::CoordinatorIn: return "coordinator_in";
    case ArcKind::Link: return "link";
  }
  return "unknown";
}

// Flow and capacity through each node's compute arc.
struct NodeFlow {
  double capacity = 0;
  double flow = 0;
};

std::vector<NodeFlow> node_flows(const FlowSolution& solution, int num_nodes) {
  std::vector<NodeFlow> flows(static_cast<std::size_t>(num_nodes));
  for (const auto& arc : solution.arcs) {
    if (arc.kind == ArcKind::Compute && arc.node >= 0 && arc.node < num_nodes) {
      flows[static_cast<std::size_t>(arc.node)] = {arc.capacity_tps, arc.flow_tps};
    }
  }
  return flows;
}

nlohmann::json arc_to_json(const FlowArc& arc, const ClusterSpec& cluster) {
  nlohmann::json j = {{"kind", kind_name(arc.kind)},
                      {"capacity_tps", arc.capacity_tps},
                      {"flow_tps", arc.flow_tps}};
  if (arc.kind == ArcKind::Link) {
    j["from"] = cluster.endpoint_name(arc.from);
    j["to"] = cluster.endpoint_name(arc.to);
  } else if (arc.node >= 0) {
    j["node"] = cluster.endpoint_name(arc.node);
  }
  return j;
}

}  // namespace

std::string node_flow_table(const FlowSolution& solution, const ClusterSpec& cluster,
                            std::span<const LayerRange> ranges) {
  auto flows = node_flows(solution, cluster.num_nodes());
  std::vector<std::vector<std::string>> rows = {
      {"node", "gpu", "layers", "k", "capacity (tok/s)", "flow (tok/s)", "use"}};
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    const LayerRange& r = ranges[static_cast<std::size_t>(i)];
    const NodeFlow& f = flows[static_cast<std::size_t>(i)];
    bool used = !r.empty();
    rows.push_back({cluster.nodes[static_cast<std::size_t>(i)].name, cluster.gpu_of(i).name,
                    to_string(r), used ? std::to_string(r.size()) : "-",
                    used ? fixed(f.capacity) : "-", used ? fixed(f.flow) : "-",
                    used && f.capacity > 0 ? fixed(100.0 * f.flow / f.capacity, 0) + "%" : "-"});
  }
  return format_table(rows);
}

nlohmann::json flow_to_json(const FlowSolution& solution, const ClusterSpec& cluster,
                            std::span<const LayerRange> ranges) {
  auto flows = node_flows(solution, cluster.num_nodes());
  nlohmann::json nodes = nlohmann::json::array();
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    const LayerRange& r = ranges[static_cast<std::size_t>(i)];
    nlohmann::json node = {{"name", cluster.nodes[static_cast<std::size_t>(i)].name},
                           {"gpu", cluster.gpu_of(i).name}};
    if (r.empty()) {
      node["unused"] = true;
    } else {
      node["start"] = r.start;
      node["end"] = r.end;
      node["capacity_tps"] = flows[static_cast<std::size_t>(i)].capacity;
      node["flow_tps"] = flows[static_cast<std::size_t>(i)].flow;
    }
    nodes.push_back(node);
  }
  nlohmann::json links = nlohmann::json::array();
  for (const auto& arc : solution.arcs) {
    if (arc.kind == ArcKind::Link && arc.flow_tps > 0) links.push_back(arc_to_json(arc, cluster));
  }
  nlohmann::json cut = nlohmann::json::array();
  for (int index : solution.min_cut) {
    cut.push_back(arc_to_json(solution.arcs[static_cast<std::size_t>(index)], cluster));
  }
  return {{"max_flow_tps", solution.max_flow_tps},
          {"nodes", nodes},
          {"links_with_flow", links},
          {"min_cut", cut},
          {"min_cut_text", describe_min_cut(solution, cluster, ranges)}};
}

std::string composition_text(const ClusterSpec& cluster) {
  std::string text;
  for (const auto& [type, count] : cluster.composition()) {
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", count, type);
  }
  return text;
}

}  // namespace helix::cli
