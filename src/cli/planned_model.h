// The model a planning command (plan, simulate, flow) plans for. A preset name or a
// config.json is counted as the paper counts it: every weight, KV value and
// activation at the checkpoint's dtype. A model's files (a .gguf, or a directory
// with weights) are counted as helix's runtime serves them (runtime_model_spec.h),
// with the KV cache dtype the workers will be given.
#pragma once

#include <string>

#include "helix/model/model_spec.h"

namespace helix::cli {

// `kv_dtype`: "" (not given: f32, the workers' default), "f32" or "f16"; given with
// a preset or config.json it is an error, since those count KV at their dtype.
ModelSpec planned_model(const std::string& model, const std::string& kv_dtype);

// The help text of a planning command's --kv-dtype.
inline constexpr const char* kPlannedKvDtypeHelp =
    "With model files: what the workers' KV caches store (f32, the default, or f16), so the plan counts their bytes";

}  // namespace helix::cli
