// How placement_svg draws: a fixed-width canvas (labels | coordinator | layer axis
// | coordinator | flow values), rows whose height shrinks with their number, then
// grid, coordinator columns, bars, link curves (over the bars, translucent, so a
// curve crossing other rows stays visible), labels, and a legend underneath. Every
// coordinator is written with one decimal, so the same input gives the same bytes.
#include "helix/plan/placement_svg.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <cstdint>
#include <map>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "helix/core/error.h"

namespace helix {
namespace {

std::size_t at(int i) { return static_cast<std::size_t>(i); }

// Tableau-like colours, red left out: red marks the min cut.
constexpr std::array<const char*, 12> kPalette = {"#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948", "#b07aa1",
                                                  "#ff9da7", "#9c755f", "#bab0ac", "#499894", "#8cd17d", "#d4a6c8"};
constexpr const char* kCutColour = "#d62728";
constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";

// FNV-1a: a string hash that is the same on every platform and run.
std::size_t stable_hash(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return static_cast<std::size_t>(h);
}

// The paper's machines (and two common ones) have fixed colours, so that pictures of
// different clusters agree: kPalette[index here]. -1 for other types.
int known_type(const std::string& name) {
  constexpr std::array<const char*, 9> kKnown = {"A100", "L4", "T4", "V100", "L4x2", "T4x2", "T4x4", "H100", "A10G"};
  const auto it = std::find(kKnown.begin(), kKnown.end(), name);
  return it == kKnown.end() ? -1 : static_cast<int>(it - kKnown.begin());
}

// The colour a type would like: its fixed one, else one picked by a hash of its name.
std::size_t preferred_slot(const std::string& name) {
  const int known = known_type(name);
  return known >= 0 ? at(known) : stable_hash(name) % kPalette.size();
}

// Per GPU type, its colour: its preferred one, else the next free one (known types
// first, then the others in name order), so a type keeps its colour from picture to picture.
std::vector<const char*> type_colours(const ClusterSpec& cluster) {
  std::vector<int> order(cluster.gpu_types.size());
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](int t) {
    const std::string& name = cluster.gpu_types[at(t)].name;
    return std::pair{known_type(name) < 0, name};
  };
  std::sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });
  std::vector<char> taken(kPalette.size(), 0);
  std::vector<const char*> colours(order.size());
  for (int t : order) {
    std::size_t slot = preferred_slot(cluster.gpu_types[at(t)].name);
    for (std::size_t probe = 0; probe < kPalette.size() && taken[slot]; ++probe) slot = (slot + 1) % kPalette.size();
    taken[slot] = 1;
    colours[at(t)] = kPalette[slot];
  }
  return colours;
}

// What the picture shows of one node holding layers.
struct Row {
  int node = 0;
  LayerRange range;
  double flow_tps = 0;
  double capacity_tps = 0;
  bool in_cut = false;
};

struct Drawn {
  std::vector<Row> rows;           // sorted by (start, end, node)
  std::vector<int> row_of_node;    // -1 for nodes holding nothing
  std::vector<char> arc_in_cut;    // per arc
  std::vector<const char*> colour;  // per GPU type
  const char* colour_of(const ClusterSpec& cluster, int node) const {
    return colour[at(cluster.nodes[at(node)].gpu_type)];
  }
};

Drawn collect(const ClusterSpec& cluster, const Placement& placement, const FlowSolution& flow) {
  Drawn d;
  d.colour = type_colours(cluster);
  d.arc_in_cut.assign(flow.arcs.size(), 0);
  for (int a : flow.min_cut) {
    if (a >= 0 && at(a) < flow.arcs.size()) d.arc_in_cut[at(a)] = 1;
  }
  const int n = std::min(cluster.num_nodes(), placement.num_nodes());
  std::vector<Row> by_node(at(n));
  for (int i = 0; i < n; ++i) by_node[at(i)] = Row{i, placement.ranges[at(i)], 0, 0, false};
  for (std::size_t a = 0; a < flow.arcs.size(); ++a) {
    const FlowArc& arc = flow.arcs[a];
    if (arc.kind != ArcKind::Compute || arc.node < 0 || arc.node >= n) continue;
    by_node[at(arc.node)].flow_tps += arc.flow_tps;
    by_node[at(arc.node)].capacity_tps += arc.capacity_tps;
    by_node[at(arc.node)].in_cut = by_node[at(arc.node)].in_cut || d.arc_in_cut[a];
  }
  for (const Row& r : by_node) {
    if (!r.range.empty()) d.rows.push_back(r);
  }
  std::stable_sort(d.rows.begin(), d.rows.end(), [](const Row& a, const Row& b) {
    return a.range.start != b.range.start ? a.range.start < b.range.start : a.range.end < b.range.end;
  });
  d.row_of_node.assign(at(n), -1);
  for (std::size_t r = 0; r < d.rows.size(); ++r) d.row_of_node[at(d.rows[r].node)] = static_cast<int>(r);
  return d;
}

