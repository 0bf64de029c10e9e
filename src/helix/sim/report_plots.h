// report_plots: the pictures of a simulation a person would rather look at than
// read (`helix simulate --plots DIR`), drawn by helix itself as SVG.
//
//  * latency_cdf_svg: the empirical CDF of one or more latency samples (e.g.
//    "prompt" and "decode", or one per scheduler), x = seconds (linear, from 0 to
//    the largest p99.5 of the series, so a long tail does not squash the curves),
//    y = fraction 0..1, with the p50 and p95 of each series marked and written in
//    the legend.
//  * throughput_svg: tokens/s over time from the finish times of requests, binned
//    (bin_s seconds), one line per series (e.g. "decode", "prompt"), with the
//    measurement window shaded.
//
// Output is deterministic (same input, same bytes), well-formed XML (labels
// escaped with helix::xml_escape), readable at 800x480, with axis ticks at round
// numbers. Empty series are allowed (drawn as "no data" in the legend); all
// series empty gives a valid SVG that says "no data".
#pragma once

#include <string>
#include <vector>

namespace helix::sim {

struct PlotSeries {
  std::string label;
  std::vector<double> values;  // latency_cdf_svg: latencies (s); throughput_svg: finish times (s)
  // throughput_svg only: tokens each entry stands for (empty = 1 each).
  std::vector<double> weights;
};

// The x axis ends at the first round tick at or above the largest p99.5; each curve
// is drawn with at most 1000 steps, every corner exactly on the CDF. NaN and
// infinite latencies are left out (counted in the subtitle).
std::string latency_cdf_svg(const std::vector<PlotSeries>& series, const std::string& title);

// window_start_s/window_end_s: the measurement window to shade (skip if end <= start).
// Throws helix::Error if bin_s is not a positive finite number, or if a series has
// weights but not one per value. Bins start at 0 (or before the earliest finish, if
// negative); more than 2000 bins are merged by a whole factor (said in the subtitle).
// NaN and infinite times or weights are left out (counted in the subtitle).
std::string throughput_svg(const std::vector<PlotSeries>& series, double bin_s,
                           double window_start_s, double window_end_s, const std::string& title);

}  // namespace helix::sim
