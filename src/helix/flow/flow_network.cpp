// Link selection, the two flow networks of flow_network.h on MaxFlow, and the
// min cut in words. The planner network itself is planner_graph.h.
//
// Simulator graph (spec §3): 0 = source, 1 = sink, 2 = coordinator out, 3 =
// coordinator in, node i = {4+4i in, 5+4i start, 6+4i end, 7+4i out}.
//
// Every path from source to sink crosses at least one compute arc, so the sum of
// the compute capacities bounds the max flow; it is passed to MaxFlow to sharpen
// its fixed-point scale (max_flow.h).
#include "helix/flow/flow_network.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "helix/core/error.h"
#include "helix/core/units.h"
#include "helix/flow/flow_arcs.h"
#include "helix/flow/max_flow.h"
#include "helix/flow/planner_graph.h"

namespace helix {
namespace {

using flow_internal::add_arc;
using flow_internal::at;
using flow_internal::check_ranges;
using flow_internal::kSink;
using flow_internal::kSource;
using flow_internal::link_arc;
using flow_internal::node_arc;
using flow_internal::PlannerGraph;

// May a pipeline go from i straight on to j? Spec §2.10 (e_i = s_j) and, with
// partial inference, §5.1 (s_j < e_i < e_j: j runs only its layers past e_i).
bool continues(const LayerRange& i, const LayerRange& j, bool allow_partial) {
  if (i.empty() || j.empty()) return false;
  if (i.end == j.start) return true;
  return allow_partial && j.start < i.end && i.end < j.end;
}

// Drops links into nodes with no outgoing link, then (one pass, on what is left)
// links out of nodes with no incoming link; the coordinator is exempt (§2.10).
void drop_dangling(std::vector<LinkPair>& links, int num_nodes) {
  std::vector<char> has_out(at(num_nodes), 0);
  for (const auto& [from, to] : links) {
    if (from != kCoordinator) has_out[at(from)] = 1;
  }
  std::erase_if(links, [&](const LinkPair& l) {
    return l.second != kCoordinator && !has_out[at(l.second)];
  });
  std::vector<char> has_in(at(num_nodes), 0);
  for (const auto& [from, to] : links) {
    if (to != kCoordinator) has_in[at(to)] = 1;
  }
  std::erase_if(links, [&](const LinkPair& l) {
    return l.first != kCoordinator && !has_in[at(l.first)];
  });
}

// Solves a described network fully: every arc's flow and the min-cut arcs (those
// leaving the source side; zero-capacity arcs are left out, they bind nothing).
FlowSolution solve_described(MaxFlow& flow, double flow_bound, std::vector<FlowArc> arcs) {
  FlowSolution solution;
  solution.max_flow_tps = flow.solve(kSource, kSink, MaxFlow::Output::FlowAndCut, flow_bound);
  for (int a = 0; a < flow.num_arcs(); ++a) {
    FlowArc& arc = arcs[at(a)];
    arc.flow_tps = flow.flow(a);
    if (arc.capacity_tps > 0 && flow.crosses_cut(a)) solution.min_cut.push_back(a);
  }
  solution.arcs = std::move(arcs);
  return solution;
}

// Simulator graph helpers (spec §3).
int sim_in(int i) { return 4 + 4 * i; }
int sim_start(int i) { return 5 + 4 * i; }
int sim_end(int i) { return 6 + 4 * i; }
int sim_out(int i) { return 7 + 4 * i; }
constexpr int kCoordinatorOut = 2;
constexpr int kCoordinatorIn = 3;

// The links the simulator graph uses: the given ones, checked against the
// cluster, minus those touching a node that holds no layers (it can carry nothing).
std::vector<LinkPair> usable_links(const ClusterSpec& cluster, std::span<const LayerRange> ranges,
                                   std::span<const LinkPair> links) {
  const int n = cluster.num_nodes();
  auto valid = [n](int e) { return e == kCoordinator || (e >= 0 && e < n); };
  std::vector<LinkPair> usable;
  for (const auto& [from, to] : links) {
    if (!valid(from) || !valid(to) || from == to) fail("flow network: bad link {} -> {}", from, to);
    if (!cluster.find_link(from, to)) {
      fail("flow network: the cluster has no link {} -> {}", cluster.endpoint_name(from),
           cluster.endpoint_name(to));
    }
    if (from != kCoordinator && ranges[at(from)].empty()) continue;
    if (to != kCoordinator && ranges[at(to)].empty()) continue;
    usable.emplace_back(from, to);
  }
  return usable;
}

// Bytes per token on a node's NIC (spec §3): token size alone when the node's only
// neighbour on that side is the coordinator, token + activation otherwise.
struct NicBytes {
  std::vector<double> in, out;
};

NicBytes nic_bytes(int n, std::span<const LinkPair> links, const ModelSpec& model) {
  std::vector<int> in_count(at(n), 0), out_count(at(n), 0);
  std::vector<char> in_coord(at(n), 0), out_coord(at(n), 0);
  for (const auto& [from, to] : links) {
    if (to != kCoordinator) {
      ++in_count[at(to)];
      if (from == kCoordinator) in_coord[at(to)] = 1;
    }
    if (from != kCoordinator) {
      ++out_count[at(from)];
      if (to == kCoordinator) out_coord[at(from)] = 1;
    }
  }
  const double token = model.token_size_bytes;
  const double both = token + model.activation_bytes_per_token;
  NicBytes bytes{std::vector<double>(at(n), both), std::vector<double>(at(n), both)};
  for (int i = 0; i < n; ++i) {
    if (in_count[at(i)] == 1 && in_coord[at(i)]) bytes.in[at(i)] = token;
    if (out_count[at(i)] == 1 && out_coord[at(i)]) bytes.out[at(i)] = token;
  }
  return bytes;
}

// Per non-empty node: NIC in, compute T(k), NIC out (spec §3). Returns the sum
// of the compute capacities, a bound on the max flow.
double add_simulator_nodes(MaxFlow& flow, std::vector<FlowArc>& arcs, const ClusterSpec& cluster,
                           const ModelSpec& model, const PerfModel& perf, std::span<const LayerRange> ranges,
                           std::span<const LinkPair> links) {
  const NicBytes bytes = nic_bytes(cluster.num_nodes(), links, model);
  double bound = 0;
  for (int i = 0; i < cluster.num_nodes(); ++i) {
    const LayerRange& r = ranges[at(i)];
    if (r.empty()) continue;
    const GpuType& gpu = cluster.gpu_of(i);
    const double compute = perf.throughput(i, r.size());
    bound += compute;
    const double nic_in = gpu.nic_in_Bps / bytes.in[at(i)];
    const double nic_out = gpu.nic_out_Bps / bytes.out[at(i)];
    add_arc(flow, &arcs, sim_in(i), sim_start(i), node_arc(ArcKind::NicIn, i, nic_in));
    add_arc(flow, &arcs, sim_start(i), sim_end(i), node_arc(ArcKind::Compute, i, compute));
    add_arc(flow, &arcs, sim_end(i), sim_out(i), node_arc(ArcKind::NicOut, i, nic_out));
  }
  return bound;
}

// Each link u -> v: bandwidth / token size for coordinator hops, / (token +
// activation) between nodes (spec §1.7, §3).
void add_simulator_links(MaxFlow& flow, std::vector<FlowArc>& arcs, const ClusterSpec& cluster,
                         const ModelSpec& model, std::span<const LinkPair> links) {
  const double token = model.token_size_bytes;
  const double both = token + model.activation_bytes_per_token;
  for (const auto& [from, to] : links) {
    const bool coordinator_hop = from == kCoordinator || to == kCoordinator;
    const double capacity = cluster.find_link(from, to)->bandwidth_Bps / (coordinator_hop ? token : both);
    add_arc(flow, &arcs, from == kCoordinator ? kCoordinatorOut : sim_out(from),
            to == kCoordinator ? kCoordinatorIn : sim_in(to), link_arc(from, to, capacity));
  }
}

// "1 node binds", "2 nodes bind".
std::string binding(int count, const char* one, const char* many) {
  return fmt::format("{} {} {}", count, count == 1 ? one : many, count == 1 ? "binds" : "bind");
}

std::string counted(int count, const char* one, const char* many) {
  return fmt::format("{} {}", count, count == 1 ? one : many);
}

// "n3 (T4" — a node and its machine type, the start of every node line.
std::string node_label(const ClusterSpec& cluster, int node) {
  return fmt::format("{} ({}", cluster.nodes.at(at(node)).name, cluster.gpu_of(node).name);
}

std::string describe_arc(const FlowArc& arc, const ClusterSpec& cluster, std::span<const LayerRange> ranges) {
  const double cap = arc.capacity_tps;
  switch (arc.kind) {
    case ArcKind::Compute:
      return fmt::format("node {}, layers {}): {:.2f} tokens/s", node_label(cluster, arc.node),
                         to_string(ranges[at(arc.node)]), cap);
    case ArcKind::NicIn:
      return fmt::format("receiving NIC of node {}, {}): {:.2f} tokens/s", node_label(cluster, arc.node),
                         format_bandwidth(cluster.gpu_of(arc.node).nic_in_Bps), cap);
    case ArcKind::NicOut:
      return fmt::format("sending NIC of node {}, {}): {:.2f} tokens/s", node_label(cluster, arc.node),
                         format_bandwidth(cluster.gpu_of(arc.node).nic_out_Bps), cap);
    case ArcKind::CoordinatorOut:
      return fmt::format("sending NIC of the coordinator ({}): {:.2f} tokens/s",
                         format_bandwidth(cluster.coordinator.nic_out_Bps), cap);
    case ArcKind::CoordinatorIn:
      return fmt::format("receiving NIC of the coordinator ({}): {:.2f} tokens/s",
                         format_bandwidth(cluster.coordinator.nic_in_Bps), cap);
    case ArcKind::Link: {
      const Link* link = cluster.find_link(arc.from, arc.to);
      return fmt::format("link {} -> {} ({}): {:.2f} tokens/s", cluster.endpoint_name(arc.from),
                         cluster.endpoint_name(arc.to), link ? format_bandwidth(link->bandwidth_Bps) : "?", cap);
    }
  }
  return "?";
}

// Grouping the min cut (describe_min_cut): a large cut reads as a few lines when
// alike elements share one — nodes of one machine type holding one range, NICs of
// one machine type, links between one pair of regions. Groups keep the order of
// their first element in the cut; a group of one reads as describe_arc().
struct CutGroup {
  std::vector<int> arcs;  // indices into FlowSolution::arcs
};

// "coordinator" or the node's region name, for grouping links.
std::string region_of(const ClusterSpec& cluster, int endpoint) {
  if (endpoint == kCoordinator) return "coordinator";
  const int region = cluster.nodes.at(at(endpoint)).region;
  if (region >= 0 && region < static_cast<int>(cluster.regions.size())) return cluster.regions[at(region)];
  return fmt::format("region {}", region);
}

std::string group_key(const FlowArc& arc, const ClusterSpec& cluster, std::span<const LayerRange> ranges) {
  const int kind = static_cast<int>(arc.kind);
  switch (arc.kind) {
    case ArcKind::Compute:
      return fmt::format("{}|{}|{}", kind, cluster.gpu_of(arc.node).name, to_string(ranges[at(arc.node)]));
    case ArcKind::NicIn:
    case ArcKind::NicOut:
      return fmt::format("{}|{}", kind, cluster.gpu_of(arc.node).name);
    case ArcKind::Link:
      return fmt::format("{}|{}|{}", kind, region_of(cluster, arc.from), region_of(cluster, arc.to));
    default:
      return std::to_string(kind);
  }
}

std::vector<CutGroup> group_cut(const FlowSolution& solution, const ClusterSpec& cluster,
                                std::span<const LayerRange> ranges) {
  std::vector<CutGroup> groups;
  std::map<std::string, std::size_t> index;
  for (int a : solution.min_cut) {
    const auto [it, added] = index.emplace(group_key(solution.arcs.at(at(a)), cluster, ranges), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].arcs.push_back(a);
  }
  return groups;
}

// "2 L4 holding layers 53-59", "3 receiving NICs of T4 nodes", "4 links r0 -> r1 at 1 Gbps".
std::string group_subject(const CutGroup& group, const FlowSolution& solution, const ClusterSpec& cluster,
                          std::span<const LayerRange> ranges) {
  const FlowArc& first = solution.arcs.at(at(group.arcs.front()));
  const std::size_t count = group.arcs.size();
  switch (first.kind) {
    case ArcKind::Compute:
      return fmt::format("{} {} holding layers {}", count, cluster.gpu_of(first.node).name,
                         to_string(ranges[at(first.node)]));
    case ArcKind::NicIn:
    case ArcKind::NicOut:
      return fmt::format("{} {} NICs of {} nodes", count, first.kind == ArcKind::NicIn ? "receiving" : "sending",
                         cluster.gpu_of(first.node).name);
    default:
      break;
  }
  std::string text = fmt::format("{} links {} -> {}", count, region_of(cluster, first.from), region_of(cluster, first.to));
  const Link* link = cluster.find_link(first.from, first.to);
  for (int a : group.arcs) {
    const Link* other = cluster.find_link(solution.arcs.at(at(a)).from, solution.arcs.at(at(a)).to);
    if (!link || !other || other->bandwidth_Bps != link->bandwidth_Bps) return text;
  }
  return text + " at " + format_bandwidth(link->bandwidth_Bps) + " each";
}

// "ComputeNode-3, ComputeNode-5" or "n0 -> n1, n2 -> n3"; long lists end in "and N more".
std::string group_members(const CutGroup& group, const FlowSolution& solution, const ClusterSpec& cluster) {
  constexpr std::size_t kShown = 6;
  std::string text;
  for (std::size_t m = 0; m < group.arcs.size() && m < kShown; ++m) {
    const FlowArc& arc = solution.arcs.at(at(group.arcs[m]));
    const std::string member = arc.kind == ArcKind::Link
                                   ? cluster.endpoint_name(arc.from) + " -> " + cluster.endpoint_name(arc.to)
                                   : cluster.endpoint_name(arc.node);
    text += (m == 0 ? "" : ", ") + member;
  }
  if (group.arcs.size() > kShown) text += fmt::format(" and {} more", group.arcs.size() - kShown);
  return text;
}

// "2 × 531.70 = 1063.40 tokens/s" when the capacities agree, "300.00 + 350.00 = 650.00
// tokens/s" for a few that differ, "1063.40 tokens/s in total (300.00 to 350.00 each)" beyond.
std::string group_capacity(const CutGroup& group, const FlowSolution& solution) {
  std::vector<std::string> each;
  double total = 0, low = 0, high = 0;
  for (int a : group.arcs) {
    const double cap = solution.arcs.at(at(a)).capacity_tps;
    low = each.empty() ? cap : std::min(low, cap);
    high = each.empty() ? cap : std::max(high, cap);
    total += cap;
    each.push_back(fmt::format("{:.2f}", cap));
  }
  if (std::all_of(each.begin(), each.end(), [&](const std::string& c) { return c == each.front(); })) {
    return fmt::format("{} × {} = {:.2f} tokens/s", each.size(), each.front(), total);
  }
  if (each.size() <= 4) return fmt::format("{} = {:.2f} tokens/s", fmt::join(each, " + "), total);
  return fmt::format("{:.2f} tokens/s in total ({:.2f} to {:.2f} each)", total, low, high);
}

std::string describe_group(const CutGroup& group, const FlowSolution& solution, const ClusterSpec& cluster,
                           std::span<const LayerRange> ranges) {
  if (group.arcs.size() == 1) return describe_arc(solution.arcs.at(at(group.arcs.front())), cluster, ranges);
  return fmt::format("{} ({}): {}", group_subject(group, solution, cluster, ranges),
                     group_members(group, solution, cluster), group_capacity(group, solution));
}

// The last line of describe_min_cut(): what kind of resource binds, and the value.
std::string cut_summary(int nodes, int network, double value) {
  if (nodes + network == 0) {
    return "no pipeline reaches from the coordinator through every layer and back: max flow is 0 tokens/s";
  }
  if (network == 0) {
    return fmt::format("compute-bound: {} ({:.2f} tokens/s)", binding(nodes, "node", "nodes"), value);
  }
  if (nodes == 0) {
    return fmt::format("network-bound: {} ({:.2f} tokens/s)", binding(network, "link or NIC", "links or NICs"),
                       value);
  }
  return fmt::format("compute and network both bind: {} and {} ({:.2f} tokens/s)", counted(nodes, "node", "nodes"),
                     counted(network, "link or NIC", "links or NICs"), value);
}

}  // namespace

std::vector<LinkPair> select_pipeline_links(const ClusterSpec& cluster, std::span<const LayerRange> ranges,
                                            int num_layers, const LinkSelection& selection) {
  check_ranges(cluster, ranges, num_layers);
  const int n = cluster.num_nodes();
  std::vector<LinkPair> links;
  for (int i = 0; i < n; ++i) {
    const LayerRange& r = ranges[at(i)];
    if (!r.empty() && r.start == 0 && cluster.find_link(kCoordinator, i)) links.emplace_back(kCoordinator, i);
  }
  for (int i = 0; i < n; ++i) {
    const LayerRange& r = ranges[at(i)];
    if (r.empty()) continue;
    for (int j = 0; j < n; ++j) {
      if (j != i && continues(r, ranges[at(j)], selection.allow_partial) && cluster.find_link(i, j)) {
        links.emplace_back(i, j);
      }
    }
    if (r.end == num_layers && cluster.find_link(i, kCoordinator)) links.emplace_back(i, kCoordinator);
  }
  if (selection.drop_dangling) drop_dangling(links, n);
  return links;
}

FlowSolution solve_planner_flow(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
                                std::span<const LayerRange> ranges) {
  PlannerGraph graph(cluster, model, perf);
  std::vector<FlowArc> arcs;
  const double bound = graph.build(ranges, &arcs);
  return solve_described(graph.flow, bound, std::move(arcs));
}

FlowSolution solve_simulator_flow(const ClusterSpec& cluster, const ModelSpec& model, const PerfModel& perf,
                                  std::span<const LayerRange> ranges, std::span<const LinkPair> links) {
  check_ranges(cluster, ranges, model.num_layers);
  const std::vector<LinkPair> usable = usable_links(cluster, ranges, links);
  MaxFlow flow;
  flow.reset(4 + 4 * cluster.num_nodes());
  std::vector<FlowArc> arcs;
  const double token = model.token_size_bytes;
  add_arc(flow, &arcs, kSource, kCoordinatorOut,
          node_arc(ArcKind::CoordinatorOut, kCoordinator, cluster.coordinator.nic_out_Bps / token));
  add_arc(flow, &arcs, kCoordinatorIn, kSink,
          node_arc(ArcKind::CoordinatorIn, kCoordinator, cluster.coordinator.nic_in_Bps / token));
  const double bound = add_simulator_nodes(flow, arcs, cluster, model, perf, ranges, usable);
  add_simulator_links(flow, arcs, cluster, model, usable);
  return solve_described(flow, bound, std::move(arcs));
}

std::vector<std::string> describe_min_cut(const FlowSolution& solution, const ClusterSpec& cluster,
                                          std::span<const LayerRange> ranges) {
  std::vector<std::string> lines;
  int nodes = 0;
  int network = 0;
  for (const CutGroup& group : group_cut(solution, cluster, ranges)) {
    lines.push_back(describe_group(group, solution, cluster, ranges));
    const bool compute = solution.arcs.at(at(group.arcs.front())).kind == ArcKind::Compute;
    (compute ? nodes : network) += static_cast<int>(group.arcs.size());
  }
  lines.push_back(cut_summary(nodes, network, solution.max_flow_tps));
  return lines;
}

struct PlacementEvaluator::State {
  PlannerGraph graph;
};

// The evaluator keeps pointers to cluster, model and perf: they must outlive it.
PlacementEvaluator::PlacementEvaluator(const ClusterSpec& cluster, const ModelSpec& model,
                                       const PerfModel& perf)
    : state_(std::make_unique<State>(State{PlannerGraph(cluster, model, perf)})) {}

PlacementEvaluator::~PlacementEvaluator() = default;
PlacementEvaluator::PlacementEvaluator(PlacementEvaluator&&) noexcept = default;
PlacementEvaluator& PlacementEvaluator::operator=(PlacementEvaluator&&) noexcept = default;

double PlacementEvaluator::max_flow(std::span<const LayerRange> ranges) {
  PlannerGraph& graph = state_->graph;
  const double bound = graph.build(ranges, nullptr);
  return graph.flow.solve(kSource, kSink, MaxFlow::Output::ValueOnly, bound);
}

}  // namespace helix
