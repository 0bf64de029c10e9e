#include "stage_device.h"

#include "helix/core/error.h"
#if defined(HELIX_HAS_CUDA)
#include "helix/cuda/cuda_stage_engine.h"
#include "helix/cuda/device.h"
#endif

namespace helix::cli {

StageDevice parse_stage_device(const std::string& text) {
  if (std::optional<DeviceName> device = parse_device_name(text)) return *device;
  fail("--device: '{}' is not a device ({})", text, kDeviceNameForms);
}

void check_stage_device(const StageDevice& device, std::string_view what) {
  if (!device.cuda) return;
  const std::string named = what.empty() ? device.name() : fmt::format("{} {}", what, device.name());
#if defined(HELIX_HAS_CUDA)
  const CudaDevices found = cuda_devices();
  if (found.devices.empty()) fail("{}: no usable GPU here ({})", named, found.why_none);
  if (device.index >= static_cast<int>(found.devices.size())) {
    fail("{}: there is no such GPU here ({} found)", named, found.devices.size());
  }
#else
  fail("{}: this build has no CUDA backend (configure with -DHELIX_CUDA=ON where nvcc is)", named);
#endif
}

std::unique_ptr<Stage> make_stage(ModelFiles model, LayerRange layers, const EngineOptions& options,
                                  const StageDevice& device) {
  if (!device.cuda) return std::make_unique<StageEngine>(std::move(model), layers, options);
#if defined(HELIX_HAS_CUDA)
  CudaEngineOptions cuda;
  cuda.device = device.index;
  cuda.kv = options.kv;
  cuda.largest_step_tokens = options.largest_step_tokens;
  return std::make_unique<CudaStageEngine>(std::move(model), layers, cuda);
#else
  fail("--device {}: this build has no CUDA backend (configure with -DHELIX_CUDA=ON where nvcc is)", device.name());
#endif
}

}  // namespace helix::cli
