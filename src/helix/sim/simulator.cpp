#include "helix/sim/simulator.h"

#include "helix/sim/runtime_model.h"

namespace helix::sim {

struct Simulator::Impl {
  std::unique_ptr<RuntimeModel> model;
};

Simulator::Simulator(const SimCluster& cluster, const SimConfig& config) : impl_(std::make_unique<Impl>()) {
  impl_->model = config.runtime == Runtime::Paper ? make_paper_model(cluster, config)
                                                  : make_helix_runtime_model(cluster, config);
}
Simulator::~Simulator() = default;

SimReport Simulator::run(const ProgressFn& progress) { return impl_->model->run(progress); }
double Simulator::max_flow_tps() const { return impl_->model->max_flow_tps(); }
double Simulator::model_loading_end_s() const { return impl_->model->model_loading_end_s(); }

SimReport simulate(const SimCluster& cluster, const SimConfig& config, const ProgressFn& progress) {
  return Simulator(cluster, config).run(progress);
}

}  // namespace helix::sim
