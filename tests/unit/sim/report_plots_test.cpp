// report_plots (report_plots.h): the SVGs are well-formed, name every series
// (escaped), show the right numbers (percentiles, bin heights read back from the
// drawn coordinates), stay small for a million samples, are deterministic, and
// survive empty, degenerate and non-finite input.
#include "helix/sim/report_plots.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "helix/core/error.h"

namespace helix::sim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Checks what an XML parser would reject in these pictures: start and end tags
// that do not pair up, unquoted or unterminated attributes, and '&' or '<' that do
// not start markup or a predefined entity. Returns "" or the first problem.
std::string xml_problem(const std::string& xml) {
  static const std::vector<std::string> kEntities = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
  std::vector<std::string> stack;
  std::size_t i = 0;
  while (i < xml.size()) {
    const char c = xml[i];
    if (c == '&') {
      bool known = false;
      for (const std::string& e : kEntities) known = known || xml.compare(i, e.size(), e) == 0;
      if (!known) return "bad entity at " + std::to_string(i);
      ++i;
      continue;
    }
    if (c == '>') return "stray '>' at " + std::to_string(i);
    if (c != '<') {
      ++i;
      continue;
    }
    // A tag: scan to its '>' outside quotes.
    std::size_t j = i + 1;
    char quote = 0;
    for (; j < xml.size(); ++j) {
      if (quote != 0) {
        if (xml[j] == '<') return "'<' in an attribute at " + std::to_string(j);
        if (xml[j] == quote) quote = 0;
      } else if (xml[j] == '"' || xml[j] == '\'') {
        quote = xml[j];
      } else if (xml[j] == '=' && j + 1 < xml.size() && xml[j + 1] != '"' && xml[j + 1] != '\'') {
        return "unquoted attribute at " + std::to_string(j);
      } else if (xml[j] == '>') {
        break;
      }
    }
    if (j >= xml.size()) return "unterminated tag at " + std::to_string(i);
    const std::string tag = xml.substr(i + 1, j - i - 1);
    i = j + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '?' || tag[0] == '!' || tag.back() == '/') continue;
    const bool closing = tag[0] == '/';
    const std::string body = closing ? tag.substr(1) : tag;
    const std::string name = body.substr(0, body.find_first_of(" \t\n"));
    if (!closing) {
      stack.push_back(name);
    } else if (stack.empty() || stack.back() != name) {
      return "</" + name + "> does not close " + (stack.empty() ? std::string("anything") : "<" + stack.back() + ">");
    } else {
      stack.pop_back();
    }
  }
  if (!stack.empty()) return "<" + stack.back() + "> not closed";
  return "";
}

