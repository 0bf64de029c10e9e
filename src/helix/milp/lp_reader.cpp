#include "helix/milp/lp_reader.h"

#include <cmath>
#include <fstream>

#include <CoinError.hpp>
#include <CoinLpIO.hpp>
#include <CoinMessageHandler.hpp>
#include <CoinPackedMatrix.hpp>

#include "helix/core/error.h"

namespace helix {
namespace {

constexpr double kCoinInfinity = 1e30;

double from_coin(double value) {
  if (value >= kCoinInfinity) return kMilpInfinity;
  if (value <= -kCoinInfinity) return -kMilpInfinity;
  return value;
}

void copy_columns(const CoinLpIO& lp, MilpModel& model) {
  const double sign = lp.wasMaximization() ? -1.0 : 1.0;  // CoinLpIO negated a max objective
  const double* objective = lp.getObjCoefficients();
  for (int j = 0; j < lp.getNumCols(); ++j) {
    model.add_column({lp.columnName(j), from_coin(lp.getColLower()[j]), from_coin(lp.getColUpper()[j]),
                      sign * objective[j] + 0.0, lp.isInteger(j)});
  }
  model.set_maximize(lp.wasMaximization());
}

void copy_rows(const CoinLpIO& lp, MilpModel& model) {
  const CoinPackedMatrix* matrix = lp.getMatrixByRow();
  for (int r = 0; r < lp.getNumRows(); ++r) {
    const CoinShallowPackedVector row = matrix->getVector(r);
    MilpRow out{lp.rowName(r), {}, from_coin(lp.getRowLower()[r]), from_coin(lp.getRowUpper()[r])};
    for (int e = 0; e < row.getNumElements(); ++e) {
      out.terms.push_back({row.getIndices()[e], row.getElements()[e]});
    }
    model.add_row(std::move(out));
  }
}

}  // namespace

MilpModel read_lp_file(const std::filesystem::path& path) {
  if (!std::ifstream(path)) fail("{}: cannot open the LP file", path.string());
  CoinMessageHandler quiet;
  quiet.setLogLevel(0);
  CoinLpIO lp;
  lp.passInMessageHandler(&quiet);
  return in_context(path.string(), [&] {
    try {
      lp.readLp(path.string().c_str(), 0.0);  // epsilon 0: keep every coefficient
    } catch (const CoinError& e) {
      fail("CoinLpIO: {} ({})", e.message(), e.methodName());
    }
    MilpModel model;
    model.name = path.filename().string();
    copy_columns(lp, model);
    copy_rows(lp, model);
    return model;
  });
}

}  // namespace helix
