#include "helix/cluster/cluster_spec.h"

#include "helix/core/error.h"

namespace helix {

std::int64_t ClusterSpec::key(int from, int to) const {
  auto n1 = static_cast<std::int64_t>(nodes.size()) + 1;
  return (static_cast<std::int64_t>(from) + 1) * n1 + (to + 1);
}

void ClusterSpec::index_links() {
  const int n = num_nodes();
  name_index_.clear();
  for (int i = 0; i < n; ++i) {
    if (!name_index_.emplace(nodes[i].name, i).second) {
      fail("node name '{}' is used twice", nodes[i].name);
    }
  }
  dense_index_.clear();
  sparse_index_.clear();
  const bool dense = n <= kDenseLimit;
  if (dense) dense_index_.assign(static_cast<std::size_t>(n + 1) * (n + 1), -1);
  for (std::size_t li = 0; li < links.size(); ++li) {
    const Link& l = links[li];
    auto valid = [n](int e) { return e == kCoordinator || (e >= 0 && e < n); };
    if (!valid(l.from) || !valid(l.to)) fail("link {} -> {} names an unknown endpoint", l.from, l.to);
    if (l.from == l.to) fail("link from '{}' to itself", endpoint_name(l.from));
    std::int64_t k = key(l.from, l.to);
    std::int32_t& slot = dense ? dense_index_[static_cast<std::size_t>(k)] : sparse_index_[k];
    if (dense ? slot != -1 : slot != 0) {
      fail("link {} -> {} is given twice", endpoint_name(l.from), endpoint_name(l.to));
    }
    // The sparse map stores index+1 so that a default-constructed 0 means "none".
    slot = dense ? static_cast<std::int32_t>(li) : static_cast<std::int32_t>(li + 1);
  }
}

const Link* ClusterSpec::find_link(int from, int to) const {
  std::int64_t k = key(from, to);
  if (!dense_index_.empty()) {
    std::int32_t i = dense_index_[static_cast<std::size_t>(k)];
    return i < 0 ? nullptr : &links[static_cast<std::size_t>(i)];
  }
  auto it = sparse_index_.find(k);
  return it == sparse_index_.end() ? nullptr : &links[static_cast<std::size_t>(it->second - 1)];
}

int ClusterSpec::node_index(std::string_view node_name) const {
  auto it = name_index_.find(std::string(node_name));
  return it == name_index_.end() ? -1 : it->second;
}

std::map<std::string, int> ClusterSpec::composition() const {
  std::map<std::string, int> counts;
  for (const auto& node : nodes) ++counts[gpu_types.at(node.gpu_type).name];
  return counts;
}

std::string ClusterSpec::endpoint_name(int endpoint) const {
  if (endpoint == kCoordinator) return "coordinator";
  if (endpoint >= 0 && endpoint < num_nodes()) return nodes[endpoint].name;
  return "endpoint " + std::to_string(endpoint);
}

}  // namespace helix
