// YamlReader: typed, checked access to a parsed YAML document, for helix's own
// file formats. Every accessor takes the node and its field path ("nodes[2].gpu")
// and, on bad input, throws an Error of one line:
//     cluster.yaml:14: nodes[2].gpu: unknown GPU type 'A1000' (known: ...)
// naming the file, the 1-based line (yaml-cpp's Mark) and the field, and saying
// what was expected. A missing field is reported at the line of its parent map.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace helix {

class YamlReader {
 public:
  explicit YamlReader(std::string source_name) : source_(std::move(source_name)) {}

  const std::string& source_name() const { return source_; }

  // Parses `text`; a syntax error becomes "file:line: message".
  YAML::Node parse(const std::string& text) const;

  [[noreturn]] void fail_at(const YAML::Node& at, std::string_view field, std::string_view message) const;

  void expect_map(const YAML::Node& node, std::string_view field) const;
  void expect_list(const YAML::Node& node, std::string_view field) const;
  // Refuses keys not in `allowed` (with a "did you mean" hint) and repeated keys.
  void check_keys(const YAML::Node& map, std::string_view field,
                  std::initializer_list<std::string_view> allowed) const;
  // map[key], or an Error "missing field 'key'" at the map's line.
  YAML::Node require(const YAML::Node& map, std::string_view field, const char* key) const;

  std::string text(const YAML::Node& node, std::string_view field) const;
  long long integer(const YAML::Node& node, std::string_view field) const;
  bool boolean(const YAML::Node& node, std::string_view field) const;
  // Quantities with a written-out unit, parsed by core/units.h ("1 Gbps", "50 ms", "40 GB").
  double bandwidth(const YAML::Node& node, std::string_view field) const;
  double duration(const YAML::Node& node, std::string_view field) const;
  double size(const YAML::Node& node, std::string_view field) const;
  // "312 TFLOP/s" (also FLOP/s GFLOP/s PFLOP/s and the spellings TFLOPS etc.).
  double flops(const YAML::Node& node, std::string_view field) const;

  // "field.key" / "field[i]" for nested paths.
  static std::string child(std::string_view field, std::string_view key);
  static std::string item(std::string_view field, std::size_t index);

 private:
  std::string source_;
};

// Parses a FLOP/s quantity such as "312 TFLOP/s". Throws Error.
double parse_flops(std::string_view text);
// The candidate closest to `word` by edit distance, if it is close (a typo), else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace helix
