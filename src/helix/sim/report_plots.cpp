// How the report plots are drawn: an 800 px wide canvas with a title and a one-line
// subtitle on top, a plot area with grid lines at round ticks, the data, axis labels,
// and a legend underneath (the canvas grows only when the legend needs more rows).
// Colours and fonts follow placement_svg so the pictures of one run look alike.
// Every coordinate is written with one decimal, so the same input gives the same bytes.
#include "helix/sim/report_plots.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <utility>

#include <fmt/format.h>

#include "helix/core/error.h"
#include "helix/plan/placement_svg.h"

namespace helix::sim {
namespace {

// The palette of placement_svg (red left out there for the min cut, kept out here too).
constexpr std::array<const char*, 12> kPalette = {"#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948", "#b07aa1",
                                                  "#ff9da7", "#9c755f", "#bab0ac", "#499894", "#8cd17d", "#d4a6c8"};
constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";

constexpr double kWidth = 800;
constexpr double kMinHeight = 480;
constexpr double kPlotLeft = 72;
constexpr double kPlotRight = 780;
constexpr double kPlotTop = 60;
constexpr double kPlotBottom = 388;
constexpr double kLegendTop = 446;  // baseline of the first legend row
constexpr double kLegendRow = 18;

// A CDF is drawn with at most this many steps (two path points each): finer than
// the pixels, and a million samples still give a small file.
constexpr std::size_t kMaxCdfSteps = 1000;
// More bins than this are merged (the bin widened by a whole factor): beyond the pixels.
constexpr double kMaxBins = 2000;
// Series with at most this many bins get a dot per bin, so a short run stays visible.
constexpr std::size_t kMaxDottedBins = 40;

std::string num(double v) { return fmt::format("{:.1f}", v); }

// A value for people: three significant digits or so, never in exponent form for
// the numbers a simulation produces.
std::string readable(double v) {
  const double a = std::abs(v);
  if (a >= 100) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  if (a >= 0.1 || a == 0) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

// UTF-8 characters in `text`, for guessing how wide a label is.
double glyphs(const std::string& text) {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return static_cast<double>(n);
}

// An SVG document built as text.
class SvgText {
 public:
  template <typename... Args>
  void add(fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(text_), format, std::forward<Args>(args)...);
    text_ += '\n';
  }
  void text(double x, double y, double size, const char* anchor, const std::string& content,
            const std::string& extra = "") {
    add(R"(<text x="{:.1f}" y="{:.1f}" font-size="{:.1f}" text-anchor="{}"{}>{}</text>)", x, y, size, anchor, extra,
        helix::xml_escape(content));
  }
  // The whole document around what was added.
  std::string document(double height, const std::string& title) const {
    SvgText head;
    head.add(R"(<?xml version="1.0" encoding="UTF-8"?>)");
    head.add(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}" font-family="{2}">)",
        kWidth, height, kFont);
    head.add("<title>{}</title>", helix::xml_escape(title));
    head.add(R"(<rect width="100%" height="100%" fill="#fff"/>)");
    return head.text_ + text_ + "</svg>\n";
  }

 private:
  std::string text_;
};

// One axis: the range shown and its ticks, a round step apart.
struct Axis {
  double lo = 0;
  double hi = 1;
  double step = 0.25;
  int decimals = 2;  // of the tick labels

  std::vector<double> ticks() const {
    std::vector<double> out;
    // From lo by whole steps (not by adding), so the values do not drift.
    for (int k = 0; k <= 1000; ++k) {
      const double v = lo + k * step;
      if (v > hi + step * 1e-6) break;
      out.push_back(v);
    }
    return out;
  }
  std::string label(double v) const { return fmt::format("{:.{}f}", v, decimals); }
};

// The axis over [lo, hi] widened to whole ticks, the step 1, 2 or 5 × 10^k giving
// about `target` ticks. Ranges that are empty, tiny or not finite fall back to 0..1
// or lo..lo+1, so no input makes the tick loop run away.
Axis round_axis(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(hi - lo)) {
    lo = 0;
    hi = 1;
  }
  if (!(hi - lo > 1e-9)) hi = lo + 1;
  const double raw = (hi - lo) / target;
  const int k = static_cast<int>(std::floor(std::log10(raw)));
  const double base = std::pow(10.0, k);
  Axis a;
  a.step = 10 * base;
  a.decimals = std::max(0, -k - 1);
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * base >= raw * (1 - 1e-9)) {
      a.step = m * base;
      a.decimals = std::max(0, -k);
      break;
    }
  }
  a.lo = std::floor(lo / a.step + 1e-9) * a.step;
  a.hi = std::ceil(hi / a.step - 1e-9) * a.step;
  return a;
}

