#include "helix/flow/link_capacities.h"

namespace helix::flow_internal {
namespace {

std::size_t at(int i) { return static_cast<std::size_t>(i); }

bool between_nodes(const Link& l) { return l.from != kCoordinator && l.to != kCoordinator; }

}  // namespace

LinkCapacities::LinkCapacities(const ClusterSpec& cluster, const ModelSpec& model)
    : cluster_(&cluster),
      activation_bytes_(model.activation_bytes_per_token),
      n_(cluster.num_nodes()),
      words_(at((n_ + 63) / 64)),
      from_coordinator_(at(n_), -1.0),
      to_coordinator_(at(n_), -1.0) {
  const double token = model.token_size_bytes;
  for (const Link& l : cluster.links) {
    if (l.from == kCoordinator) from_coordinator_[at(l.to)] = l.bandwidth_Bps / token;
    if (l.to == kCoordinator) to_coordinator_[at(l.from)] = l.bandwidth_Bps / token;
  }
  if (n_ <= kBitmapLimit) index_node_links();
}

double LinkCapacities::between_slow(int i, int j) const {
  const Link* l = cluster_->find_link(i, j);
  return l ? l->bandwidth_Bps / activation_bytes_ : -1.0;
}

void LinkCapacities::index_node_links() {
  bits_.assign(at(n_) * words_, 0);
  for (const Link& l : cluster_->links) {
    if (between_nodes(l)) bits_[at(l.from) * words_ + at(l.to >> 6)] |= std::uint64_t{1} << (l.to & 63);
  }
  rank_.resize(bits_.size());
  row_first_.assign(at(n_ + 1), 0);
  for (int i = 0; i < n_; ++i) {
    int count = 0;
    for (std::size_t w = at(i) * words_; w < at(i + 1) * words_; ++w) {
      rank_[w] = count;
      count += std::popcount(bits_[w]);
    }
    row_first_[at(i + 1)] = row_first_[at(i)] + count;
  }
  caps_.assign(at(row_first_[at(n_)]), 0.0);
  for (const Link& l : cluster_->links) {
    if (!between_nodes(l)) continue;
    const std::size_t w = at(l.from) * words_ + at(l.to >> 6);
    caps_[at(slot(l.from, w, std::uint64_t{1} << (l.to & 63)))] = l.bandwidth_Bps / activation_bytes_;
  }
}

}  // namespace helix::flow_internal
