// The model a planning command (plan, simulate, flow) plans for. A preset name or a
// config.json is counted as the paper counts it: every weight, KV value and
// activation at the checkpoint's dtype. A model's files (a .gguf, or a directory
// with weights) are counted as helix's runtime serves them (runtime_model_spec.h),
// with the KV cache dtype and activation dtype the workers will be given.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "helix/engine/model_files.h"
#include "helix/model/model_spec.h"

namespace helix::cli {

// What the workers will store and send: "f32" or "f16"; "" = not given (f32).
struct WorkerDtypes {
  std::string kv;
  std::string activations;
};

// Adds --kv-dtype and --activations to a planning command.
void add_worker_dtype_options(CLI::App* cmd, WorkerDtypes& dtypes);

// Fails when a dtype is given with a preset or config.json, which count theirs at
// the checkpoint's dtype, or when one is not f32 or f16.
ModelSpec planned_model(const std::string& model, const WorkerDtypes& dtypes);

// The spec of a model's files as workers with these dtypes serve it.
ModelSpec served_model_spec(const ModelFiles& files, const WorkerDtypes& dtypes);

}  // namespace helix::cli
