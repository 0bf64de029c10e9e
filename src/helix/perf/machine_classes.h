// Which profile each node of a cluster uses for a model, grouped into the machine
// classes of the T(k) model (the paper's machine_num_dict).
//
// A node uses the paper's measured profile when the model has one (profile_key)
// and the node's GpuType::profile_name is among its measured GPUs; nodes of
// different GpuTypes with the same profile_name form one class, keyed by that
// name, as in the paper. Every other node gets a first-principles profile of its
// own GpuType (first_principles.h), keyed by the type's name. The simulator uses
// this too, to find a node's layer-time tables and batch limits.
#pragma once

#include <vector>

#include "helix/cluster/cluster_spec.h"
#include "helix/model/model_spec.h"
#include "helix/perf/first_principles.h"
#include "helix/perf/throughput_model.h"

namespace helix {

struct ClusterClasses {
  std::vector<MachineClass> classes;  // distinct, in class_order_less order
  std::vector<int> node_class;        // per node: index into classes
};

// Throws Error naming the node and its type when neither a measured profile nor a
// first-principles estimate is possible, or when a paper model's layer count
// disagrees with its profile.
ClusterClasses resolve_machine_classes(const ClusterSpec& cluster, const ModelSpec& model,
                                       const FirstPrinciplesConstants& constants = {});

}  // namespace helix
