// An independent reference for the flow tests: Edmonds–Karp on an adjacency
// matrix of doubles. Slow and simple on purpose; shares no code with MaxFlow.
#pragma once

#include <algorithm>
#include <deque>
#include <limits>
#include <vector>

namespace helix::test {

struct Arc {
  int from, to;
  double cap;
};

struct Graph {
  int n = 0;
  std::vector<Arc> arcs;
};

// Each augmentation saturates its bottleneck exactly (x - x == 0), so it terminates.
inline double edmonds_karp(const Graph& g, int s, int t) {
  const auto n = static_cast<std::size_t>(g.n);
  auto idx = [](int v) { return static_cast<std::size_t>(v); };
  std::vector<std::vector<double>> r(n, std::vector<double>(n, 0.0));
  for (const Arc& a : g.arcs) {
    if (a.from != a.to) r[idx(a.from)][idx(a.to)] += a.cap;
  }
  double value = 0;
  while (true) {
    std::vector<int> parent(n, -1);
    parent[idx(s)] = s;
    std::deque<int> queue{s};
    while (!queue.empty() && parent[idx(t)] < 0) {
      const std::size_t v = idx(queue.front());
      queue.pop_front();
      for (std::size_t u = 0; u < n; ++u) {
        if (parent[u] < 0 && r[v][u] > 0) {
          parent[u] = static_cast<int>(v);
          queue.push_back(static_cast<int>(u));
        }
      }
    }
    if (parent[idx(t)] < 0) return value;
    double bottleneck = std::numeric_limits<double>::infinity();
    for (int v = t; v != s; v = parent[idx(v)]) bottleneck = std::min(bottleneck, r[idx(parent[idx(v)])][idx(v)]);
    for (int v = t; v != s; v = parent[idx(v)]) {
      r[idx(parent[idx(v)])][idx(v)] -= bottleneck;
      r[idx(v)][idx(parent[idx(v)])] += bottleneck;
    }
    value += bottleneck;
  }
}

}  // namespace helix::test