TEST(XmlProblem, TellsGoodFromBad) {
  EXPECT_EQ(xml_problem(R"(<?xml version="1.0"?><a k="v"><b/><c>x &amp; y</c></a>)"), "");
  EXPECT_NE(xml_problem("<a><b></a></b>"), "");
  EXPECT_NE(xml_problem("<a>"), "");
  EXPECT_NE(xml_problem("<a>x & y</a>"), "");
  EXPECT_NE(xml_problem("<a k=v></a>"), "");
  EXPECT_NE(xml_problem("<a>2 > 1</a>"), "");
  EXPECT_NE(xml_problem(R"(<a k="<"></a>)"), "");
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// The value of `attr` in every tag starting with `tag_start` (e.g. `<path class="cdf"`).
std::vector<std::string> attributes(const std::string& svg, const std::string& tag_start, const std::string& attr) {
  std::vector<std::string> out;
  for (auto at = svg.find(tag_start); at != std::string::npos; at = svg.find(tag_start, at + 1)) {
    const std::size_t end = svg.find('>', at);
    const std::size_t key = svg.find(" " + attr + "=\"", at);
    if (key == std::string::npos || key > end) continue;
    const std::size_t from = key + attr.size() + 3;
    out.push_back(svg.substr(from, svg.find('"', from) - from));
  }
  return out;
}

double attribute(const std::string& svg, const std::string& tag_start, const std::string& attr) {
  const auto values = attributes(svg, tag_start, attr);
  EXPECT_EQ(values.size(), 1u) << tag_start << " " << attr;
  return values.empty() ? kNaN : std::stod(values[0]);
}

struct Point {
  double x;
  double y;
};

// "x,y x,y ..." of a polyline.
std::vector<Point> polyline_points(const std::string& points) {
  std::vector<Point> out;
  std::istringstream in(points);
  std::string pair;
  while (in >> pair) {
    const std::size_t comma = pair.find(',');
    out.push_back({std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
  }
  return out;
}

// The corners of path data made of M, H and V commands.
std::vector<Point> path_corners(const std::string& d) {
  std::vector<Point> out;
  std::istringstream in(d);
  std::string command;
  Point at{0, 0};
  while (in >> command) {
    if (command == "M") {
      in >> at.x >> at.y;
    } else if (command == "H") {
      in >> at.x;
    } else if (command == "V") {
      in >> at.y;
    } else {
      ADD_FAILURE() << "unexpected path command " << command;
      break;
    }
    out.push_back(at);
  }
  return out;
}

// Pixels back to data, given the plot area and the axis ranges the picture should have.
struct Reader {
  double left, top, width, height;
  double x_lo, x_hi, y_lo, y_hi;
  Reader(const std::string& svg, double x_lo_, double x_hi_, double y_lo_, double y_hi_)
      : left(attribute(svg, R"(<rect class="plot-area")", "x")),
        top(attribute(svg, R"(<rect class="plot-area")", "y")),
        width(attribute(svg, R"(<rect class="plot-area")", "width")),
        height(attribute(svg, R"(<rect class="plot-area")", "height")),
        x_lo(x_lo_), x_hi(x_hi_), y_lo(y_lo_), y_hi(y_hi_) {}
  double x(double px) const { return x_lo + (px - left) / width * (x_hi - x_lo); }
  double y(double py) const { return y_lo + (top + height - py) / height * (y_hi - y_lo); }
};

// The x axis tick labels (centred under the plot), as numbers.
std::vector<double> x_ticks(const std::string& svg) {
  std::vector<double> out;
  const std::string marker = R"(text-anchor="middle" fill="#666">)";
  for (auto at = svg.find(marker); at != std::string::npos; at = svg.find(marker, at + 1)) {
    const std::string text = svg.substr(at + marker.size(), svg.find('<', at) - at - marker.size());
    if (!text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-')) {
      out.push_back(std::stod(text));
    }
  }
  return out;
}

std::vector<double> one_to(int n) {
  std::vector<double> v;
  // Out of order on purpose: the plot must sort.
  for (int i = n; i >= 1; --i) v.push_back(i);
  return v;
}

// ---- latency CDF -------------------------------------------------------------

TEST(LatencyCdfSvg, PercentilesAsThePaperTakesThem) {
  // sorted[int(100 * 0.5)] = 51, sorted[int(100 * 0.95)] = 96, p99.5 = sorted[99] = 100.
  const std::string svg = latency_cdf_svg({{"prompt", one_to(100), {}}}, "latency");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_TRUE(has(svg, ">prompt  p50 51.0 s  p95 96.0 s</text>")) << svg;
  EXPECT_TRUE(has(svg, R"(xml:space="preserve")"));
  // The axis runs to the p99.5, in steps of 20.
  EXPECT_EQ(x_ticks(svg), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  // The marks sit on the curve: at the percentile's value, at height q.
  const Reader r(svg, 0, 100, 0, 1);
  const auto cx = attributes(svg, "<circle", "cx");
  const auto cy = attributes(svg, "<circle", "cy");
  ASSERT_EQ(cx.size(), 2u);
  EXPECT_NEAR(r.x(std::stod(cx[0])), 51, 0.05);
  EXPECT_NEAR(r.y(std::stod(cy[0])), 0.5, 0.001);
  EXPECT_NEAR(r.x(std::stod(cx[1])), 96, 0.05);
  EXPECT_NEAR(r.y(std::stod(cy[1])), 0.95, 0.001);
  EXPECT_TRUE(has(svg, "<title>prompt p95 96.0 s</title>"));
}

TEST(LatencyCdfSvg, StepCurveCornersAreTheExactCdf) {
  // F(1) = 1/4, F(2) = 3/4 (a tie), F(4) = 1; the axis is 0..4 (step 0.5).
  const std::string svg = latency_cdf_svg({{"x", {2, 4, 1, 2}, {}}}, "");
  const auto d = attributes(svg, R"(<path class="cdf")", "d");
  ASSERT_EQ(d.size(), 1u);
  const Reader r(svg, 0, 4, 0, 1);
  const std::vector<Point> expected = {{0, 0}, {1, 0}, {1, 0.25}, {2, 0.25}, {2, 0.75}, {4, 0.75}, {4, 1}};
  const std::vector<Point> got = path_corners(d[0]);
  ASSERT_EQ(got.size(), expected.size()) << d[0];
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(r.x(got[i].x), expected[i].x, 0.01) << i;
    EXPECT_NEAR(r.y(got[i].y), expected[i].y, 0.001) << i;
  }
  EXPECT_TRUE(has(svg, "<title>latency CDF</title>"));  // the default title
  EXPECT_TRUE(has(svg, ">latency (s)<") && has(svg, ">fraction of requests<"));
  // Grid lines at 0, 0.25, ..., 1.
  for (const char* tick : {">0.00<", ">0.25<", ">0.50<", ">0.75<", ">1.00<"}) EXPECT_TRUE(has(svg, tick)) << tick;
}

TEST(LatencyCdfSvg, LabelsAreEscapedAndEverySeriesHasAColour) {
  std::vector<PlotSeries> series;
  for (int i = 0; i < 14; ++i) series.push_back({"s" + std::to_string(i), {1.0 + i, 2.0 + i}, {}});
  series[3].label = R"(<p&d> "x" 'y')";
  const std::string svg = latency_cdf_svg(series, "A & B <cdf>");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_TRUE(has(svg, "&lt;p&amp;d&gt; &quot;x&quot; &apos;y&apos;  p50"));
  EXPECT_FALSE(has(svg, "<p&d>"));
  EXPECT_TRUE(has(svg, ">A &amp; B &lt;cdf&gt;</text>"));
  const auto strokes = attributes(svg, R"(<path class="cdf")", "stroke");
  ASSERT_EQ(strokes.size(), 14u);
  for (std::size_t i = 0; i < 12; ++i) {
    for (std::size_t j = i + 1; j < 12; ++j) EXPECT_NE(strokes[i], strokes[j]) << i << " " << j;
  }
  // Past the palette, colours repeat dashed.
  EXPECT_EQ(count(svg, R"(<path class="cdf")"), 14u);
  EXPECT_EQ(count(svg, "stroke-dasharray"), 4u);  // 2 curves + their 2 legend samples
}

TEST(LatencyCdfSvg, Deterministic) {
  const std::vector<PlotSeries> series = {{"prompt", one_to(500), {}}, {"decode", {0.25, 0.5, 0.125}, {}}};
  EXPECT_EQ(latency_cdf_svg(series, "t"), latency_cdf_svg(series, "t"));
}

// A deterministic exponential-ish sample (own generator: the std distributions differ between libraries).
std::vector<double> tail_sample(std::size_t n, double scale) {
  std::vector<double> v;
  v.reserve(n);
  std::uint64_t state = 88172645463325252ull;
  for (std::size_t i = 0; i < n; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const double u = (static_cast<double>(state >> 11) + 0.5) / 9007199254740992.0;
    v.push_back(-scale * std::log(u));
  }
  return v;
}

TEST(LatencyCdfSvg, AMillionSamplesMakeASmallMonotoneCurve) {
  const std::vector<double> prompt = tail_sample(1000000, 2.0);
  const std::string svg = latency_cdf_svg({{"prompt", prompt, {}}, {"decode", tail_sample(1000000, 0.5), {}}}, "1e6");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_LT(svg.size(), 100000u);
  const auto d = attributes(svg, R"(<path class="cdf")", "d");
  ASSERT_EQ(d.size(), 2u);
  const double right = attribute(svg, R"(<rect class="plot-area")", "x") +
                       attribute(svg, R"(<rect class="plot-area")", "width");
  for (const std::string& path : d) {
    const std::vector<Point> corners = path_corners(path);
    EXPECT_LE(corners.size(), 2001u);
    EXPECT_GT(corners.size(), 200u);  // still a smooth curve
    for (std::size_t i = 1; i < corners.size(); ++i) {
      EXPECT_GE(corners[i].x, corners[i - 1].x);
      EXPECT_LE(corners[i].y, corners[i - 1].y);  // up the page
    }
    EXPECT_NEAR(corners.back().x, right, 0.05);
  }
  // The legend's percentiles are those of the whole sample, not of the drawn points.
  std::vector<double> sorted = prompt;
  std::sort(sorted.begin(), sorted.end());
  const std::string expected = "prompt  p50 " + fmt::format("{:.2f}", sorted[500000]) + " s  p95 " +
                               fmt::format("{:.2f}", sorted[950000]) + " s<";
  EXPECT_TRUE(has(svg, expected)) << expected;
  EXPECT_NEAR(sorted[500000], 2 * std::log(2.0), 0.02);  // the sample is what it should be
}

TEST(LatencyCdfSvg, LongTailIsCutAtTheP995) {
  std::vector<double> v = one_to(999);
  v.push_back(1e6);  // p99.5 = sorted[995] = 996
  const std::string svg = latency_cdf_svg({{"tail", v, {}}}, "");
  const std::vector<double> ticks = x_ticks(svg);
  ASSERT_FALSE(ticks.empty());
  EXPECT_EQ(ticks.back(), 1000);
  const double right = attribute(svg, R"(<rect class="plot-area")", "x") +
                       attribute(svg, R"(<rect class="plot-area")", "width");
  for (const Point& p : path_corners(attributes(svg, R"(<path class="cdf")", "d").at(0))) EXPECT_LE(p.x, right + 0.05);
}

TEST(LatencyCdfSvg, EmptyAndDegenerateSeries) {
  const std::string all_empty = latency_cdf_svg({{"a", {}, {}}, {"b", {kNaN}, {}}}, "none");
  EXPECT_EQ(xml_problem(all_empty), "");
  EXPECT_TRUE(has(all_empty, ">no data</text>"));
  EXPECT_TRUE(has(all_empty, ">a  no data</text>"));
  EXPECT_TRUE(has(all_empty, ">b  no data</text>"));
  EXPECT_FALSE(has(all_empty, "<path"));

  const std::string nothing = latency_cdf_svg({}, "");
  EXPECT_EQ(xml_problem(nothing), "");
  EXPECT_TRUE(has(nothing, ">no data</text>"));

  const std::string some = latency_cdf_svg({{"empty", {}, {}}, {"one", {3}, {}}, {"same", {2, 2, 2, 2}, {}}}, "");
  EXPECT_EQ(xml_problem(some), "");
  EXPECT_FALSE(has(some, ">no data</text>"));
  EXPECT_TRUE(has(some, ">empty  no data</text>"));
  EXPECT_TRUE(has(some, ">one  p50 3.00 s  p95 3.00 s</text>"));
  EXPECT_TRUE(has(some, ">same  p50 2.00 s  p95 2.00 s</text>"));
  EXPECT_EQ(count(some, R"(<path class="cdf")"), 2u);

  // All zero: the axis falls back to 0..1.
  const std::string zeros = latency_cdf_svg({{"z", {0, 0, 0}, {}}}, "");
  EXPECT_EQ(xml_problem(zeros), "");
  EXPECT_TRUE(has(zeros, ">z  p50 0.00 s  p95 0.00 s</text>"));
  EXPECT_FALSE(x_ticks(zeros).empty());
}

TEST(LatencyCdfSvg, NonFiniteValuesAreIgnored) {
  std::vector<double> v = one_to(100);
  v.insert(v.begin() + 10, {kNaN, kInf, -kInf});
  const std::string svg = latency_cdf_svg({{"prompt", v, {}}}, "");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_TRUE(has(svg, ">prompt  p50 51.0 s  p95 96.0 s</text>"));
  EXPECT_TRUE(has(svg, "3 non-finite values ignored"));
  EXPECT_FALSE(has(svg, "nan") || has(svg, "inf"));
}

// ---- throughput --------------------------------------------------------------

// Finishes at 0.5 (2 tokens), 0.6 (1), 1.5 (6), 3.2 (3): 1 s bins hold 3, 6, 0, 3 tokens.
PlotSeries decode() { return {"decode", {0.5, 0.6, 1.5, 3.2}, {2, 1, 6, 3}}; }

TEST(ThroughputSvg, BinHeightsAreTokensPerSecond) {
  const std::string svg = throughput_svg({decode()}, 1.0, 0, 0, "tp");
  EXPECT_EQ(xml_problem(svg), "");
  const auto points = attributes(svg, R"(<polyline class="series")", "points");
  ASSERT_EQ(points.size(), 1u);
  const Reader r(svg, 0, 4, 0, 6);  // x 0..4 s, y 0..6 tokens/s
  const std::vector<Point> got = polyline_points(points[0]);
  const std::vector<Point> expected = {{0.5, 3}, {1.5, 6}, {2.5, 0}, {3.5, 3}};
  ASSERT_EQ(got.size(), expected.size()) << points[0];
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(r.x(got[i].x), expected[i].x, 0.01) << i;
    EXPECT_NEAR(r.y(got[i].y), expected[i].y, 0.01) << i;
  }
  EXPECT_TRUE(has(svg, ">time (s)<") && has(svg, ">tokens/s<"));
  EXPECT_FALSE(has(svg, R"(class="window")"));  // no window asked for
  EXPECT_TRUE(has(svg, "tokens finished per 1 s bin / 1 s"));
}

TEST(ThroughputSvg, HalfSecondBinsDoubleTheRate) {
  // Bins [0, 0.5), [0.5, 1), ...: 0, 3, 0, 6, 0, 0, 3 tokens, i.e. 0, 6, 0, 12, 0, 0, 6 tokens/s.
  const std::string svg = throughput_svg({decode()}, 0.5, 0, 0, "");
  const std::vector<Point> got = polyline_points(attributes(svg, R"(<polyline class="series")", "points").at(0));
  const std::vector<double> expected = {0, 6, 0, 12, 0, 0, 6};
  ASSERT_EQ(got.size(), expected.size());
  const Reader r(svg, 0, 3.5, 0, 15);  // y axis 0..15 in steps of 5
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(r.x(got[i].x), 0.25 + 0.5 * static_cast<double>(i), 0.01) << i;
    EXPECT_NEAR(r.y(got[i].y), expected[i], 0.05) << i;
  }
}

TEST(ThroughputSvg, WeightsDefaultToOne) {
  const std::string svg = throughput_svg({{"n", {0.1, 0.2, 0.3, 1.1}, {}}}, 1.0, 0, 0, "");
  const std::vector<Point> got = polyline_points(attributes(svg, R"(<polyline class="series")", "points").at(0));
  ASSERT_EQ(got.size(), 2u);
  const Reader r(svg, 0, 2, 0, 3);
  EXPECT_NEAR(r.y(got[0].y), 3, 0.01);
  EXPECT_NEAR(r.y(got[1].y), 1, 0.01);
}

TEST(ThroughputSvg, MeasurementWindowIsShadedAndAveraged) {
  const std::string svg = throughput_svg({decode(), {"prompt", {0.2, 2.5}, {10, 20}}}, 1.0, 1.0, 3.0, "");
  EXPECT_EQ(xml_problem(svg), "");
  const Reader r(svg, 0, 4, 0, 20);
  const double x = attribute(svg, R"(<rect class="window")", "x");
  EXPECT_NEAR(r.x(x), 1.0, 0.01);
  EXPECT_NEAR(r.x(x + attribute(svg, R"(<rect class="window")", "width")), 3.0, 0.01);
  // In [1, 3): decode finishes 6 tokens, prompt 20, over 2 s.
  EXPECT_TRUE(has(svg, ">decode  mean 3.00 tokens/s in window</text>"));
  EXPECT_TRUE(has(svg, ">prompt  mean 10.0 tokens/s in window</text>"));
  EXPECT_TRUE(has(svg, ">measurement window</text>"));
  const auto strokes = attributes(svg, R"(<polyline class="series")", "stroke");
  ASSERT_EQ(strokes.size(), 2u);
  EXPECT_NE(strokes[0], strokes[1]);
  // An empty window (end <= start) is not drawn.
  EXPECT_FALSE(has(throughput_svg({decode()}, 1.0, 3.0, 3.0, ""), R"(class="window")"));
  EXPECT_FALSE(has(throughput_svg({decode()}, 1.0, 3.0, 1.0, ""), R"(class="window")"));
}

TEST(ThroughputSvg, BadBinsAndWeightsAreErrors) {
  for (double bin : {0.0, -1.0, kNaN, kInf}) {
    EXPECT_THROW(throughput_svg({decode()}, bin, 0, 0, ""), Error) << bin;
  }
  EXPECT_THROW(throughput_svg({{"x", {1, 2, 3}, {1, 2}}}, 1.0, 0, 0, ""), Error);
  EXPECT_THROW(throughput_svg({}, 0.0, 0, 0, ""), Error);  // even with nothing to draw
}

TEST(ThroughputSvg, EmptyDegenerateAndNonFiniteInput) {
  const std::string none = throughput_svg({{"a", {}, {}}, {"b", {kNaN, kInf}, {}}}, 1.0, 0, 10, "");
  EXPECT_EQ(xml_problem(none), "");
  EXPECT_TRUE(has(none, ">no data</text>"));
  EXPECT_TRUE(has(none, ">a  no data</text>") && has(none, ">b  no data</text>"));
  EXPECT_FALSE(has(none, "<polyline"));
  EXPECT_EQ(xml_problem(throughput_svg({}, 1.0, 0, 0, "")), "");

  const std::string one = throughput_svg({{"empty", {}, {}}, {"one", {2.5}, {}}}, 1.0, 0, 0, "");
  EXPECT_EQ(xml_problem(one), "");
  EXPECT_FALSE(has(one, ">no data</text>"));
  EXPECT_TRUE(has(one, ">empty  no data</text>"));
  EXPECT_EQ(polyline_points(attributes(one, R"(<polyline class="series")", "points").at(0)).size(), 3u);

  // A NaN time or weight drops that entry only: the rest bins as before.
  const std::string mixed =
      throughput_svg({{"decode", {0.5, kNaN, 0.6, 1.5, 3.2, 2.0}, {2, 5, 1, 6, 3, kInf}}}, 1.0, 0, 0, "");
  EXPECT_EQ(attributes(mixed, R"(<polyline class="series")", "points"),
            attributes(throughput_svg({decode()}, 1.0, 0, 0, ""), R"(<polyline class="series")", "points"));
  EXPECT_TRUE(has(mixed, "2 non-finite values ignored"));
}

TEST(ThroughputSvg, EscapedDeterministicAndBoundedForBigRuns) {
  std::vector<double> times = tail_sample(1000000, 100.0);
  const std::vector<PlotSeries> series = {{"<decode> & co", times, {}}};
  const std::string svg = throughput_svg(series, 0.001, 10, 200, "big & \"busy\"");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(svg, throughput_svg(series, 0.001, 10, 200, "big & \"busy\""));
  EXPECT_TRUE(has(svg, ">&lt;decode&gt; &amp; co  mean "));
  EXPECT_TRUE(has(svg, "big &amp; &quot;busy&quot;"));
  EXPECT_TRUE(has(svg, "bins widened from 0.001 s"));
  EXPECT_LE(polyline_points(attributes(svg, R"(<polyline class="series")", "points").at(0)).size(), 2000u);
  EXPECT_LT(svg.size(), 100000u);
}

}  // namespace
}  // namespace helix::sim
