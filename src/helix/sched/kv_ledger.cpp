#include "helix/sched/kv_ledger.h"

#include <algorithm>

namespace helix::sched {

KvLedger::KvLedger(const ServingView& view, KvParameters parameters)
    : parameters_(parameters), num_layers_(view.num_layers) {
  for (const NodeView& node : view.nodes) {
    layers_.push_back(node.layers);
    total_.push_back(node.kv_capacity);
    available_.push_back(node.kv_capacity);
  }
}

long long KvLedger::expected_len(int input_tokens) const {
  // Python int(): truncation toward zero.
  return static_cast<long long>(input_tokens + 240 * parameters_.expected_output_ratio);
}

bool KvLedger::can_add(int node, int input_tokens) const {
  const auto i = static_cast<std::size_t>(node);
  const double need = static_cast<double>(expected_len(input_tokens)) * layers_[i].size();
  return available_[i] - need >= (1 - parameters_.expected_kv_hwm) * total_[i];
}

void KvLedger::add(int input_tokens, const std::vector<KvCharge>& charges) {
  const double len = static_cast<double>(expected_len(input_tokens));
  for (const KvCharge& c : charges) available_[static_cast<std::size_t>(c.node)] -= len * c.layers;
}

void KvLedger::remove(int input_tokens, const std::vector<KvCharge>& charges) {
  const double len = static_cast<double>(expected_len(input_tokens));
  for (const KvCharge& c : charges) available_[static_cast<std::size_t>(c.node)] += len * c.layers;
}

double KvLedger::bottleneck_usage() const {
  std::vector<double> free_share(static_cast<std::size_t>(num_layers_), 0.0);
  std::vector<double> total_share(static_cast<std::size_t>(num_layers_), 0.0);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const LayerRange& r = layers_[i];
    if (r.empty()) continue;
    for (int l = r.start; l < r.end; ++l) {
      free_share[static_cast<std::size_t>(l)] += available_[i] / r.size();
      total_share[static_cast<std::size_t>(l)] += total_[i] / r.size();
    }
  }
  double worst = 0;
  for (std::size_t l = 0; l < free_share.size(); ++l) {
    if (total_share[l] > 0) worst = std::max(worst, 1 - free_share[l] / total_share[l]);
  }
  return worst;
}

}  // namespace helix::sched