// Where things go. Horizontal positions are fixed; rows shrink from 22 px to 2 px
// so that about 900 px hold them all.
struct Geometry {
  static constexpr double kLabelX = 12;
  static constexpr double kSendX = 224;
  static constexpr double kColumnW = 14;
  static constexpr double kAxisX = 272;
  static constexpr double kAxisW = 760;
  static constexpr double kRecvX = kAxisX + kAxisW + 30;
  static constexpr double kValueX = kRecvX + kColumnW + 10;
  static constexpr double kWidth = kValueX + 150;
  static constexpr double kTop = 84;

  int layers = 1;
  int rows = 0;
  double row_h = 22;

  Geometry(int num_layers, int num_rows)
      : layers(std::max(1, num_layers)), rows(num_rows),
        row_h(std::clamp(900.0 / std::max(1, num_rows), 2.0, 22.0)) {}

  double x(int layer) const { return kAxisX + kAxisW * layer / layers; }
  double y(int row) const { return kTop + (row + 0.5) * row_h; }
  double bottom() const { return kTop + rows * row_h; }
  double bar_h() const { return std::max(1.0, row_h * 0.72); }
  bool labels() const { return row_h >= 9; }
  double font() const { return std::min(12.0, row_h - 2); }
};

// An SVG document built as text; numbers with one decimal.
class Svg {
 public:
  template <typename... Args>
  void add(fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(text_), format, std::forward<Args>(args)...);
    text_ += '\n';
  }
  void text(double x, double y, double size, const std::string& anchor, const std::string& content,
            const std::string& extra = "") {
    add(R"(<text x="{:.1f}" y="{:.1f}" font-size="{:.1f}" text-anchor="{}"{}>{}</text>)", x, y, size, anchor,
        extra, xml_escape(content));
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

std::string tokens(double tps) { return fmt::format("{:.1f}", tps); }

// Layer ticks: a round step giving at most ~16 ticks.
int tick_step(int layers) {
  for (int step : {1, 2, 5, 10, 20, 50, 100, 200, 500}) {
    if (layers / step <= 16) return step;
  }
  return 1000;
}

void draw_header(Svg& svg, const ClusterSpec& cluster, const ModelSpec& model, const Placement& placement,
                 const FlowSolution& flow, const std::string& title, int rows) {
  const std::string heading = fmt::format("{}{}max flow {:.2f} tokens/s", title, title.empty() ? "" : " — ",
                                          flow.max_flow_tps);
  svg.text(Geometry::kLabelX, 26, 17, "start", heading, R"( font-weight="bold")");
  const std::string cluster_name = cluster.name.empty() ? placement.cluster : cluster.name;
  svg.text(Geometry::kLabelX, 46, 12, "start",
           fmt::format("{}, {} layers on cluster {}: {} of {} nodes hold layers{}", model.name, model.num_layers,
                       cluster_name, rows, cluster.num_nodes(),
                       placement.method.empty() ? "" : " (method " + placement.method + ")"));
}

void draw_axis(Svg& svg, const Geometry& g) {
  const int step = tick_step(g.layers);
  for (int l = 0; l <= g.layers; l += step) {
    svg.add(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#e4e4e4" stroke-width="1"/>)",
            g.x(l), Geometry::kTop - 4, g.bottom() + 4);
    svg.text(g.x(l), Geometry::kTop - 9, 10, "middle", std::to_string(l), R"( fill="#666")");
  }
  if (g.layers % step != 0) svg.text(g.x(g.layers), Geometry::kTop - 9, 10, "middle", std::to_string(g.layers),
                                     R"( fill="#666")");
  svg.text(Geometry::kAxisX + Geometry::kAxisW / 2, g.bottom() + 20, 11, "middle", "layer", R"( fill="#666")");
}

// The coordinator at both ends: it sends prompts on the left, receives results on the right.
void draw_coordinator(Svg& svg, const Geometry& g) {
  const double top = Geometry::kTop - 4;
  const double height = g.bottom() + 4 - top;
  const std::array<std::pair<double, const char*>, 2> columns = {
      {{Geometry::kSendX, "coordinator sends"}, {Geometry::kRecvX, "coordinator receives"}}};
  for (const auto& [x, label] : columns) {
    svg.add(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#555" rx="3"/>)", x, top,
            Geometry::kColumnW, height);
    const double cx = x + Geometry::kColumnW / 2;
    if (height >= 150) {
      const double cy = top + height / 2;
      svg.text(cx, cy + 3.5, 10, "middle", label,
               fmt::format(R"~( fill="#fff" transform="rotate(-90 {:.1f} {:.1f})")~", cx, cy));
    } else {
      svg.text(cx, g.bottom() + 18, 9, "middle", label, R"( fill="#555")");
    }
  }
}

// The layer range inside its bar, smaller for a short bar, left out if it cannot fit.
void draw_range_label(Svg& svg, const Geometry& g, const std::string& text, double cx, double width, double cy) {
  if (!g.labels()) return;
  for (double size : {std::min(10.0, g.font()), 7.5}) {
    if (static_cast<double>(text.size()) * size * 0.62 <= width - 10) {  // clear of the link ends
      svg.text(cx, cy + size * 0.35, size, "middle", text, R"( fill="#222")");
      return;
    }
  }
}

void draw_bar(Svg& svg, const Geometry& g, const ClusterSpec& cluster, const Drawn& d, const Row& row, int r) {
  const double x0 = g.x(row.range.start) + 0.5;
  const double width = std::max(1.0, g.x(row.range.end) - g.x(row.range.start) - 1);
  const double util = row.capacity_tps > 0 ? std::clamp(row.flow_tps / row.capacity_tps, 0.0, 1.0) : 0;
  const char* colour = d.colour_of(cluster, row.node);
  const std::string stroke = row.in_cut ? fmt::format(R"( stroke="{}" stroke-width="{:.1f}")", kCutColour,
                                                      std::clamp(g.row_h / 6, 0.5, 2.0))
                             : g.row_h >= 6 ? fmt::format(R"( stroke="{}" stroke-width="1")", colour)
                                            : std::string();
  svg.add(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" fill-opacity="{:.2f}"{}>)", x0,
          g.y(r) - g.bar_h() / 2, width, g.bar_h(), colour, 0.15 + 0.85 * util, stroke);
  svg.add("<title>{} ({}), layers {}: {} of {} tokens/s</title></rect>", xml_escape(cluster.nodes[at(row.node)].name),
          xml_escape(cluster.gpu_of(row.node).name), to_string(row.range), tokens(row.flow_tps),
          tokens(row.capacity_tps));
  draw_range_label(svg, g, to_string(row.range), x0 + width / 2, width, g.y(r));
}

void draw_row_labels(Svg& svg, const Geometry& g, const ClusterSpec& cluster, const Row& row, int r) {
  if (!g.labels()) return;
  const double baseline = g.y(r) + g.font() * 0.35;
  std::string name = cluster.nodes[at(row.node)].name;
  if (name.size() > 24) name = name.substr(0, 23) + "~";
  svg.text(Geometry::kSendX - 8, baseline, g.font(), "end", name + " (" + cluster.gpu_of(row.node).name + ")");
  svg.text(Geometry::kValueX, baseline, g.font(), "start",
           fmt::format("{} / {} tok/s", tokens(row.flow_tps), tokens(row.capacity_tps)),
           row.in_cut ? fmt::format(R"( fill="{}")", kCutColour) : R"( fill="#444")");
}

// A link's curve: horizontal at the coordinator, an S from the end of one bar to the start of the next.
std::string link_path(const Geometry& g, const Drawn& d, const Placement& placement, const FlowArc& arc) {
  if (arc.from == kCoordinator) {
    const int r = d.row_of_node[at(arc.to)];
    return fmt::format("M {:.1f} {:.1f} H {:.1f}", Geometry::kSendX + Geometry::kColumnW, g.y(r),
                       g.x(placement.ranges[at(arc.to)].start));
  }
  const int from_row = d.row_of_node[at(arc.from)];
  const double x1 = g.x(placement.ranges[at(arc.from)].end);
  if (arc.to == kCoordinator) return fmt::format("M {:.1f} {:.1f} H {:.1f}", x1, g.y(from_row), Geometry::kRecvX);
  const int to_row = d.row_of_node[at(arc.to)];
  const double x2 = g.x(placement.ranges[at(arc.to)].start);
  const double dx = std::clamp(std::abs(g.y(to_row) - g.y(from_row)) * 0.35, 10.0, 60.0);
  return fmt::format("M {:.1f} {:.1f} C {:.1f} {:.1f} {:.1f} {:.1f} {:.1f} {:.1f}", x1, g.y(from_row), x1 + dx,
                     g.y(from_row), x2 - dx, g.y(to_row), x2, g.y(to_row));
}

bool drawable_link(const FlowArc& arc, const Drawn& d) {
  if (arc.kind != ArcKind::Link || arc.flow_tps <= 0) return false;
  auto shown = [&](int e) { return e == kCoordinator || (e >= 0 && at(e) < d.row_of_node.size() && d.row_of_node[at(e)] >= 0); };
  return arc.from != arc.to && shown(arc.from) && shown(arc.to);
}

void draw_links(Svg& svg, const Geometry& g, const Drawn& d, const ClusterSpec& cluster, const Placement& placement,
                const FlowSolution& flow) {
  double most = 0;
  for (const FlowArc& arc : flow.arcs) {
    if (drawable_link(arc, d)) most = std::max(most, arc.flow_tps);
  }
  const double widest = std::clamp(g.row_h * 0.6, 1.0, 8.0);
  for (std::size_t a = 0; a < flow.arcs.size(); ++a) {
    const FlowArc& arc = flow.arcs[a];
    if (!drawable_link(arc, d)) continue;
    const bool cut = d.arc_in_cut[a] != 0;
    svg.add(R"(<path d="{}" fill="none" stroke="{}" stroke-opacity="{}" stroke-width="{:.2f}" stroke-linecap="round">)",
            link_path(g, d, placement, arc), cut ? kCutColour : "#333", cut ? "0.85" : "0.4",
            std::max(0.4, widest * arc.flow_tps / most));
    svg.add("<title>{} → {}: {} of {} tokens/s</title></path>", xml_escape(cluster.endpoint_name(arc.from)),
            xml_escape(cluster.endpoint_name(arc.to)), tokens(arc.flow_tps), tokens(arc.capacity_tps));
  }
}

// Machine types with their node counts (in the drawing), then what the encodings mean.
double draw_legend(Svg& svg, const ClusterSpec& cluster, const Drawn& d, double y) {
  std::map<std::string, std::pair<int, int>> used;  // type name -> (gpu type, rows), in name order
  for (const Row& row : d.rows) {
    const int type = cluster.nodes[at(row.node)].gpu_type;
    auto& entry = used.try_emplace(cluster.gpu_types[at(type)].name, type, 0).first->second;
    ++entry.second;
  }
  double x = Geometry::kLabelX;
  for (const auto& [name, entry] : used) {
    const auto [type, count] = entry;
    const std::string label = fmt::format("{} × {}", name, count);
    const double w = 30 + 7.0 * static_cast<double>(label.size());
    if (x + w > Geometry::kWidth - 12) {
      x = Geometry::kLabelX;
      y += 20;
    }
    svg.add(R"(<rect x="{:.1f}" y="{:.1f}" width="14" height="12" fill="{}"/>)", x, y - 10, d.colour[at(type)]);
    svg.text(x + 19, y, 11, "start", label);
    x += w;
  }
  y += 22;
  svg.add(R"(<rect x="{:.1f}" y="{:.1f}" width="14" height="12" fill="#888" fill-opacity="0.15" stroke="#888"/>)",
          Geometry::kLabelX, y - 10);
  svg.add(R"(<rect x="{:.1f}" y="{:.1f}" width="14" height="12" fill="#888" stroke="#888"/>)", Geometry::kLabelX + 17,
          y - 10);
  svg.text(Geometry::kLabelX + 37, y, 11, "start", "idle → saturated (bar opacity = flow / capacity)");
  svg.add(R"(<path d="M {:.1f} {:.1f} h 28" stroke="#333" stroke-opacity="0.4" stroke-width="5"/>)",
          Geometry::kLabelX + 350, y - 4);
  svg.text(Geometry::kLabelX + 384, y, 11, "start", "link, width ∝ flow");
  svg.add(R"(<rect x="{:.1f}" y="{:.1f}" width="14" height="12" fill="none" stroke="{}" stroke-width="2"/>)",
          Geometry::kLabelX + 520, y - 10, kCutColour);
  svg.text(Geometry::kLabelX + 540, y, 11, "start", "red: the min cut, what binds the max flow");
  return y;
}

// Nodes left out of the picture (no layers), and a note when rows are too small for labels.
double draw_footer(Svg& svg, const ClusterSpec& cluster, const Placement& placement, const Geometry& g, double y) {
  std::vector<std::string> unused;
  for (int i = 0; i < std::min(cluster.num_nodes(), placement.num_nodes()); ++i) {
    if (placement.ranges[at(i)].empty()) unused.push_back(cluster.nodes[at(i)].name);
  }
  if (!unused.empty()) {
    std::string names;
    for (std::size_t k = 0; k < unused.size() && k < 8; ++k) names += (k ? ", " : "") + unused[k];
    if (unused.size() > 8) names += fmt::format(" and {} more", unused.size() - 8);
    y += 20;
    svg.text(Geometry::kLabelX, y, 11, "start", fmt::format("{} unused (no layers): {}", unused.size(), names),
             R"( fill="#666")");
  }
  if (!g.labels() && g.rows > 0) {
    y += 20;
    svg.text(Geometry::kLabelX, y, 11, "start",
             fmt::format("{} rows: too many for labels; hover a bar or link for its numbers", g.rows),
             R"( fill="#666")");
  }
  return y;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

void save_svg(const std::string& svg, const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary);
  out << svg;
  if (!out.good()) fail("{}: cannot write the SVG picture", path.string());
}

std::string placement_svg(const ClusterSpec& cluster, const ModelSpec& model, const Placement& placement,
                          const FlowSolution& flow, const std::string& title) {
  const Drawn d = collect(cluster, placement, flow);
  const Geometry g(model.num_layers, static_cast<int>(d.rows.size()));
  Svg body;
  draw_header(body, cluster, model, placement, flow, title, g.rows);
  draw_axis(body, g);
  draw_coordinator(body, g);
  for (std::size_t r = 0; r < d.rows.size(); ++r) draw_bar(body, g, cluster, d, d.rows[r], static_cast<int>(r));
  draw_links(body, g, d, cluster, placement, flow);
  for (std::size_t r = 0; r < d.rows.size(); ++r) draw_row_labels(body, g, cluster, d.rows[r], static_cast<int>(r));
  double y = draw_legend(body, cluster, d, g.bottom() + 46);
  y = draw_footer(body, cluster, placement, g, y);

  Svg svg;
  svg.add(R"(<?xml version="1.0" encoding="UTF-8"?>)");
  svg.add(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}" font-family="{2}">)",
          Geometry::kWidth, y + 16, kFont);
  svg.add("<title>{}</title>", xml_escape(title.empty() ? "placement" : title));
  svg.add(R"(<rect width="100%" height="100%" fill="#fff"/>)");
  return svg.take() + body.take() + "</svg>\n";
}

}  // namespace helix
