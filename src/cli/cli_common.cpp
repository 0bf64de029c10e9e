#include "cli_common.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "helix/cluster/cluster_yaml.h"
#include "helix/cluster/paper_import.h"
#include "helix/core/embedded_files.h"
#include "helix/core/error.h"
#include "helix/plan/helix_planner.h"
#include "helix/served/served_planner.h"
#include "helix/sim/sim_config.h"

namespace helix::cli {
namespace {

bool is_paper_simulator_cluster(const std::filesystem::path& path) {
  if (path.extension() != ".ini") return false;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("[ComputeNodes]") || line.starts_with("[Coordinator]")) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> builtin_cluster_names() {
  std::vector<std::string> names;
  for (const auto& [path, text] : embedded::example_files()) {
    std::filesystem::path p(path);
    if (p.parent_path() == "clusters") names.push_back(p.stem().string());
  }
  return names;
}

LoadedCluster load_cluster_arg(const std::string& spec, const std::string& machine_profiles) {
  std::filesystem::path path(spec);
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    if (is_paper_simulator_cluster(path)) {
      PaperSimulatorCluster sim = import_paper_simulator_cluster(path);
      return {std::move(sim.cluster), std::move(sim.links), spec};
    }
    return {load_cluster(path, machine_profiles), std::nullopt, spec};
  }
  const auto& examples = embedded::example_files();
  if (auto it = examples.find("clusters/" + spec + ".yaml"); it != examples.end()) {
    return {parse_cluster_yaml(std::string(it->second), "built-in " + spec), std::nullopt,
            "built-in " + spec};
  }
  std::string known;
  for (const auto& n : builtin_cluster_names()) known += (known.empty() ? "" : ", ") + n;
  fail("--cluster {}: no such file, and not a built-in cluster (built-in: {})", spec, known);
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return {};
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto numeric = [](const std::string& s) {
    return !s.empty() && (std::isdigit(static_cast<unsigned char>(s.front())) || s.front() == '-') &&
           s.find_first_not_of("0123456789.-e+%") == std::string::npos;
  };
  std::string out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (std::size_t c = 0; c < rows[r].size() && c < width.size(); ++c) {
      const std::string& cell = rows[r][c];
      bool right = r > 0 && numeric(cell);
      std::string padded = right ? fmt::format("{:>{}}", cell, width[c]) : fmt::format("{:<{}}", cell, width[c]);
      line += (c == 0 ? "" : "  ") + padded;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string fixed(double value, int decimals) { return fmt::format("{:.{}f}", value, decimals); }

void print_json(const nlohmann::json& json) { std::printf("%s\n", json.dump(2).c_str()); }

std::unique_ptr<Planner> make_cli_planner(const PlannerChoice& c) {
  if (c.objective != "served" && c.objective != "max-flow") {
    fail("--objective {}: expected served or max-flow", c.objective);
  }
  if (c.method != "helix") return make_planner(c.method);
  if (c.objective == "max-flow") return std::make_unique<HelixPlanner>(c.max_work);
  served::ServingTarget target;
  target.runtime = sim::parse_runtime(c.runtime);
  target.lengths = c.lengths;
  target.seed = c.seed;
  return std::make_unique<served::ServedPlanner>(target, c.max_work);
}

}  // namespace helix::cli
