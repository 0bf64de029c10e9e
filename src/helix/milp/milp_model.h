// MilpModel: a small, solver-independent mixed-integer linear program — named
// columns (bounds, objective coefficient, integrality) and named rows (sparse
// coefficients between a lower and an upper bound). Planners build one, a solver
// back end (cbc_solver.h) solves it, and to_lp() writes it as CPLEX-LP text, the
// format the paper's artifact published its models in (ilp_model.lp), so a model
// helix builds can be diffed against upstream and opened in CBC or Gurobi.
//
// Names follow the LP format's rules (checked when added): 1..100 characters from
// letters, digits and !#$%&().;?@_'`{}~ (accepted by both CoinUtils' and Gurobi's
// LP readers), not starting with a digit or '.', unique among columns and rows.
#pragma once

#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace helix {

inline constexpr double kMilpInfinity = std::numeric_limits<double>::infinity();

struct MilpColumn {
  std::string name;
  double lower = 0;
  double upper = kMilpInfinity;
  double objective = 0;
  bool integer = false;

  bool binary() const { return integer && lower == 0 && upper == 1; }
};

struct MilpTerm {
  int column = 0;
  double coefficient = 0;
};

// lower <= sum(terms) <= upper; at least one bound is finite.
struct MilpRow {
  std::string name;
  std::vector<MilpTerm> terms;
  double lower = -kMilpInfinity;
  double upper = kMilpInfinity;
};

class MilpModel {
 public:
  std::string name;  // written as a comment at the top of the LP text

  // Each returns the new index. Throws Error for an invalid or duplicate name,
  // lower > upper, a NaN, or (rows) an unknown column or no finite bound.
  // Rows merge repeated columns and drop zero coefficients.
  int add_column(MilpColumn column);
  int add_continuous(std::string column_name, double lower, double upper, double objective = 0);
  int add_integer(std::string column_name, double lower, double upper, double objective = 0);
  int add_binary(std::string column_name, double objective = 0);
  int add_row(MilpRow row);
  int add_le(std::string row_name, std::vector<MilpTerm> terms, double upper);
  int add_ge(std::string row_name, std::vector<MilpTerm> terms, double lower);
  int add_eq(std::string row_name, std::vector<MilpTerm> terms, double value);

  // Changes a column's bounds (e.g. to fix it). Throws Error as add_column does.
  void set_bounds(int column, double lower, double upper);

  void set_maximize(bool maximize) { maximize_ = maximize; }
  bool maximize() const { return maximize_; }

  const std::vector<MilpColumn>& columns() const { return columns_; }
  const std::vector<MilpRow>& rows() const { return rows_; }
  const MilpColumn& column(int j) const { return columns_.at(static_cast<std::size_t>(j)); }
  const MilpRow& row(int r) const { return rows_.at(static_cast<std::size_t>(r)); }
  int num_columns() const { return static_cast<int>(columns_.size()); }
  int num_rows() const { return static_cast<int>(rows_.size()); }
  // Coefficients in the constraint matrix (the objective not counted).
  std::size_t num_nonzeros() const { return nonzeros_; }

  // Index by name, or -1.
  int column_index(std::string_view column_name) const;
  int row_index(std::string_view row_name) const;

  // The objective of a full assignment of column values.
  double objective_value(std::span<const double> values) const;
  // The largest violation of a bound, row or integrality by `values` (0: feasible).
  double max_violation(std::span<const double> values) const;

  // CPLEX-LP text: Maximize/Minimize, Subject To, Bounds, Generals, Binaries, End.
  // Integer columns with bounds [0, 1] are written as Binaries. A row with two
  // different finite bounds is written as two rows, "name" (<= upper) and
  // "name_low" (>= lower), the convention of CoinUtils' LP reader. Numbers are
  // written in the shortest form that reads back to the same double.
  std::string to_lp() const;

 private:
  std::vector<MilpColumn> columns_;
  std::vector<MilpRow> rows_;
  std::unordered_map<std::string, int> column_by_name_;
  std::unordered_map<std::string, int> row_by_name_;
  std::size_t nonzeros_ = 0;
  bool maximize_ = false;
};

// Throws Error unless `name` is a valid LP-format name (see the file comment).
void check_lp_name(std::string_view name, std::string_view what);

}  // namespace helix