// Data to pixels; values outside the axes are pinned to the plot's edge.
struct Frame {
  Axis x;
  Axis y;
  double px(double v) const {
    return kPlotLeft + (kPlotRight - kPlotLeft) * std::clamp((v - x.lo) / (x.hi - x.lo), 0.0, 1.0);
  }
  double py(double v) const {
    return kPlotBottom - (kPlotBottom - kPlotTop) * std::clamp((v - y.lo) / (y.hi - y.lo), 0.0, 1.0);
  }
};

void draw_heading(SvgText& svg, const std::string& title, const std::string& subtitle) {
  svg.text(12, 26, 17, "start", title, R"( font-weight="bold")");
  svg.text(12, 45, 11, "start", subtitle, R"( fill="#666")");
}

void draw_plot_area(SvgText& svg) {
  svg.add(R"(<rect class="plot-area" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#fff" stroke="#bbb"/>)",
          kPlotLeft, kPlotTop, kPlotRight - kPlotLeft, kPlotBottom - kPlotTop);
}

// Grid lines and tick labels of both axes, then the axis titles.
void draw_axes(SvgText& svg, const Frame& f, const std::string& x_title, const std::string& y_title) {
  for (double v : f.x.ticks()) {
    svg.add(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#e4e4e4" stroke-width="1"/>)", f.px(v),
            kPlotTop, kPlotBottom);
    svg.text(f.px(v), kPlotBottom + 15, 10, "middle", f.x.label(v), R"( fill="#666")");
  }
  for (double v : f.y.ticks()) {
    svg.add(R"(<line x1="{1:.1f}" y1="{0:.1f}" x2="{2:.1f}" y2="{0:.1f}" stroke="#e4e4e4" stroke-width="1"/>)", f.py(v),
            kPlotLeft, kPlotRight);
    svg.text(kPlotLeft - 6, f.py(v) + 3.5, 10, "end", f.y.label(v), R"( fill="#666")");
  }
  svg.text((kPlotLeft + kPlotRight) / 2, kPlotBottom + 34, 11, "middle", x_title, R"( fill="#444")");
  const double cy = (kPlotTop + kPlotBottom) / 2;
  svg.text(18, cy, 11, "middle", y_title, fmt::format(R"~( fill="#444" transform="rotate(-90 18.0 {:.1f})")~", cy));
}

void draw_no_data(SvgText& svg) {
  svg.text((kPlotLeft + kPlotRight) / 2, (kPlotTop + kPlotBottom) / 2, 16, "middle", "no data", R"( fill="#999")");
}

// A series' stroke: its palette colour; past the palette, colours come round again dashed.
struct Pen {
  const char* colour;
  std::string dash;  // attribute text, "" for solid
};
Pen pen(std::size_t index) {
  return {kPalette[index % kPalette.size()],
          index >= kPalette.size() ? R"( stroke-dasharray="6 3")" : std::string()};
}

struct LegendEntry {
  std::string text;
  Pen pen;
  bool box = false;  // a shaded box (the window) instead of a line sample
};

// Entries left to right, wrapping at the canvas edge; returns the last baseline.
double draw_legend(SvgText& svg, const std::vector<LegendEntry>& entries) {
  double x = 12;
  double y = kLegendTop;
  for (const LegendEntry& e : entries) {
    const double w = 34 + 6.6 * glyphs(e.text);
    if (x > 12 && x + w > kWidth - 12) {
      x = 12;
      y += kLegendRow;
    }
    if (e.box) {
      svg.add(R"(<rect x="{:.1f}" y="{:.1f}" width="22" height="11" fill="{}" fill-opacity="0.15" stroke="#bbb"/>)", x,
              y - 9, e.pen.colour);
    } else {
      svg.add(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="2.5"{}/>)", x, y - 4,
              x + 22, y - 4, e.pen.colour, e.pen.dash);
    }
    // Preserved spaces: the legend separates its parts with two of them.
    svg.text(x + 28, y, 11, "start", e.text, R"( xml:space="preserve")");
    x += w;
  }
  return y;
}

double canvas_height(double last_legend_baseline) { return std::max(kMinHeight, last_legend_baseline + 18); }

std::string ignored_note(std::size_t ignored) {
  if (ignored == 0) return "";
  return fmt::format("; {} non-finite value{} ignored", ignored, ignored == 1 ? "" : "s");
}

// ---- latency CDF -------------------------------------------------------------

// A series' latencies, sorted, without NaN and infinities.
struct Sample {
  std::vector<double> sorted;
  std::size_t ignored = 0;
};

Sample finite_sorted(const std::vector<double>& values) {
  Sample s;
  s.sorted.reserve(values.size());
  for (double v : values) {
    if (std::isfinite(v)) s.sorted.push_back(v);
  }
  s.ignored = values.size() - s.sorted.size();
  std::sort(s.sorted.begin(), s.sorted.end());
  return s;
}

// The paper's percentile: sorted[int(n * q)] (sorted not empty).
double percentile(const std::vector<double>& sorted, double q) {
  const auto i = static_cast<std::size_t>(static_cast<double>(sorted.size()) * q);
  return sorted[std::min(i, sorted.size() - 1)];
}

// The corners of the drawn step curve, as indices into `sorted`: the first index
// reaching each fraction k/steps, moved on to the last of its equal values, so every
// corner is exactly on the CDF and the curve is never more than 1/steps off it.
std::vector<std::size_t> corner_indices(const std::vector<double>& sorted) {
  const std::size_t n = sorted.size();
  const std::size_t steps = std::min(n, kMaxCdfSteps);
  std::vector<std::size_t> out;
  out.reserve(steps);
  for (std::size_t k = 1; k <= steps; ++k) {
    const std::size_t first = (k * n + steps - 1) / steps - 1;
    const auto last = std::upper_bound(sorted.begin() + static_cast<std::ptrdiff_t>(first), sorted.end(), sorted[first]);
    const auto i = static_cast<std::size_t>(last - sorted.begin()) - 1;
    if (out.empty() || i > out.back()) out.push_back(i);
  }
  return out;
}

// Path data of horizontal and vertical moves, leaving out moves that do not move a
// written coordinate (they would only make the file bigger).
class StepPath {
 public:
  StepPath(double x, double y) : x_(num(x)), y_(num(y)) { d_ = "M " + x_ + " " + y_; }
  void h(double x) { move('H', x, x_); }
  void v(double y) { move('V', y, y_); }
  const std::string& data() const { return d_; }

 private:
  void move(char command, double to, std::string& last) {
    std::string s = num(to);
    if (s == last) return;
    d_ += ' ';
    d_ += command;
    d_ += ' ';
    d_ += s;
    last = std::move(s);
  }
  std::string x_, y_, d_;
};

// The empirical CDF as a right-continuous staircase from (0, 0); a tail past the
// axis is cut at the plot's right edge.
std::string cdf_path(const std::vector<double>& sorted, const Frame& f) {
  const double n = static_cast<double>(sorted.size());
  StepPath path(f.px(f.x.lo), f.py(0));
  for (std::size_t i : corner_indices(sorted)) {
    if (sorted[i] > f.x.hi) break;
    path.h(f.px(sorted[i]));
    path.v(f.py(static_cast<double>(i + 1) / n));
  }
  path.h(f.px(f.x.hi));
  return path.data();
}

// A percentile lies on the curve's rise at its value, at height q.
void draw_mark(SvgText& svg, const Frame& f, const Pen& p, const std::string& label, const char* name, double q,
               double value) {
  svg.add(R"(<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}" stroke="#fff" stroke-width="1.2">)", f.px(value),
          f.py(q), p.colour);
  svg.add("<title>{} {} {} s</title></circle>", helix::xml_escape(label), name, readable(value));
}

void draw_cdf(SvgText& svg, const Frame& f, const Sample& s, const std::string& label, const Pen& p) {
  svg.add(R"(<path class="cdf" d="{}" fill="none" stroke="{}" stroke-width="1.8" stroke-linejoin="round"{}>)",
          cdf_path(s.sorted, f), p.colour, p.dash);
  svg.add("<title>{}</title></path>", helix::xml_escape(label));
  draw_mark(svg, f, p, label, "p50", 0.5, percentile(s.sorted, 0.5));
  draw_mark(svg, f, p, label, "p95", 0.95, percentile(s.sorted, 0.95));
}

std::string cdf_legend_text(const std::string& label, const Sample& s) {
  if (s.sorted.empty()) return label + "  no data";
  return fmt::format("{}  p50 {} s  p95 {} s", label, readable(percentile(s.sorted, 0.5)),
                     readable(percentile(s.sorted, 0.95)));
}

// ---- throughput --------------------------------------------------------------

// One finished request: when, and how many tokens it stands for.
struct Finish {
  double time_s;
  double tokens;
};

// A series' finishes with finite time and weight; weights default to 1.
std::vector<Finish> finishes(const PlotSeries& s, std::size_t& ignored) {
  if (!s.weights.empty() && s.weights.size() != s.values.size()) {
    fail("throughput plot: series '{}' has {} weights for {} finish times", s.label, s.weights.size(),
         s.values.size());
  }
  std::vector<Finish> out;
  out.reserve(s.values.size());
  for (std::size_t i = 0; i < s.values.size(); ++i) {
    const double w = s.weights.empty() ? 1.0 : s.weights[i];
    if (std::isfinite(s.values[i]) && std::isfinite(w)) {
      out.push_back({s.values[i], w});
    } else {
      ++ignored;
    }
  }
  return out;
}

// The shared bin grid: `count` bins of `width` seconds from `start` (a multiple of
// the width, at most 0), covering every finish of every series.
struct Bins {
  double start = 0;
  double width = 1;
  std::size_t count = 0;
  std::size_t index(double t) const {
    const double k = std::floor((t - start) / width);
    return static_cast<std::size_t>(std::clamp(k, 0.0, static_cast<double>(count - 1)));
  }
  double centre(std::size_t k) const { return start + (static_cast<double>(k) + 0.5) * width; }
  double end() const { return start + static_cast<double>(count) * width; }
};

Bins make_bins(const std::vector<std::vector<Finish>>& all, double bin_s) {
  double lo = 0;
  double hi = 0;
  bool any = false;
  for (const auto& series : all) {
    for (const Finish& f : series) {
      lo = std::min(lo, f.time_s);
      hi = any ? std::max(hi, f.time_s) : f.time_s;
      any = true;
    }
  }
  Bins b;
  b.width = bin_s;
  if (!any) return b;
  // Widen by whole factors until the bins are few enough (twice at most: rounding).
  for (int round = 0; round < 3; ++round) {
    const double first = std::floor(lo / b.width);
    const double count = std::floor(hi / b.width) - first + 1;
    if (count <= kMaxBins) {
      b.start = first * b.width;
      b.count = static_cast<std::size_t>(count);
      return b;
    }
    b.width *= std::ceil(count / kMaxBins);
  }
  b.start = std::floor(lo / b.width) * b.width;
  b.count = static_cast<std::size_t>(kMaxBins);
  return b;
}

// Tokens/s per bin: the tokens finished in it over its width.
std::vector<double> rates(const std::vector<Finish>& series, const Bins& b) {
  std::vector<double> per_bin(b.count, 0.0);
  for (const Finish& f : series) per_bin[b.index(f.time_s)] += f.tokens;
  for (double& r : per_bin) r /= b.width;
  return per_bin;
}

struct Window {
  double start_s;
  double end_s;
  bool shown() const { return std::isfinite(start_s) && std::isfinite(end_s) && end_s > start_s; }
};

void draw_window(SvgText& svg, const Frame& f, const Window& w) {
  const double x0 = f.px(w.start_s);
  const double x1 = f.px(w.end_s);
  svg.add(R"(<rect class="window" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#888" fill-opacity="0.15">)",
          x0, kPlotTop, x1 - x0, kPlotBottom - kPlotTop);
  svg.add("<title>measurement window {}–{} s</title></rect>", readable(w.start_s), readable(w.end_s));
  if (x1 - x0 >= 120) svg.text((x0 + x1) / 2, kPlotTop + 13, 10, "middle", "measurement window", R"( fill="#666")");
}

void draw_rates(SvgText& svg, const Frame& f, const Bins& b, const std::vector<double>& per_bin,
                const std::string& label, const Pen& p) {
  std::string points;
  for (std::size_t k = 0; k < per_bin.size(); ++k) {
    points += fmt::format("{}{:.1f},{:.1f}", k ? " " : "", f.px(b.centre(k)), f.py(per_bin[k]));
  }
  svg.add(R"(<polyline class="series" points="{}" fill="none" stroke="{}" stroke-width="1.8" stroke-linejoin="round"{}>)",
          points, p.colour, p.dash);
  svg.add("<title>{}</title></polyline>", helix::xml_escape(label));
  if (per_bin.size() > kMaxDottedBins) return;
  for (std::size_t k = 0; k < per_bin.size(); ++k) {
    svg.add(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>)", f.px(b.centre(k)), f.py(per_bin[k]), p.colour);
  }
}

// "label  mean N tokens/s in window" when there is a window to average over.
std::string rate_legend_text(const std::string& label, const std::vector<Finish>& series, const Window& w) {
  if (series.empty()) return label + "  no data";
  if (!w.shown()) return label;
  double tokens = 0;
  for (const Finish& f : series) {
    if (f.time_s >= w.start_s && f.time_s < w.end_s) tokens += f.tokens;
  }
  return fmt::format("{}  mean {} tokens/s in window", label, readable(tokens / (w.end_s - w.start_s)));
}

// The axes: time over the bins and the window, rate from 0 (or below, for negative
// weights) to the highest bin.
Frame rate_frame(const Bins& b, const std::vector<std::vector<double>>& per_series, const Window& w) {
  double t_lo = b.start;
  double t_hi = b.count > 0 ? b.end() : 1;
  if (w.shown()) {
    t_lo = std::min(t_lo, w.start_s);
    t_hi = std::max(t_hi, w.end_s);
  }
  double r_lo = 0;
  double r_hi = 0;
  for (const auto& per_bin : per_series) {
    for (double r : per_bin) {
      r_lo = std::min(r_lo, r);
      r_hi = std::max(r_hi, r);
    }
  }
  return Frame{round_axis(t_lo, t_hi, 8), round_axis(r_lo, r_hi, 5)};
}

std::string bins_note(const Bins& b, double bin_s) {
  const std::string width = fmt::format("{:.4g}", b.width);
  std::string note = fmt::format("tokens finished per {} s bin / {} s", width, width);
  if (b.width != bin_s) note += fmt::format(" (bins widened from {:.4g} s to keep at most 2000)", bin_s);
  return note;
}

}  // namespace

std::string latency_cdf_svg(const std::vector<PlotSeries>& series, const std::string& title) {
  std::vector<Sample> samples;
  std::size_t ignored = 0;
  double x_max = 0;
  bool any = false;
  for (const PlotSeries& s : series) {
    samples.push_back(finite_sorted(s.values));
    ignored += samples.back().ignored;
    if (samples.back().sorted.empty()) continue;
    // The largest p99.5 bounds the axis: a long tail would squash every curve.
    const double p995 = percentile(samples.back().sorted, 0.995);
    x_max = any ? std::max(x_max, p995) : p995;
    any = true;
  }
  const Frame f{round_axis(0, x_max, 8), Axis{}};

  SvgText svg;
  draw_heading(svg, title.empty() ? "latency CDF" : title,
               any ? fmt::format("x axis cut at {} s, the largest p99.5; dots mark p50 and p95{}", readable(x_max),
                                 ignored_note(ignored))
                   : "no latencies" + ignored_note(ignored));
  draw_plot_area(svg);
  draw_axes(svg, f, "latency (s)", "fraction of requests");
  std::vector<LegendEntry> legend;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (!samples[i].sorted.empty()) draw_cdf(svg, f, samples[i], series[i].label, pen(i));
    legend.push_back({cdf_legend_text(series[i].label, samples[i]), pen(i), false});
  }
  if (!any) draw_no_data(svg);
  return svg.document(canvas_height(draw_legend(svg, legend)), title.empty() ? "latency CDF" : title);
}

std::string throughput_svg(const std::vector<PlotSeries>& series, double bin_s, double window_start_s,
                           double window_end_s, const std::string& title) {
  if (!(bin_s > 0) || !std::isfinite(bin_s)) {
    fail("throughput plot: the bin must be a positive number of seconds, not {}", bin_s);
  }
  std::size_t ignored = 0;
  std::vector<std::vector<Finish>> all;
  for (const PlotSeries& s : series) all.push_back(finishes(s, ignored));
  const Bins b = make_bins(all, bin_s);
  std::vector<std::vector<double>> per_series;
  for (const auto& f : all) per_series.push_back(b.count > 0 ? rates(f, b) : std::vector<double>());
  const Window w{window_start_s, window_end_s};
  const Frame f = rate_frame(b, per_series, w);

  SvgText svg;
  draw_heading(svg, title.empty() ? "throughput" : title,
               (b.count > 0 ? bins_note(b, bin_s) : "no finished requests") + ignored_note(ignored));
  draw_plot_area(svg);
  if (w.shown()) draw_window(svg, f, w);
  draw_axes(svg, f, "time (s)", "tokens/s");
  std::vector<LegendEntry> legend;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!all[i].empty()) draw_rates(svg, f, b, per_series[i], series[i].label, pen(i));
    legend.push_back({rate_legend_text(series[i].label, all[i], w), pen(i), false});
  }
  if (w.shown()) legend.push_back({"measurement window", Pen{"#888", ""}, true});
  if (b.count == 0) draw_no_data(svg);
  return svg.document(canvas_height(draw_legend(svg, legend)), title.empty() ? "throughput" : title);
}

}  // namespace helix::sim
