// Reading CPLEX-LP files into a MilpModel, through CoinUtils' LP reader
// (CoinLpIO). Used to compare a model helix builds with the paper's published
// ilp_model.lp files (written by Gurobi) and to check MilpModel::to_lp() round trips.
//
// CoinLpIO's conventions apply: a ranged row "r" comes back as two rows "r" and
// "r_low"; a row without a name is called "consK"; the objective may not contain
// a constant. Bounds of magnitude >= 1e30 are read as infinite.
#pragma once

#include <filesystem>

#include "helix/milp/milp_model.h"

namespace helix {

// Throws Error if the file cannot be read or CoinLpIO rejects it.
MilpModel read_lp_file(const std::filesystem::path& path);

}  // namespace helix
