#include "helix/cluster/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "helix/core/error.h"
#include "helix/core/units.h"

namespace helix {
namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto w : words) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

struct FlopUnit {
  std::string_view name;
  double factor;
};

constexpr FlopUnit kFlopUnits[] = {
    {"FLOP/s", 1.0}, {"GFLOP/s", 1e9}, {"TFLOP/s", 1e12}, {"PFLOP/s", 1e15},
    {"FLOPS", 1.0},  {"GFLOPS", 1e9},  {"TFLOPS", 1e12},  {"PFLOPS", 1e15},
};

}  // namespace

double parse_flops(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data() || !std::isfinite(value)) {
    fail("'{}' is not a FLOP/s rate: expected a number followed by a unit, e.g. '312 TFLOP/s'", text);
  }
  std::string_view unit = s.substr(static_cast<std::size_t>(end - s.data()));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  while (!unit.empty() && unit.back() == ' ') unit.remove_suffix(1);
  if (value < 0) fail("'{}' is negative: a FLOP/s rate must be >= 0", text);
  for (const auto& u : kFlopUnits) {
    if (u.name == unit) return value * u.factor;
  }
  fail("'{}' has {} unit '{}': a FLOP/s rate needs one of FLOP/s, GFLOP/s, TFLOP/s, PFLOP/s", text,
       unit.empty() ? "no" : "an unknown", unit);
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

YAML::Node YamlReader::parse(const std::string& text) const {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail("{}:{}: YAML syntax error: {}", source_, e.mark.line + 1, e.msg);
  }
}

void YamlReader::fail_at(const YAML::Node& at, std::string_view field, std::string_view message) const {
  int line = at.IsDefined() ? at.Mark().line : -1;
  std::string where = line >= 0 ? fmt::format("{}:{}", source_, line + 1) : source_;
  if (field.empty()) fail("{}: {}", where, message);
  fail("{}: {}: {}", where, field, message);
}

void YamlReader::expect_map(const YAML::Node& node, std::string_view field) const {
  if (!node.IsMap()) fail_at(node, field, "expected a map of 'key: value' fields");
}

void YamlReader::expect_list(const YAML::Node& node, std::string_view field) const {
  if (!node.IsSequence()) fail_at(node, field, "expected a list ('- item' lines or [a, b])");
}

void YamlReader::check_keys(const YAML::Node& map, std::string_view field,
                            std::initializer_list<std::string_view> allowed) const {
  expect_map(map, field);
  std::set<std::string, std::less<>> seen;
  for (const auto& pair : map) {
    YAML::Node key = pair.first;
    std::string name = key.IsScalar() ? key.Scalar() : std::string("?");
    if (!seen.insert(name).second) fail_at(key, child(field, name), "is given twice");
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string hint = closest_match(name, std::vector<std::string>(allowed.begin(), allowed.end()));
    fail_at(key, child(field, name),
            fmt::format("unknown key{} (expected one of: {})",
                        hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint), join(allowed)));
  }
}

YAML::Node YamlReader::require(const YAML::Node& map, std::string_view field, const char* key) const {
  YAML::Node value = map[key];
  if (!value.IsDefined() || value.IsNull()) {
    fail_at(map, field, fmt::format("missing field '{}'", key));
  }
  return value;
}

std::string YamlReader::text(const YAML::Node& node, std::string_view field) const {
  if (!node.IsScalar()) fail_at(node, field, "expected a single value (text), not a list or map");
  return node.Scalar();
}

long long YamlReader::integer(const YAML::Node& node, std::string_view field) const {
  long long v = 0;
  if (!node.IsScalar() || !YAML::convert<long long>::decode(node, v)) {
    fail_at(node, field, "expected a whole number");
  }
  return v;
}

bool YamlReader::boolean(const YAML::Node& node, std::string_view field) const {
  bool v = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, v)) {
    fail_at(node, field, "expected true or false");
  }
  return v;
}

namespace {

template <typename Parse>
double quantity(const YamlReader& r, const YAML::Node& node, std::string_view field, Parse parse) {
  std::string s = r.text(node, field);
  try {
    return parse(s);
  } catch (const Error& e) {
    r.fail_at(node, field, e.what());
  }
}

}  // namespace

double YamlReader::bandwidth(const YAML::Node& node, std::string_view field) const {
  return quantity(*this, node, field, parse_bandwidth_Bps);
}

double YamlReader::duration(const YAML::Node& node, std::string_view field) const {
  return quantity(*this, node, field, parse_duration_s);
}

double YamlReader::size(const YAML::Node& node, std::string_view field) const {
  return quantity(*this, node, field, parse_size_bytes);
}

double YamlReader::flops(const YAML::Node& node, std::string_view field) const {
  return quantity(*this, node, field, parse_flops);
}

std::string YamlReader::child(std::string_view field, std::string_view key) {
  return field.empty() ? std::string(key) : fmt::format("{}.{}", field, key);
}

std::string YamlReader::item(std::string_view field, std::size_t index) {
  return fmt::format("{}[{}]", field, index);
}

}  // namespace helix
