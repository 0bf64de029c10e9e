// Small MILPs with known optima (found by brute force here) for the milp tests,
// and a hard one (market split, Cornuéjols & Dawande 1998) that CBC cannot finish
// quickly, for time limits and cancellation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "helix/milp/milp_model.h"

namespace helix::test {

struct Knapsack {
  std::vector<double> value{10, 13, 7, 8, 9, 12, 5, 6, 11, 4};
  std::vector<double> weight{5, 7, 3, 4, 5, 6, 2, 3, 6, 2};
  double capacity = 20;

  MilpModel model() const {
    MilpModel m;
    m.name = "knapsack";
    m.set_maximize(true);
    std::vector<MilpTerm> load;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const int x = m.add_binary("x" + std::to_string(i), value[i]);
      load.push_back({x, weight[i]});
    }
    m.add_le("capacity", load, capacity);
    return m;
  }
  double brute_force() const {
    double best = 0;
    for (unsigned mask = 0; mask < (1u << value.size()); ++mask) {
      double v = 0, w = 0;
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (mask & (1u << i)) {
          v += value[i];
          w += weight[i];
        }
      }
      if (w <= capacity && v > best) best = v;
    }
    return best;
  }
};

// Single-source capacitated facility location: open facilities (fixed cost) and
// assign every customer to one open facility within its capacity; minimise cost.
struct FacilityLocation {
  std::vector<double> open_cost{30, 25, 40};
  std::vector<double> capacity{10, 8, 14};
  std::vector<double> demand{4, 3, 5, 2, 6};
  std::vector<std::vector<double>> assign_cost{
      {3, 7, 4, 8, 5}, {6, 2, 7, 3, 6}, {5, 6, 2, 5, 3}};

  MilpModel model() const {
    MilpModel m;
    m.name = "facility";
    const std::size_t nf = open_cost.size(), nc = demand.size();
    std::vector<int> y(nf);
    std::vector<std::vector<int>> x(nf, std::vector<int>(nc));
    for (std::size_t f = 0; f < nf; ++f) y[f] = m.add_binary("open_" + std::to_string(f), open_cost[f]);
    for (std::size_t f = 0; f < nf; ++f) {
      for (std::size_t c = 0; c < nc; ++c) {
        x[f][c] = m.add_binary("assign_" + std::to_string(f) + "_" + std::to_string(c), assign_cost[f][c]);
      }
    }
    for (std::size_t c = 0; c < nc; ++c) {
      std::vector<MilpTerm> once;
      for (std::size_t f = 0; f < nf; ++f) once.push_back({x[f][c], 1});
      m.add_eq("serve_" + std::to_string(c), once, 1);
    }
    for (std::size_t f = 0; f < nf; ++f) {
      std::vector<MilpTerm> load{{y[f], -capacity[f]}};
      for (std::size_t c = 0; c < nc; ++c) load.push_back({x[f][c], demand[c]});
      m.add_le("capacity_" + std::to_string(f), load, 0);
    }
    return m;
  }
  double brute_force() const {
    const std::size_t nf = open_cost.size(), nc = demand.size();
    double best = 1e100;
    std::vector<std::size_t> choice(nc, 0);
    for (;;) {  // every assignment; a facility is open iff used
      std::vector<double> load(nf, 0);
      std::vector<bool> used(nf, false);
      double cost = 0;
      for (std::size_t c = 0; c < nc; ++c) {
        load[choice[c]] += demand[c];
        used[choice[c]] = true;
        cost += assign_cost[choice[c]][c];
      }
      bool ok = true;
      for (std::size_t f = 0; f < nf; ++f) {
        if (used[f]) cost += open_cost[f];
        ok = ok && load[f] <= capacity[f];
      }
      if (ok && cost < best) best = cost;
      std::size_t c = 0;
      while (c < nc && ++choice[c] == nf) choice[c++] = 0;
      if (c == nc) break;
    }
    return best;
  }
};

// Market split: sum_j a_ij x_j + over_i - under_i = d_i, minimise total slack.
// 4 rows x 30 binaries takes CBC far longer than the tests wait.
inline MilpModel market_split(int rows = 4, int cols = 30) {
  MilpModel m;
  m.name = "market split";
  std::uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((state >> 33) % 100);
  };
  std::vector<int> x;
  for (int j = 0; j < cols; ++j) x.push_back(m.add_binary("x" + std::to_string(j)));
  for (int i = 0; i < rows; ++i) {
    std::vector<MilpTerm> terms;
    double total = 0;
    for (int j = 0; j < cols; ++j) {
      const int a = next();
      terms.push_back({x[static_cast<std::size_t>(j)], static_cast<double>(a)});
      total += a;
    }
    const int over = m.add_continuous("over" + std::to_string(i), 0, kMilpInfinity, 1);
    const int under = m.add_continuous("under" + std::to_string(i), 0, kMilpInfinity, 1);
    terms.push_back({over, 1});
    terms.push_back({under, -1});
    m.add_eq("split" + std::to_string(i), terms, static_cast<double>(static_cast<int>(total / 2)));
  }
  return m;
}

}  // namespace helix::test
