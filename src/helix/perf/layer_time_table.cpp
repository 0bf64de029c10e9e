#include "helix/perf/layer_time_table.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>

#include "helix/core/error.h"
#include "helix/core/text_lines.h"

namespace helix {
namespace {

template <typename T>
bool parse_number(std::string_view text, T& value) {
  text = trim(text);
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

bool looks_like_header(std::string_view line) {
  return !line.empty() && !(std::isdigit(static_cast<unsigned char>(line.front())) ||
                            line.front() == '-' || line.front() == '+' || line.front() == '.');
}

LayerTimeTable::Point parse_row(std::string_view line, const std::string& name, int line_no) {
  auto comma = line.find(',');
  if (comma == std::string_view::npos) {
    fail("{}:{}: expected 'tokens,time_ms', got '{}'", name, line_no, line);
  }
  int tokens = 0;
  double ms = 0;
  if (!parse_number(line.substr(0, comma), tokens)) {
    fail("{}:{}: batch size '{}' is not an integer", name, line_no, trim(line.substr(0, comma)));
  }
  if (!parse_number(line.substr(comma + 1), ms)) {
    fail("{}:{}: time '{}' is not a number", name, line_no, trim(line.substr(comma + 1)));
  }
  // The paper's loader: float(row[1]) * MilliSec, with MilliSec = 1e-3 (§0.1).
  return {tokens, ms * 1e-3};
}

}  // namespace

LayerTimeTable::LayerTimeTable(std::vector<Point> points, std::string name)
    : points_(std::move(points)), name_(std::move(name)) {
  if (points_.empty()) fail("{}: layer-time table is empty", name_);
  for (std::size_t i = 0; i < points_.size(); ++i) {
    const Point& p = points_[i];
    if (p.tokens < 0) fail("{}: negative batch size {}", name_, p.tokens);
    if (!std::isfinite(p.seconds) || p.seconds < 0) {
      fail("{}: time {} s at batch {} must be finite and >= 0", name_, p.seconds, p.tokens);
    }
    if (i > 0 && p.tokens <= points_[i - 1].tokens) {
      fail("{}: batch sizes must increase strictly ({} after {})", name_, p.tokens,
           points_[i - 1].tokens);
    }
  }
}

LayerTimeTable LayerTimeTable::from_csv(std::string_view text, const std::string& name) {
  std::vector<Point> points;
  int line_no = 0;
  bool first = true;
  while (!text.empty()) {
    const std::string_view line = take_line(text);
    ++line_no;
    if (line.empty()) continue;
    bool header = first && looks_like_header(line);
    first = false;
    if (!header) points.push_back(parse_row(line, name, line_no));
  }
  return LayerTimeTable(std::move(points), name);
}

bool LayerTimeTable::covers(int tokens) const {
  return !points_.empty() && tokens >= points_.front().tokens && tokens <= points_.back().tokens;
}

double LayerTimeTable::at(int tokens) const {
  if (!covers(tokens)) {
    fail("{}: batch of {} tokens is outside the profiled range [{}, {}]", name_, tokens,
         points_.empty() ? 0 : points_.front().tokens, max_tokens());
  }
  // First point with key >= tokens: the right bracket (§1.5 step 3).
  auto right = std::lower_bound(points_.begin(), points_.end(), tokens,
                                [](const Point& p, int x) { return p.tokens < x; });
  if (right->tokens == tokens) return right->seconds;
  auto left = std::prev(right);
  // Same operation order as the paper's linear_interpolate().
  return left->seconds + (right->seconds - left->seconds) * double(tokens - left->tokens) /
                             double(right->tokens - left->tokens);
}

namespace {

double clamped_at(const LayerTimeTable& table, long long x) {
  const long long lo = table.points().front().tokens;
  return table.at(static_cast<int>(std::clamp<long long>(x, lo, table.max_tokens())));
}

}  // namespace

double stage_batch_seconds(const LayerTimeTable& prompt, const LayerTimeTable& decode, long long prompt_tokens,
                           int decodes, int layers) {
  double per_layer = 0;
  if (prompt_tokens > 0) per_layer += clamped_at(prompt, prompt_tokens);
  if (decodes > 0) per_layer += clamped_at(decode, decodes) * (decodes == 1 ? 2 : 1);
  return per_layer * layers;
}

}  // namespace helix
