#include "helix/milp/milp_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "helix/core/error.h"

namespace helix {
namespace {

// CoinUtils' LP reader accepts names of at most 100 characters (CoinLpIO::is_invalid_name).
constexpr std::size_t kMaxNameLength = 100;
constexpr double kIntegerTolerance = 1e-6;
// Continuation lines start once a line is longer than this (Gurobi wraps similarly).
constexpr std::size_t kLineWidth = 72;

bool valid_name_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return c != '\0' && std::strchr("!#$%&().;?@_'`{}~", c) != nullptr;
}

void check_number(double value, std::string_view what, std::string_view name) {
  if (std::isnan(value)) fail("MILP: {} of '{}' is NaN", what, name);
}

// Shortest round-trip text of a finite double; never "-0".
std::string number(double value) {
  if (value == 0) return "0";
  return fmt::format("{}", value);
}

// Appends " + 3 x" / " - x" terms, wrapping long lines as continuation lines.
class LineWriter {
 public:
  explicit LineWriter(std::string& out) : out_(out), line_start_(out.size()) {}

  void term(double coefficient, const std::string& column, bool first) {
    std::string text;
    if (coefficient < 0) text = first ? "- " : " - ";
    else if (!first) text = " + ";
    const double magnitude = std::abs(coefficient);
    if (magnitude != 1) text += number(magnitude) + " ";
    text += column;
    append(text);
  }
  void append(const std::string& text) {
    if (out_.size() - line_start_ > kLineWidth) {
      out_ += "\n  ";
      line_start_ = out_.size() - 2;
    }
    out_ += text;
  }

 private:
  std::string& out_;
  std::size_t line_start_;
};

void write_terms(std::string& out, const std::vector<MilpTerm>& terms,
                 const std::vector<MilpColumn>& columns) {
  LineWriter line(out);
  if (terms.empty()) {
    line.append(columns.empty() ? "0" : "0 " + columns.front().name);
    return;
  }
  bool first = true;
  for (const MilpTerm& t : terms) {
    line.term(t.coefficient, columns[static_cast<std::size_t>(t.column)].name, first);
    first = false;
  }
}

void write_objective(std::string& out, const MilpModel& model) {
  out += model.maximize() ? "Maximize\n" : "Minimize\n";
  std::vector<MilpTerm> terms;
  for (int j = 0; j < model.num_columns(); ++j) {
    if (model.column(j).objective != 0) terms.push_back({j, model.column(j).objective});
  }
  out += " obj: ";
  write_terms(out, terms, model.columns());
  out += "\n";
}

void write_row(std::string& out, const std::string& name, const MilpRow& row,
               const std::vector<MilpColumn>& columns, const std::string& sense, double rhs) {
  out += " " + name + ": ";
  write_terms(out, row.terms, columns);
  out += " " + sense + " " + number(rhs) + "\n";
}

void write_rows(std::string& out, const MilpModel& model) {
  out += "Subject To\n";
  for (const MilpRow& row : model.rows()) {
    const bool has_lower = std::isfinite(row.lower);
    const bool has_upper = std::isfinite(row.upper);
    if (has_lower && has_upper && row.lower == row.upper) {
      write_row(out, row.name, row, model.columns(), "=", row.upper);
      continue;
    }
    if (has_upper) write_row(out, row.name, row, model.columns(), "<=", row.upper);
    if (has_lower) {
      write_row(out, has_upper ? row.name + "_low" : row.name, row, model.columns(), ">=", row.lower);
    }
  }
}

// One line of the Bounds section, or "" for the LP default [0, +inf).
std::string bound_line(const MilpColumn& c) {
  const bool has_lower = std::isfinite(c.lower);
  const bool has_upper = std::isfinite(c.upper);
  if (c.lower == 0 && !has_upper) return "";
  if (has_lower && c.lower == c.upper) return fmt::format(" {} = {}\n", c.name, number(c.lower));
  if (!has_lower && !has_upper) return fmt::format(" {} free\n", c.name);
  if (!has_upper) return fmt::format(" {} >= {}\n", c.name, number(c.lower));
  const std::string lower = has_lower ? number(c.lower) : "-inf";
  return fmt::format(" {} <= {} <= {}\n", lower, c.name, number(c.upper));
}

void write_name_list(std::string& out, const char* section, const std::vector<const std::string*>& names) {
  if (names.empty()) return;
  out += section;
  out += "\n";
  LineWriter line(out);
  for (const std::string* name : names) line.append(" " + *name);
  out += "\n";
}

void write_bounds_and_types(std::string& out, const MilpModel& model) {
  out += "Bounds\n";
  std::vector<const std::string*> generals, binaries;
  for (const MilpColumn& c : model.columns()) {
    if (c.binary()) {
      binaries.push_back(&c.name);
      continue;
    }
    out += bound_line(c);
    if (c.integer) generals.push_back(&c.name);
  }
  write_name_list(out, "Generals", generals);
  write_name_list(out, "Binaries", binaries);
}

}  // namespace

void check_lp_name(std::string_view name, std::string_view what) {
  if (name.empty()) fail("MILP: {} has an empty name", what);
  if (name.size() > kMaxNameLength) {
    fail("MILP: {} name '{}' is longer than {} characters", what, name, kMaxNameLength);
  }
  if (std::isdigit(static_cast<unsigned char>(name.front())) || name.front() == '.') {
    fail("MILP: {} name '{}' starts with a digit or '.'", what, name);
  }
  for (char c : name) {
    if (!valid_name_char(c)) fail("MILP: {} name '{}' contains '{}'", what, name, c);
  }
}

