// The built-in GPU catalog: machine types a cluster file can name without
// describing them. The paper's types (A100 40 GB, V100, L4, L4x2, T4, T4x2, T4x4)
// link to the paper's measured profiles; H100 80 GB and A10G carry only datasheet
// numbers, from which perf/ derives per-layer times (first-principles model).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "helix/cluster/cluster_spec.h"

namespace helix {

// All catalog entries, in a fixed order.
const std::vector<GpuType>& gpu_catalog();
// The entry named `name` (exact match), or nullopt.
std::optional<GpuType> find_catalog_gpu(const std::string& name);
// "A100, V100, ..." for error messages.
std::string catalog_gpu_names();

}  // namespace helix
