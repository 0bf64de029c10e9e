// LayerTimeTable: the time one transformer layer takes on one GPU for a batch of
// x tokens, as the paper's profiles give it (prompt_bs2time.csv: x = prompt tokens
// summed over the batch; decode_bs2time.csv: x = sequences, one token each).
//
// Look-ups follow the paper's code exactly (planner spec §1.5 step 3): take the
// largest key <= x and the smallest key >= x; an exact key returns its value,
// otherwise y0 + (y1 - y0) * (x - x0) / (x1 - x0) in that order of operations.
// There is no extrapolation: x outside [first key, last key] is an Error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace helix {

class LayerTimeTable {
 public:
  struct Point {
    int tokens = 0;
    double seconds = 0;  // per layer
  };

  LayerTimeTable() = default;
  // Points must have strictly increasing, non-negative token counts and finite,
  // non-negative times. `name` is used in error messages. Throws Error.
  LayerTimeTable(std::vector<Point> points, std::string name);

  // Parses a profile CSV: an optional header line, then `tokens,time_ms` rows.
  // Times are converted as the paper's loader does, ms * 1e-3 (§1.4).
  static LayerTimeTable from_csv(std::string_view text, const std::string& name);

  // Seconds per layer for a batch of `tokens`. Throws Error outside the table.
  double at(int tokens) const;

  bool covers(int tokens) const;
  int max_tokens() const { return points_.empty() ? 0 : points_.back().tokens; }
  const std::vector<Point>& points() const { return points_; }
  const std::string& name() const { return name_; }

 private:
  std::vector<Point> points_;
  std::string name_;
};

// Seconds a batch of `prompt_tokens` prompt tokens and `decodes` decode sequences
// takes on `layers` layers: layers x (prompt(P) + decode(D) x (2 if D = 1)), the
// paper simulator's per-layer charge (simulator spec §5.1) for a whole stage, with P
// and D clamped into the tables (a worker's batch limits keep them inside in
// practice; an edge value beats failing a batch). helix's emulated workers sleep
// this long, and the simulator's model of helix's runtime charges it.
double stage_batch_seconds(const LayerTimeTable& prompt, const LayerTimeTable& decode, long long prompt_tokens,
                           int decodes, int layers);

}  // namespace helix
