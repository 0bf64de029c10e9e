#include "planned_model.h"

#include "helix/core/error.h"
#include "helix/engine/model_files.h"
#include "helix/runtime/runtime_model_spec.h"

namespace helix::cli {

void add_worker_dtype_options(CLI::App* cmd, WorkerDtypes& dtypes) {
  cmd->add_option("--kv-dtype", dtypes.kv,
                  "With the model's files: what the workers' KV caches will store, f32 (default) or f16");
  cmd->add_option("--activations", dtypes.activations,
                  "With the model's files: what the workers will send hidden states as, f32 (default) or f16");
}

ModelSpec served_model_spec(const ModelFiles& files, const WorkerDtypes& dtypes) {
  using runtime::ActivationDtype;
  const KvDtype kv = dtypes.kv.empty() ? KvDtype::F32 : parse_kv_dtype(dtypes.kv, "--kv-dtype");
  const ActivationDtype activations =
      dtypes.activations.empty() ? ActivationDtype::F32 : runtime::parse_activation_dtype(dtypes.activations, "--activations");
  return runtime::runtime_model_spec(files, kv, activations);
}

ModelSpec planned_model(const std::string& model, const WorkerDtypes& dtypes) {
  if (holds_model_weights(model)) return served_model_spec(open_model(model), dtypes);
  for (const auto& [option, value] :
       {std::pair{"--kv-dtype", dtypes.kv}, std::pair{"--activations", dtypes.activations}}) {
    if (!value.empty()) {
      fail("{} {}: applies to a model's files (a .gguf, or a directory with weights); '{}' is a preset or "
           "config.json, counted at its own dtype",
           option, value, model);
    }
  }
  return resolve_model(model);
}

}  // namespace helix::cli
