#include "planned_model.h"

#include "helix/core/error.h"
#include "helix/engine/model_files.h"
#include "helix/runtime/runtime_model_spec.h"

namespace helix::cli {

ModelSpec planned_model(const std::string& model, const std::string& kv_dtype) {
  if (holds_model_weights(model)) {
    const KvDtype kv = kv_dtype.empty() ? KvDtype::F32 : parse_kv_dtype(kv_dtype, "--kv-dtype");
    return runtime::runtime_model_spec(open_model(model), kv);
  }
  if (!kv_dtype.empty()) {
    fail("--kv-dtype {}: applies to a model's files (a .gguf, or a directory with weights); '{}' is a preset or "
         "config.json, whose KV is counted at its own dtype",
         kv_dtype, model);
  }
  return resolve_model(model);
}

}  // namespace helix::cli