int MilpModel::add_column(MilpColumn column) {
  check_lp_name(column.name, "column");
  check_number(column.lower, "lower bound", column.name);
  check_number(column.upper, "upper bound", column.name);
  check_number(column.objective, "objective coefficient", column.name);
  if (column.lower > column.upper) {
    fail("MILP: column '{}' has lower bound {} > upper bound {}", column.name, column.lower, column.upper);
  }
  const int index = num_columns();
  if (!column_by_name_.emplace(column.name, index).second) fail("MILP: duplicate column '{}'", column.name);
  columns_.push_back(std::move(column));
  return index;
}

void MilpModel::set_bounds(int column, double lower, double upper) {
  MilpColumn& c = columns_.at(static_cast<std::size_t>(column));
  check_number(lower, "lower bound", c.name);
  check_number(upper, "upper bound", c.name);
  if (lower > upper) fail("MILP: column '{}' would get lower bound {} > upper bound {}", c.name, lower, upper);
  c.lower = lower;
  c.upper = upper;
}

int MilpModel::add_continuous(std::string column_name, double lower, double upper, double objective) {
  return add_column({std::move(column_name), lower, upper, objective, false});
}

int MilpModel::add_integer(std::string column_name, double lower, double upper, double objective) {
  return add_column({std::move(column_name), lower, upper, objective, true});
}

int MilpModel::add_binary(std::string column_name, double objective) {
  return add_column({std::move(column_name), 0, 1, objective, true});
}

int MilpModel::add_row(MilpRow row) {
  check_lp_name(row.name, "row");
  check_number(row.lower, "lower bound", row.name);
  check_number(row.upper, "upper bound", row.name);
  if (!std::isfinite(row.lower) && !std::isfinite(row.upper)) fail("MILP: row '{}' has no finite bound", row.name);
  if (row.lower > row.upper) fail("MILP: row '{}' has lower bound {} > upper bound {}", row.name, row.lower, row.upper);
  // Merge repeated columns, keeping the order of first appearance, then drop zeros.
  std::vector<MilpTerm> merged;
  std::unordered_map<int, std::size_t> position;
  for (const MilpTerm& t : row.terms) {
    if (t.column < 0 || t.column >= num_columns()) fail("MILP: row '{}' uses unknown column {}", row.name, t.column);
    check_number(t.coefficient, "a coefficient", row.name);
    auto [it, fresh] = position.emplace(t.column, merged.size());
    if (fresh) merged.push_back(t);
    else merged[it->second].coefficient += t.coefficient;
  }
  std::erase_if(merged, [](const MilpTerm& t) { return t.coefficient == 0; });
  row.terms = std::move(merged);
  const int index = num_rows();
  if (!row_by_name_.emplace(row.name, index).second) fail("MILP: duplicate row '{}'", row.name);
  nonzeros_ += row.terms.size();
  rows_.push_back(std::move(row));
  return index;
}

int MilpModel::add_le(std::string row_name, std::vector<MilpTerm> terms, double upper) {
  return add_row({std::move(row_name), std::move(terms), -kMilpInfinity, upper});
}

int MilpModel::add_ge(std::string row_name, std::vector<MilpTerm> terms, double lower) {
  return add_row({std::move(row_name), std::move(terms), lower, kMilpInfinity});
}

int MilpModel::add_eq(std::string row_name, std::vector<MilpTerm> terms, double value) {
  return add_row({std::move(row_name), std::move(terms), value, value});
}

int MilpModel::column_index(std::string_view column_name) const {
  auto it = column_by_name_.find(std::string(column_name));
  return it == column_by_name_.end() ? -1 : it->second;
}

int MilpModel::row_index(std::string_view row_name) const {
  auto it = row_by_name_.find(std::string(row_name));
  return it == row_by_name_.end() ? -1 : it->second;
}

double MilpModel::objective_value(std::span<const double> values) const {
  if (values.size() != columns_.size()) fail("MILP: {} values for {} columns", values.size(), columns_.size());
  double total = 0;
  for (std::size_t j = 0; j < columns_.size(); ++j) total += columns_[j].objective * values[j];
  return total;
}

double MilpModel::max_violation(std::span<const double> values) const {
  if (values.size() != columns_.size()) fail("MILP: {} values for {} columns", values.size(), columns_.size());
  double worst = 0;
  for (std::size_t j = 0; j < columns_.size(); ++j) {
    const MilpColumn& c = columns_[j];
    const double v = values[j];
    worst = std::max({worst, c.lower - v, v - c.upper});
    if (c.integer) worst = std::max(worst, std::abs(v - std::round(v)) - kIntegerTolerance);
  }
  for (const MilpRow& row : rows_) {
    double activity = 0;
    for (const MilpTerm& t : row.terms) activity += t.coefficient * values[static_cast<std::size_t>(t.column)];
    worst = std::max({worst, row.lower - activity, activity - row.upper});
  }
  return worst;
}

std::string MilpModel::to_lp() const {
  std::string out;
  if (!name.empty()) {
    std::string comment = name;
    std::replace(comment.begin(), comment.end(), '\n', ' ');
    out += "\\ " + comment + "\n";
  }
  write_objective(out, *this);
  write_rows(out, *this);
  write_bounds_and_types(out, *this);
  out += "End\n";
  return out;
}

}  // namespace helix
