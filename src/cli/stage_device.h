// The device a command's stage runs on (--device): "cpu", the CPU engine, or
// "cuda:N", the GPU engine (cuda/), in builds that have the CUDA backend.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "helix/core/device_name.h"
#include "helix/engine/stage.h"
#include "helix/engine/stage_engine.h"

namespace helix::cli {

using StageDevice = DeviceName;

// Fails naming the value for anything but "cpu" and "cuda:N".
StageDevice parse_stage_device(const std::string& text);

// Fails, saying why, unless a stage can run on that device here: a CUDA device in a
// build without the backend, on a machine without a usable GPU, or past the last
// GPU. So a command that hands the device to another process (up) refuses early.
// `what` names where the device came from, at the start of the message ("": the
// message starts with the device's name).
void check_stage_device(const StageDevice& device, std::string_view what = "--device");

// The stage on that device. A CUDA device in a build without the backend fails with
// how to get one; options.threads is the CPU engine's alone.
std::unique_ptr<Stage> make_stage(ModelFiles model, LayerRange layers, const EngineOptions& options,
                                  const StageDevice& device);

}  // namespace helix::cli
